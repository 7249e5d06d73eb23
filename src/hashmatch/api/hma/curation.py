"""HMA's ``/c`` routes: banks, their content, signal and content types.

Database work runs in the thread pool: routes are plain functions, or (those
that take an upload) hand their reads and writes to it.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from hashmatch.api.auth import require_hma
from hashmatch.api.errors import ApiError
from hashmatch.api.hma.hashing import UPLOAD_BODY, hash_submitted, submitted_content
from hashmatch.api.hma.shapes import (
    CONTENT_TYPES,
    NOTE_LIMIT,
    SIGNAL_TYPES,
    bad_request,
    bank_json,
    check_bank_name,
    disable_until_ts,
    disabled_until,
    enabled_from_ratio,
    json_body,
    json_body_doc,
    json_object,
    note_or_none,
    ours,
    signals_json,
    user_metadata,
    with_not_computed,
)
from hashmatch.api.responses import KEYED, hma_error_responses
from hashmatch.api.routing import GuardedRoute
from hashmatch.banks import Banks, ContentInfo
from hashmatch.errors import (
    BankExistsError,
    HashmatchError,
    UnknownBankError,
    UnknownContentError,
)
from hashmatch.fieldlimits import EXTERNAL_ID_CHARS, MAX_ID, check_json, check_text
from hashmatch.hashing import BANK_CROP_VARIANTS
from hashmatch.hashlists import Entry
from hashmatch.signals import get_signal_type
from hashmatch.signals.base import FrameHash
from hashmatch.signals.vpdq_compact import frames_from_compact

router = APIRouter(
    prefix="/c",
    tags=["hma"],
    dependencies=[Depends(require_hma("curate"))],
    route_class=GuardedRoute,
    responses=hma_error_responses(*KEYED, 422),
)
ContentId = Annotated[int, Path(ge=0, le=MAX_ID)]


def _banks(request: Request) -> Banks:
    return Banks(request.app.state.service.database)


def _bank(banks: Banks, name: str) -> dict[str, Any]:
    """The bank as HMA shows it, or HMA's 404."""
    try:
        return bank_json(name, banks.is_enabled(name))
    except UnknownBankError:
        raise ApiError(404, "unknown_bank", f"bank '{name}' not found") from None


def _content(banks: Banks, name: str, content_id: int) -> tuple[dict[str, Any], ContentInfo]:
    """The bank (as ``_bank``) and its content, or HMA's 404 for either."""
    bank = _bank(banks, name)
    try:
        return bank, banks.content(name, content_id)
    except UnknownContentError:
        raise ApiError(404, "unknown_content", f"content '{content_id}' not found") from None


def _note(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad_request("note should be a string")
    return check_text("note", value, max_chars=NOTE_LIMIT)


# -- banks ---------------------------------------------------------------------


class BankCreateRequest(BaseModel):
    name: str
    enabled_ratio: float | None = 1.0
    enabled: bool | None = None


class BankUpdateRequest(BaseModel):
    name: str | None = None
    enabled: bool | None = None
    enabled_ratio: float | None = None


@router.get("/banks", summary="List banks (HMA 2.0)")
def list_banks(request: Request) -> list[dict[str, Any]]:
    return [bank_json(bank.name, bank.enabled) for bank in _banks(request).all()]


@router.post("/banks", summary="Create a bank (HMA 2.0)", status_code=201)
def create_bank(request: Request, body: BankCreateRequest) -> dict[str, Any]:
    check_bank_name(body.name)
    ratio = body.enabled_ratio
    enabled = enabled_from_ratio(ratio) if ratio is not None else bool(body.enabled)
    try:
        created = _banks(request).create(body.name, enabled=enabled)
        return bank_json(created.name, created.enabled)
    except BankExistsError:
        raise ApiError(403, "bank_exists", "Bank already exists") from None


@router.get(
    "/bank/{bank_name}", summary="Show a bank (HMA 2.0)", responses=hma_error_responses(404)
)
def show_bank(request: Request, bank_name: str) -> dict[str, Any]:
    return _bank(_banks(request), bank_name)


@router.put(
    "/bank/{bank_name}",
    summary="Change or rename a bank (HMA 2.0)",
    responses=hma_error_responses(404),
)
def update_bank(request: Request, bank_name: str, body: BankUpdateRequest) -> dict[str, Any]:
    banks = _banks(request)
    try:
        banks.is_enabled(bank_name)
    except UnknownBankError:
        raise ApiError(404, "unknown_bank", "Bank not found") from None
    if body.name is not None:
        check_bank_name(body.name)
    enabled = body.enabled
    if body.enabled_ratio is not None:
        enabled = enabled_from_ratio(body.enabled_ratio)
    try:
        updated = banks.update(bank_name, new_name=body.name, enabled=enabled)
    except BankExistsError:
        raise ApiError(403, "bank_exists", "Bank name already exists") from None
    shown = bank_json(updated.name, updated.enabled)
    if body.enabled is not None and body.enabled_ratio is None:
        # HMA sets the ratio from `enabled` as the integer 1 or 0, and answers with it.
        shown["matching_enabled_ratio"] = int(updated.enabled)
    return shown


@router.delete("/bank/{bank_name}", summary="Delete a bank and its content (HMA 2.0)")
def delete_bank(request: Request, bank_name: str) -> dict[str, str]:
    with contextlib.suppress(UnknownBankError):  # HMA answers "Done" all the same
        _banks(request).delete(bank_name)
    return {"message": "Done"}


# -- content -------------------------------------------------------------------


class BankedContentMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content_id: str | None = None
    content_uri: str | None = None
    extra: Any = Field(None, alias="json")


def _metadata(value: Any) -> BankedContentMetadata | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise bad_request("metadata form field must be valid JSON") from None
    if not isinstance(value, dict):
        raise bad_request("metadata should be a json object")
    value = {key: item for key, item in value.items() if key != "collab"}
    check_json("metadata", value)
    try:
        metadata = BankedContentMetadata.model_validate(value)
    except ValidationError as error:
        raise bad_request(f"Invalid metadata: {error}") from None
    if metadata.content_id is not None:
        check_text(
            "metadata.content_id", metadata.content_id, max_chars=EXTERNAL_ID_CHARS, one_line=True
        )
    return metadata


def _entry(
    signals: dict[str, str],
    note: str,
    metadata: BankedContentMetadata | None,
    frames: list[FrameHash] | None = None,
) -> Entry:
    source_metadata = {}
    if metadata is not None:
        source_metadata = {
            key: value
            for key, value in (("content_uri", metadata.content_uri), ("json", metadata.extra))
            if value is not None
        }
    return Entry(
        {SIGNAL_TYPES[name]: value for name, value in signals.items() if name != "vpdq"},
        metadata.content_id if metadata else None,
        [],
        note,
        source_metadata,
        frames or [],
    )


def _added(request: Request, bank_name: str, entry: Entry) -> dict[str, Any]:
    """Add through the server's group commit (adds arriving together share a
    transaction); HMA answers with the content's id either way."""
    banks = _banks(request)
    try:
        content_id = request.app.state.service.adds.add(bank_name, entry, source="hma-api")
    except UnknownBankError:  # deleted since it was looked up
        _bank(banks, bank_name)
        raise
    if content_id is None:  # the bank has it already: HMA's callers want its id
        content_id = banks.existing_content(bank_name, entry)
    return {"id": content_id, "signals": signals_json(entry.signals, entry.frames)}


EXPECTS_OBJECT = "this endpoint expects a json object payload"
OPTIONAL_OBJECT = json_body(required=False, not_an_object=EXPECTS_OBJECT)
REQUIRED_OBJECT = json_body(required=True, not_an_object=EXPECTS_OBJECT)


@router.post(
    "/bank/{bank_name}/content",
    summary="Add content by URL or upload (HMA 2.0)",
    openapi_extra=UPLOAD_BODY,
    responses=hma_error_responses(404, 413),
)
async def add_content(
    request: Request,
    bank_name: str,
    url: str | None = Query(None, max_length=4096),
    content_type: str | None = Query(None),
    types: str | None = Query(None),
) -> dict[str, Any]:
    banks = _banks(request)
    await run_in_threadpool(_bank, banks, bank_name)
    features = (await run_in_threadpool(banks.get, bank_name)).local_features
    body = await json_object(request, required=False, not_an_object=EXPECTS_OBJECT)
    async with submitted_content(request, url, content_type) as submitted:
        extras = body or submitted.fields
        metadata = await run_in_threadpool(_metadata, extras.get("metadata"))
        note = _note(extras.get("note"))
        signals, result = await hash_submitted(
            submitted,
            types,
            crop_variants=BANK_CROP_VARIANTS,
            image_variants=True,
            local_features=features,
        )
    if not signals:
        raise bad_request("No signals given")
    for name, value in signals.items():
        if not value:
            raise bad_request(f"Invalid {name} signal: PDQ quality is below 50")
    frames = result.frames.get("vpdq") if "vpdq" in signals else None
    entry = replace(
        _entry(signals, note, metadata, frames),
        variants=result.variants,
        features=result.features,
    )
    added = await run_in_threadpool(_added, request, bank_name, entry)
    return with_not_computed(added, result)


SIGNAL_BODY = json_body_doc(
    "Signal type -> hash, and an optional note.",
    {"type": "string"},
    {"pdq": "f" * 64, "note": "from a report"},
)


@router.post(
    "/bank/{bank_name}/signal",
    summary="Add content by its hashes (HMA 2.0)",
    openapi_extra=SIGNAL_BODY,
    responses=hma_error_responses(404, 413),
)
def add_signals(
    request: Request,
    bank_name: str,
    body: dict[str, Any] = Depends(OPTIONAL_OBJECT),
) -> dict[str, Any]:
    if not request.app.state.service.bank_exists(bank_name):
        _bank(_banks(request), bank_name)  # HMA's 404
    note = _note(body.pop("note", None))
    if not body:
        raise bad_request("No signals given")
    signals: dict[str, str] = {}
    frames = None
    for name, value in body.items():
        if name not in SIGNAL_TYPES:
            raise bad_request(f"No such signal type {name}")
        if not isinstance(value, str):
            raise bad_request(f"Invalid {name} signal: expected a string")
        try:
            if name == "vpdq":
                frames = frames_from_compact(value)
            else:
                signals[name] = get_signal_type(ours(name)).parse(value)
        except (HashmatchError, ValueError) as error:
            raise bad_request(f"Invalid {name} signal: {error}") from None
    return _added(request, bank_name, _entry(signals, note, None, frames))


@router.get(
    "/bank/{bank_name}/content/{content_id}",
    summary="Show content (HMA 2.0)",
    responses=hma_error_responses(404),
)
def show_content(
    request: Request,
    bank_name: str,
    content_id: ContentId,
    include_signals: str = Query("false"),
    include_metadata: str = Query("true"),
) -> dict[str, Any]:
    bank, content = _content(_banks(request), bank_name, content_id)
    record: dict[str, Any] = {
        "bank": bank,
        "disable_until_ts": disable_until_ts(content),
        "id": content.id,
        "original_media_uri": None,
    }
    metadata = user_metadata(content)
    if metadata is not None and include_metadata.lower() == "true":
        record["metadata"] = {"collab": None, **metadata}
    if content.note:
        record["note"] = content.note
    if include_signals.lower() == "true":
        record["signals"] = signals_json(content.signals, content.frames)
    return record


def _disable_until(value: Any) -> datetime | None:
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise bad_request(f"Invalid int: {value!r}") from None
    if number < 0:
        raise bad_request("disable_until_ts must be a non-negative integer")
    if number > time.time() + timedelta(days=5 * 365).total_seconds():
        raise bad_request("disable_until_ts must be less than 5 years in the future")
    return disabled_until(number)


@router.put(
    "/bank/{bank_name}/content/{content_id}",
    summary="Change content (HMA 2.0)",
    responses=hma_error_responses(404, 413, 415),
)
def update_content(
    request: Request,
    bank_name: str,
    content_id: ContentId,
    body: dict[str, Any] = Depends(REQUIRED_OBJECT),
) -> Any:
    banks = _banks(request)
    bank, _ = _content(banks, bank_name, content_id)
    if "disable_until_ts" in body:
        until = _disable_until(body["disable_until_ts"])
        banks.set_disabled(bank_name, [content_id], until)
    if "note" in body:
        banks.update_content(bank_name, content_id, note=_note(body["note"]))
    content = banks.content(bank_name, content_id)
    return {
        "bank": bank,
        "collab_metadata": {},
        "disable_until_ts": disable_until_ts(content),
        "id": content.id,
        "note": note_or_none(content.note),
        "original_media_uri": None,
        "user_metadata": user_metadata(content),
    }


@router.delete(
    "/bank/{bank_name}/content/{content_id}",
    summary="Delete content (HMA 2.0)",
    responses=hma_error_responses(404),
)
def delete_content(request: Request, bank_name: str, content_id: ContentId) -> dict[str, int]:
    banks = _banks(request)
    _bank(banks, bank_name)
    return {"deleted": banks.remove_content(bank_name, [content_id])}


# -- types ---------------------------------------------------------------------


@router.get("/signal_type", summary="Signal types (HMA 2.0)")
def list_signal_types() -> list[dict[str, Any]]:
    return [{"enabled_ratio": 1.0, "name": name} for name in SIGNAL_TYPES]


@router.get("/content_type", summary="Content types (HMA 2.0)")
def list_content_types() -> list[dict[str, Any]]:
    return [{"enabled": True, "name": name} for name in CONTENT_TYPES]
