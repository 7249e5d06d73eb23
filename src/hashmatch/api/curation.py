"""Curation under ``/v1``: banks, their content, hash-list import and export.

Every route needs the ``curate`` scope.  Imports are all-or-nothing and
idempotent, exactly as ``hashmatch bank import``; a list is parsed and
imported in a child process of the worker (``api/imports.py``), never on
the event loop nor in the worker's own threads.  Text and JSON a
client stores are checked by hashmatch.fieldlimits, ids fit the database's.
"""

from __future__ import annotations

import pathlib
import tempfile
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, UploadFile
from fastapi.responses import PlainTextResponse
from pydantic import AfterValidator, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hashmatch.api.auth import require
from hashmatch.api.errors import ApiError
from hashmatch.api.response_models import (
    Bank,
    BankDeleted,
    BankList,
    Changed,
    Comparison,
    Content,
    ContentAdded,
    ContentDeleted,
    ContentPage,
    Imported,
)
from hashmatch.api.responses import KEYED, error_responses, plain_text
from hashmatch.api.routing import GuardedRoute
from hashmatch.api.service import Service
from hashmatch.banks import BANK_KINDS, Banks, ImportResult
from hashmatch.fieldlimits import (
    DESCRIPTION_CHARS,
    EXTERNAL_ID_CHARS,
    MAX_ID,
    NOTE_CHARS,
    check_json,
    check_text,
)
from hashmatch.hashlists import Entry, ListFormat, entries_text
from hashmatch.signals import get_signal_type
from hashmatch.signals.quality import quality_warnings
from hashmatch.store.models import as_utc

router = APIRouter(
    prefix="/v1",
    dependencies=[Depends(require("curate"))],
    tags=["curation"],
    route_class=GuardedRoute,
    responses=error_responses(*KEYED, 422),
)

Description = Annotated[
    str,
    Field(max_length=DESCRIPTION_CHARS),
    AfterValidator(partial(check_text, "description", max_chars=DESCRIPTION_CHARS)),
]
Note = Annotated[
    str,
    Field(max_length=NOTE_CHARS),
    AfterValidator(partial(check_text, "note", max_chars=NOTE_CHARS)),
]
ExternalId = Annotated[
    str,
    Field(max_length=EXTERNAL_ID_CHARS),
    AfterValidator(partial(check_text, "external_id", max_chars=EXTERNAL_ID_CHARS, one_line=True)),
]
Labels = Annotated[list[str], AfterValidator(partial(check_json, "labels"))]
Metadata = Annotated[dict[str, Any], AfterValidator(partial(check_json, "source_metadata"))]
Id = Annotated[int, Field(ge=0, le=MAX_ID)]
ContentId = Annotated[int, Path(ge=0, le=MAX_ID)]


def _banks(request: Request) -> Banks:
    return Banks(request.app.state.service.database)


IMAGE_VARIANTS = "Images added by hashing also store their crops and small rotations"
LOCAL_FEATURES = (
    "Images added by hashing also store their local features, and image lookups run the "
    "second stage (local features) in this bank"
)
MIN_INLIERS = "Verified inliers a local-features match needs (8-200"


class BankCreate(BaseModel):
    name: str = Field(..., max_length=100)
    description: Description = ""
    kind: str = Field("match", description=f"One of {', '.join(BANK_KINDS)}.")
    labels: Labels = []
    thresholds: dict[str, int] = {}
    enabled: bool = True
    image_variants: bool | None = Field(
        None, description=f"{IMAGE_VARIANTS} (default: on for match banks, off for allowlists)."
    )
    local_features: bool = Field(False, description=f"{LOCAL_FEATURES} (default: off).")
    min_inliers: int | None = Field(None, description=f"{MIN_INLIERS}; default: the library's).")


class BankUpdate(BaseModel):
    name: str | None = Field(None, max_length=100)
    description: Description | None = None
    enabled: bool | None = None
    labels: Labels | None = None
    thresholds: dict[str, int] | None = None
    image_variants: bool | None = Field(None, description=f"{IMAGE_VARIANTS} (from now on).")
    local_features: bool | None = Field(None, description=f"{LOCAL_FEATURES} (from now on).")
    min_inliers: int | None = Field(None, description=f"{MIN_INLIERS}; 0: the default).")


class ContentCreate(BaseModel):
    signals: dict[str, str] = Field(..., description="Signal type -> hash.")
    quality: dict[str, Annotated[int, Field(ge=0, le=100)]] = Field(
        {}, description="Signal type -> quality, as /v1/hash gives it (to warn if too low)."
    )
    external_id: ExternalId | None = None
    labels: Labels = []
    note: Note = ""
    source_metadata: Metadata = {}


class ContentUpdate(BaseModel):
    note: Note | None = None
    labels: Labels | None = None
    source_metadata: Metadata | None = None


class ContentSwitch(BaseModel):
    content_ids: list[Id]
    until: datetime | None = Field(None, description="Disable until (default: for good).")


@router.get("/banks", summary="List banks", response_model=BankList)
def list_banks(request: Request) -> dict[str, Any]:
    return {"banks": [info.to_json() for info in _banks(request).all()]}


@router.post(
    "/banks",
    summary="Create a bank",
    status_code=201,
    response_model=Bank,
    responses=error_responses(409),
)
def create_bank(request: Request, body: BankCreate) -> dict[str, Any]:
    return _banks(request).create(**body.model_dump()).to_json()


@router.get(
    "/banks/{name}", summary="Show a bank", response_model=Bank, responses=error_responses(404)
)
def show_bank(request: Request, name: str) -> dict[str, Any]:
    return _banks(request).get(name).to_json()


@router.patch(
    "/banks/{name}",
    summary="Change a bank",
    response_model=Bank,
    responses=error_responses(404, 409),
)
def update_bank(request: Request, name: str, body: BankUpdate) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    if "name" in changes:
        changes["new_name"] = changes.pop("name")
    return _banks(request).update(name, **changes).to_json()


@router.delete(
    "/banks/{name}",
    summary="Delete a bank and its content",
    response_model=BankDeleted,
    responses=error_responses(404),
)
def delete_bank(request: Request, name: str) -> dict[str, str]:
    _banks(request).delete(name)
    return {"deleted": name}


@router.post(
    "/banks/{name}/content",
    summary="Add one content by its hashes",
    status_code=201,
    response_model=ContentAdded,
    responses=error_responses(404),
)
def add_content(request: Request, name: str, body: ContentCreate) -> dict[str, Any]:
    if not body.signals:
        raise ApiError(400, "invalid_request", "signals must name at least one hash")
    signals = {kind: get_signal_type(kind).parse(value) for kind, value in body.signals.items()}
    warnings = quality_warnings(
        {kind: body.quality[kind] for kind in signals if kind in body.quality}
    )
    entry = Entry(signals, body.external_id, body.labels, body.note, body.source_metadata)
    content_id = request.app.state.service.adds.add(name, entry, source="api")
    return {"content_id": content_id, "skipped": content_id is None, "warnings": warnings}


@router.get(
    "/banks/{name}/content",
    summary="List a bank's content ids, a page at a time",
    response_model=ContentPage,
    responses=error_responses(404),
)
def list_content(
    request: Request,
    name: str,
    after: int = Query(0, ge=0, le=MAX_ID, description="Content ids above this one."),
    limit: int = Query(100, ge=1, le=1000, description="At most this many."),
) -> dict[str, Any]:
    """Content ids and external ids, in id order (what disable and enable take)."""
    page = _banks(request).content_ids(name, after=after, limit=limit)
    return {
        "content": [{"content_id": cid, "external_id": eid} for cid, eid in page],
        "next_after": page[-1][0] if len(page) == limit else None,
    }


@router.get(
    "/banks/{name}/content/{content_id}",
    summary="Show one content",
    response_model=Content,
    responses=error_responses(404),
)
def show_content(request: Request, name: str, content_id: ContentId) -> dict[str, Any]:
    return _banks(request).content(name, content_id).to_json()


@router.patch(
    "/banks/{name}/content/{content_id}",
    summary="Change what is known of a content",
    response_model=Content,
    responses=error_responses(404),
)
def update_content(
    request: Request, name: str, content_id: ContentId, body: ContentUpdate
) -> dict[str, Any]:
    return _banks(request).update_content(name, content_id, **body.model_dump()).to_json()


@router.delete(
    "/banks/{name}/content/{content_id}",
    summary="Delete one content",
    response_model=ContentDeleted,
    responses=error_responses(404),
)
def delete_content(request: Request, name: str, content_id: ContentId) -> dict[str, Any]:
    banks = _banks(request)
    banks.content(name, content_id)  # 404 for content the bank does not have
    return {"deleted": banks.remove_content(name, [content_id])}


@router.post(
    "/banks/{name}/import",
    summary="Import a hash list (all or nothing)",
    response_model=Imported,
    responses=error_responses(404, 413),
)
async def import_list(
    request: Request,
    name: str,
    file: UploadFile,
    list_format: ListFormat = Query(ListFormat.csv, alias="format"),
) -> dict[str, int]:
    imported = await import_upload(request.app.state.service, name, file, list_format)
    return imported.to_json()


async def import_upload(
    service: Service, name: str, file: UploadFile, list_format: ListFormat
) -> ImportResult:
    """Import an uploaded hash list into bank ``name`` in the import process
    (the API's route and the web UI's import form)."""
    data = await file.read(service.settings.max_upload_bytes + 1)
    if len(data) > service.settings.max_upload_bytes:
        raise ApiError(
            413,
            "upload_too_large",
            f"lists are limited to {service.settings.max_upload_bytes} bytes",
        )
    source = file.filename and check_text("file name", file.filename, max_chars=200)
    with tempfile.TemporaryDirectory(prefix="hashmatch-import-") as folder:
        path = pathlib.Path(folder) / "list"
        await run_in_threadpool(path.write_bytes, data)
        del data
        imported = await service.imports.run(name, path, list_format, source or None)
    service.refresh_soon()  # this worker's next lookup sees the import
    return imported


@router.get(
    "/banks/{name}/export",
    summary="Export a bank as a hash list",
    response_class=Response,
    responses={**plain_text("The hash list."), **error_responses(404)},
)
def export_list(
    request: Request, name: str, list_format: ListFormat = Query(ListFormat.csv, alias="format")
) -> PlainTextResponse:
    banks = _banks(request)
    banks.get(name)
    return PlainTextResponse(entries_text(banks.export(name), list_format))


@router.post(
    "/banks/{name}/content/disable",
    summary="Stop content from matching",
    response_model=Changed,
    responses=error_responses(404),
)
def disable_content(request: Request, name: str, body: ContentSwitch) -> dict[str, Any]:
    until = as_utc(body.until) if body.until else datetime(9999, 12, 31, tzinfo=UTC)
    changed = _banks(request).set_disabled(name, body.content_ids, until)
    return {"changed": changed}


@router.post(
    "/banks/{name}/content/enable",
    summary="Let disabled content match again",
    response_model=Changed,
    responses=error_responses(404),
)
def enable_content(request: Request, name: str, body: ContentSwitch) -> dict[str, Any]:
    return {"changed": _banks(request).set_disabled(name, body.content_ids, None)}


@router.get("/compare", summary="Distance between two hashes", response_model=Comparison)
def compare(
    signal_type: str, a: str = Query(..., max_length=256), b: str = Query(..., max_length=256)
) -> dict[str, Any]:
    kind = get_signal_type(signal_type)
    first, second = kind.parse(a), kind.parse(b)
    distance = kind.distance(first, second)
    return {
        "signal_type": signal_type,
        "distance": distance,
        "threshold": kind.default_threshold,
        "match": distance <= kind.default_threshold,
    }
