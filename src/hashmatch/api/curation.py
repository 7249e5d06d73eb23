"""Curation under ``/v1``: banks, their content, hash-list import and export.

Every route needs the ``curate`` scope.  Imports are all-or-nothing and
idempotent, exactly as ``hashmatch bank import``.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, UploadFile
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from hashmatch.api.auth import require
from hashmatch.api.errors import ApiError
from hashmatch.banks import BANK_KINDS, Banks
from hashmatch.hashlists import Entry, ListFormat, entries_text, read_entries
from hashmatch.signals import get_signal_type
from hashmatch.store.models import as_utc

router = APIRouter(prefix="/v1", dependencies=[Depends(require("curate"))], tags=["curation"])


def _banks(request: Request) -> Banks:
    return Banks(request.app.state.service.database)


class BankCreate(BaseModel):
    name: str = Field(..., max_length=100)
    description: str = ""
    kind: str = Field("match", description=f"One of {', '.join(BANK_KINDS)}.")
    labels: list[str] = []
    thresholds: dict[str, int] = {}
    enabled: bool = True


class BankUpdate(BaseModel):
    name: str | None = Field(None, max_length=100)
    description: str | None = None
    enabled: bool | None = None
    labels: list[str] | None = None
    thresholds: dict[str, int] | None = None


class ContentCreate(BaseModel):
    signals: dict[str, str] = Field(..., description="Signal type -> hash.")
    external_id: str | None = Field(None, max_length=200)
    labels: list[str] = []
    note: str = ""
    source_metadata: dict[str, Any] = {}


class ContentUpdate(BaseModel):
    note: str | None = None
    labels: list[str] | None = None
    source_metadata: dict[str, Any] | None = None


class ContentSwitch(BaseModel):
    content_ids: list[int]
    until: datetime | None = Field(None, description="Disable until (default: for good).")


@router.get("/banks", summary="List banks")
def list_banks(request: Request) -> dict[str, Any]:
    return {"banks": [info.to_json() for info in _banks(request).all()]}


@router.post("/banks", summary="Create a bank", status_code=201)
def create_bank(request: Request, body: BankCreate) -> dict[str, Any]:
    return _banks(request).create(**body.model_dump()).to_json()


@router.get("/banks/{name}", summary="Show a bank")
def show_bank(request: Request, name: str) -> dict[str, Any]:
    return _banks(request).get(name).to_json()


@router.patch("/banks/{name}", summary="Change a bank")
def update_bank(request: Request, name: str, body: BankUpdate) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    if "name" in changes:
        changes["new_name"] = changes.pop("name")
    return _banks(request).update(name, **changes).to_json()


@router.delete("/banks/{name}", summary="Delete a bank and its content")
def delete_bank(request: Request, name: str) -> dict[str, str]:
    _banks(request).delete(name)
    return {"deleted": name}


@router.post("/banks/{name}/content", summary="Add one content by its hashes", status_code=201)
def add_content(request: Request, name: str, body: ContentCreate) -> dict[str, Any]:
    if not body.signals:
        raise ApiError(400, "invalid_request", "signals must name at least one hash")
    signals = {kind: get_signal_type(kind).parse(value) for kind, value in body.signals.items()}
    entry = Entry(signals, body.external_id, body.labels, body.note, body.source_metadata)
    content_id = _banks(request).add(name, entry, source="api")
    return {"content_id": content_id, "skipped": content_id is None}


@router.get("/banks/{name}/content/{content_id}", summary="Show one content")
def show_content(request: Request, name: str, content_id: int) -> dict[str, Any]:
    return _banks(request).content(name, content_id).to_json()


@router.patch("/banks/{name}/content/{content_id}", summary="Change what is known of a content")
def update_content(
    request: Request, name: str, content_id: int, body: ContentUpdate
) -> dict[str, Any]:
    return _banks(request).update_content(name, content_id, **body.model_dump()).to_json()


@router.delete("/banks/{name}/content/{content_id}", summary="Delete one content")
def delete_content(request: Request, name: str, content_id: int) -> dict[str, Any]:
    banks = _banks(request)
    banks.content(name, content_id)  # 404 for content the bank does not have
    return {"deleted": banks.remove_content(name, [content_id])}


@router.post("/banks/{name}/import", summary="Import a hash list (all or nothing)")
async def import_list(
    request: Request,
    name: str,
    file: UploadFile,
    list_format: ListFormat = Query(ListFormat.csv, alias="format"),
) -> dict[str, int]:
    service = request.app.state.service
    data = await file.read(service.settings.max_upload_bytes + 1)
    if len(data) > service.settings.max_upload_bytes:
        raise ApiError(
            413,
            "upload_too_large",
            f"lists are limited to {service.settings.max_upload_bytes} bytes",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_list", "the list is not UTF-8 text") from None
    entries = read_entries(io.StringIO(text, newline=""), list_format, file.filename or "list")
    return _banks(request).import_entries(name, entries, source=file.filename).to_json()


@router.get("/banks/{name}/export", summary="Export a bank as a hash list")
def export_list(
    request: Request, name: str, list_format: ListFormat = Query(ListFormat.csv, alias="format")
) -> PlainTextResponse:
    banks = _banks(request)
    banks.get(name)
    return PlainTextResponse(entries_text(banks.export(name), list_format))


@router.post("/banks/{name}/content/disable", summary="Stop content from matching")
def disable_content(request: Request, name: str, body: ContentSwitch) -> dict[str, Any]:
    until = as_utc(body.until) if body.until else datetime(9999, 12, 31, tzinfo=UTC)
    changed = _banks(request).set_disabled(name, body.content_ids, until)
    return {"changed": changed}


@router.post("/banks/{name}/content/enable", summary="Let disabled content match again")
def enable_content(request: Request, name: str, body: ContentSwitch) -> dict[str, Any]:
    return {"changed": _banks(request).set_disabled(name, body.content_ids, None)}


@router.get("/compare", summary="Distance between two hashes")
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
