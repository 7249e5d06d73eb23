"""HMA's ``/h`` routes, and the content handling ``/m`` and ``/c`` share with them.

Content comes as a URL (``url=``, with an optional ``content_type=``, else
the download's Content-Type decides) or as one multipart file whose field
name is the content type (``photo=@cat.jpg``).  ``types=`` narrows the
signal types computed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from hashmatch.api.auth import require_hma
from hashmatch.api.content import ReceivedFile, hash_received, hashed, received_file
from hashmatch.api.hma.shapes import (
    CONTENT_TYPES,
    SIGNAL_TYPES,
    bad_request,
    with_not_computed,
)
from hashmatch.api.responses import KEYED, hma_error_responses
from hashmatch.api.routing import GuardedRoute
from hashmatch.hashing import FileHashes
from hashmatch.pdq import MIN_MATCH_QUALITY
from hashmatch.signals.vpdq_compact import compact_frames

router = APIRouter(
    prefix="/h",
    tags=["hma"],
    route_class=GuardedRoute,
    responses=hma_error_responses(*KEYED, 413, 422),
)

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "description": "Exactly one file; its field name is the content type.",
                    "properties": {
                        name: {"type": "string", "format": "binary"} for name in CONTENT_TYPES
                    },
                }
            }
        }
    }
}


@dataclass(frozen=True)
class Submitted:
    """Content a request brought, saved, with the content type it was given as."""

    received: ReceivedFile
    content_type: str
    #: The multipart form's other fields (empty for a URL).
    fields: dict[str, str]


@asynccontextmanager
async def submitted_content(
    request: Request, url: str | None, content_type: str | None
) -> AsyncIterator[Submitted]:
    service = request.app.state.service
    if url is not None:
        if content_type is not None:
            _check_content_type(content_type)
        async with received_file(service, url=url) as received:
            yield Submitted(received, content_type or _inferred(received.content_type), {})
        return
    async with request.form() as form:
        files = [(name, value) for name, value in form.multi_items() if not isinstance(value, str)]
        if not files:
            raise bad_request("Missing multipart/form-data file upload")
        if len(files) > 1:
            raise bad_request("Only one file allowed per request")
        [(field, upload)] = files
        _check_content_type(field)
        fields = {name: value for name, value in form.multi_items() if isinstance(value, str)}
        async with received_file(service, upload=upload) as received:
            yield Submitted(received, field, fields)


def _check_content_type(name: str) -> None:
    if name not in CONTENT_TYPES:
        raise bad_request(f"no such content_type: '{name}'")


def _inferred(mime: str) -> str:
    if mime.startswith("image"):
        return "photo"
    if mime.startswith("video"):
        return "video"
    raise bad_request(
        f"unsupported url ContentType: '{mime}', if you know the expected type, "
        "provide it with the content_type query param"
    )


def selected_types(content_type: str, types: str | None) -> tuple[str, ...]:
    """The HMA signal types to compute: the content type's, narrowed by ``types=``."""
    available = CONTENT_TYPES[content_type]
    if types is None:
        return available
    names = tuple(name.strip() for name in types.split(",") if name.strip())
    if not names:
        raise bad_request("empty signal type selection")
    for name in names:
        if name not in available:
            raise bad_request(f"signal type '{name}' doesn't exist or is disabled")
    return names


async def hash_submitted(
    submitted: Submitted,
    types: str | None,
    *,
    dihedral: bool = False,
    crop_variants: tuple[float, ...] = (),
    image_variants: bool = False,
    query_cleanup: bool = False,
    local_features: bool = False,
    feature_query: bool = False,
) -> tuple[dict[str, str], FileHashes]:
    """HMA's hashes of the content (a PDQ of quality below 50 is ""), and ours.

    A video whose vPDQ cannot be computed (FFmpeg cannot read it, or it is
    over a limit) gets its exact hashes all the same, as HMA's clients
    expect an MD5 of any bytes, and ``result.not_computed`` says why."""
    wanted = selected_types(submitted.content_type, types)
    result = await hash_received(
        submitted.received,
        dihedral=dihedral,
        signal_types=tuple(SIGNAL_TYPES[name] for name in wanted),
        crop_variants=crop_variants,
        image_variants=image_variants,
        query_cleanup=query_cleanup,
        local_features=local_features,
        feature_query=feature_query,
    )
    if result.error is not None and "vpdq" in wanted and len(wanted) > 1:
        why = result.error
        wanted = tuple(name for name in wanted if name != "vpdq")
        exact = tuple(SIGNAL_TYPES[name] for name in wanted)
        result = await hashed(submitted.received, dihedral=False, signal_types=exact)
        result.not_computed[SIGNAL_TYPES["vpdq"]] = why
    elif result.error is not None:
        raise bad_request(result.error)
    signals = {}
    for name in wanted:
        if name == "vpdq":
            signals[name] = compact_frames(result.frames.get("vpdq", []))
            continue
        value = result.signals[SIGNAL_TYPES[name]]
        quality = result.quality.get(SIGNAL_TYPES[name])
        signals[name] = "" if quality is not None and quality < MIN_MATCH_QUALITY else value
    return signals, result


@router.get("/hash", summary="Hash the content at a URL (HMA 2.0)")
async def hash_url(
    request: Request,
    url: str = Query(..., max_length=4096),
    content_type: str | None = Query(None, description="photo or video"),
    types: str | None = Query(None, description="Comma-separated signal types."),
    _key: Any = Depends(require_hma("hash")),
) -> dict[str, Any]:
    async with submitted_content(request, url, content_type) as submitted:
        signals, result = await hash_submitted(submitted, types)
    return with_not_computed(signals, result)


@router.post("/hash", summary="Hash an uploaded file (HMA 2.0)", openapi_extra=UPLOAD_BODY)
async def hash_upload(
    request: Request,
    types: str | None = Query(None, description="Comma-separated signal types."),
    _key: Any = Depends(require_hma("hash")),
) -> dict[str, Any]:
    async with submitted_content(request, None, None) as submitted:
        signals, result = await hash_submitted(submitted, types)
    return with_not_computed(signals, result)
