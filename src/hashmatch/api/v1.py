"""The versioned API: hashing and matching under ``/v1``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, UploadFile
from pydantic import BaseModel, Field

from hashmatch.api.auth import require
from hashmatch.api.errors import ApiError
from hashmatch.api.service import Service
from hashmatch.hashing import FileHashes, HashRequest, hash_file
from hashmatch.matching import Match
from hashmatch.signals import get_signal_type

router = APIRouter(prefix="/v1")
CHUNK = 1024 * 1024


def _service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


async def _saved_upload(upload: UploadFile, limit: int, folder: str) -> Path:
    """The upload written to a file, refusing more than ``limit`` bytes (413)."""
    path = Path(folder) / "upload"
    size = 0
    with path.open("wb") as stream:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "upload_too_large", f"uploads are limited to {limit} bytes")
            stream.write(chunk)
    return path


def _count(request: Request, matches: list[Match]) -> None:
    for match in matches:
        request.app.state.metrics.matches.labels(match.bank).inc()


def _hashed(path: Path, name: str, dihedral: bool) -> FileHashes:
    """Hash a saved upload; a file that cannot be hashed is a 400 naming the upload."""
    result = hash_file(path, HashRequest(dihedral=dihedral))
    if not result.ok:
        raise ApiError(400, "bad_media", (result.error or "").replace(str(path), name))
    return result


def _record(result: FileHashes) -> dict[str, Any]:
    record = result.to_json()
    record.pop("path")
    return record


@router.post("/hash", summary="Hash an uploaded file")
async def hash_upload(
    request: Request,
    file: UploadFile,
    dihedral: bool = Query(False, description="Also return the 8 rotated/flipped PDQ hashes."),
    _key: Any = Depends(require("hash")),
) -> dict[str, Any]:
    """Every signal that applies to the file (MD5, SHA-256, and PDQ for images)."""
    service = _service(request)
    with tempfile.TemporaryDirectory(prefix="hashmatch-upload-") as folder:
        path = await _saved_upload(file, service.limits.max_upload_bytes, folder)
        return _record(_hashed(path, file.filename or "upload", dihedral))


@router.get("/lookup", summary="Match one hash")
def lookup(
    request: Request,
    signal_type: str = Query(..., description="pdq, md5 or sha256"),
    signal: str = Query(..., description="The hash, in the type's text form."),
    bank: list[str] | None = Query(None, description="Only these banks."),
    _key: Any = Depends(require("match")),
) -> dict[str, Any]:
    value = get_signal_type(signal_type).parse(signal)
    matcher = _service(request).matcher()
    matches = matcher.match_hashes({signal_type: [value]}, banks=bank)
    _count(request, matches)
    return {"matches": [match.to_json() for match in matches]}


class HashQuery(BaseModel):
    signal_type: str = Field(..., max_length=32)
    signal: str = Field(..., max_length=256)


class BatchLookup(BaseModel):
    hashes: list[HashQuery]
    banks: list[str] | None = None


@router.post("/lookup", summary="Match a batch of hashes")
def lookup_batch(
    request: Request, body: BatchLookup, _key: Any = Depends(require("match"))
) -> dict[str, Any]:
    service = _service(request)
    if len(body.hashes) > service.limits.max_batch:
        raise ApiError(
            413, "batch_too_large", f"at most {service.limits.max_batch} hashes per request"
        )
    parsed = [(q.signal_type, get_signal_type(q.signal_type).parse(q.signal)) for q in body.hashes]
    found = service.matcher().match_many(parsed, banks=body.banks)
    for matches in found:
        _count(request, matches)
    results = [
        {"signal_type": kind, "signal": value, "matches": [m.to_json() for m in matches]}
        for (kind, value), matches in zip(parsed, found, strict=True)
    ]
    return {"results": results}


@router.post("/match", summary="Hash an uploaded file and match it")
async def match_upload(
    request: Request,
    file: UploadFile,
    bank: list[str] | None = Query(None, description="Only these banks."),
    _key: Any = Depends(require("match")),
) -> dict[str, Any]:
    """The file's signals and its matches (PDQ with its 8 rotations and flips)."""
    service = _service(request)
    matcher = service.matcher()
    with tempfile.TemporaryDirectory(prefix="hashmatch-upload-") as folder:
        path = await _saved_upload(file, service.limits.max_upload_bytes, folder)
        result = _hashed(path, file.filename or "upload", dihedral=True)
        matches = matcher.match_result(result, banks=bank)
    _count(request, matches)
    record = _record(result)
    record.pop("pdq_dihedral", None)
    return {**record, "matches": [match.to_json() for match in matches]}
