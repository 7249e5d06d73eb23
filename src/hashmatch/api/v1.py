"""The versioned API: hashing and matching under ``/v1``.

Lookups are plain functions, which FastAPI runs in its thread pool: the
matcher may read the change log first, and nothing that waits on the
database may hold the event loop.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hashmatch.api.auth import require
from hashmatch.api.content import hashed, received_file
from hashmatch.api.errors import ApiError
from hashmatch.api.response_models import BatchMatches, Hashes, MatchedFile, Matches
from hashmatch.api.responses import KEYED, error_responses
from hashmatch.api.routing import GuardedRoute
from hashmatch.api.service import Service
from hashmatch.errors import UnknownBankError
from hashmatch.hashing import FileHashes
from hashmatch.matching import Match
from hashmatch.reporting.transparency.counts import LOOKUPS
from hashmatch.signals import TextSearchSignalType, parse_query

router = APIRouter(prefix="/v1", route_class=GuardedRoute, responses=error_responses(*KEYED, 422))

URL_HELP = "Fetch the content from this URL instead (setting url_fetch; see docs/settings.md)."
DIHEDRAL_HELP = "Also return the 8 rotated/flipped PDQ hashes."
BANK_HELP = "Only these banks (404 if one does not exist)."
#: The longest signal a query gives: a keyword query is a message's text.
QUERY_CHARS = TextSearchSignalType.max_text_chars


def _service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def _count(request: Request, matches: list[Match]) -> None:
    """One lookup answered: counted for transparency reports, its matches for metrics."""
    _service(request).usage.add(LOOKUPS)
    for match in matches:
        request.app.state.metrics.matches.labels(match.bank).inc()


def _check_banks(service: Service, names: list[str] | None) -> None:
    """A 404 (UnknownBankError) for a bank that does not exist, as on the bank
    routes, rather than a lookup that finds nothing in it.  It may ask the
    database: call it in the thread pool."""
    for name in names or ():
        if not service.bank_exists(name):
            raise UnknownBankError(name)


def _record(result: FileHashes) -> dict[str, Any]:
    record = result.to_json()
    record.pop("path")
    return record


async def _hash(request: Request, file: UploadFile | None, url: str | None, dihedral: bool) -> Any:
    async with received_file(_service(request), upload=file, url=url) as received:
        return _record(await hashed(received, dihedral=dihedral))


async def _match(
    request: Request, file: UploadFile | None, url: str | None, bank: list[str] | None
) -> dict[str, Any]:
    await run_in_threadpool(_check_banks, _service(request), bank)
    matcher = await run_in_threadpool(_service(request).matcher)
    async with received_file(_service(request), upload=file, url=url) as received:
        result = await hashed(
            received,
            dihedral=True,
            query_cleanup=_service(request).settings.match_query_cleanup,
            feature_query=bool(matcher.features),
        )
    matches = await run_in_threadpool(matcher.match_result, result, banks=bank)
    _count(request, matches)
    record = _record(result)
    record.pop("pdq_dihedral", None)
    return {**record, "matches": [match.to_json() for match in matches]}


@router.post(
    "/hash",
    summary="Hash an uploaded file",
    response_model=Hashes,
    responses=error_responses(413),
)
async def hash_upload(
    request: Request,
    file: UploadFile,
    dihedral: bool = Query(False, description=DIHEDRAL_HELP),
    _key: Any = Depends(require("hash")),
) -> dict[str, Any]:
    """Every signal that applies to the file (MD5, SHA-256, and PDQ for images)."""
    return await _hash(request, file, None, dihedral)  # type: ignore[no-any-return]


@router.get(
    "/hash",
    summary="Hash the content at a URL",
    response_model=Hashes,
    responses=error_responses(413),
)
async def hash_url(
    request: Request,
    url: str = Query(..., max_length=4096, description=URL_HELP),
    dihedral: bool = Query(False, description=DIHEDRAL_HELP),
    _key: Any = Depends(require("hash")),
) -> dict[str, Any]:
    """As POST /v1/hash, for content the server downloads (off unless enabled)."""
    return await _hash(request, None, url, dihedral)  # type: ignore[no-any-return]


@router.get(
    "/lookup",
    summary="Match one hash",
    response_model=Matches,
    responses=error_responses(404, 503),
)
def lookup(
    request: Request,
    signal_type: str = Query(
        ..., description="pdq, md5, sha256, url, email, username, keyword, ..."
    ),
    signal: str = Query(
        ...,
        max_length=QUERY_CHARS,
        description="The hash, in the type's text form (keyword: the text to search).",
    ),
    bank: list[str] | None = Query(None, description=BANK_HELP),
    _key: Any = Depends(require("match")),
) -> dict[str, Any]:
    value = parse_query(signal_type, signal)
    _check_banks(_service(request), bank)
    matcher = _service(request).matcher()
    matches = matcher.match_hashes({signal_type: [value]}, banks=bank)
    _count(request, matches)
    return {"matches": [match.to_json() for match in matches]}


class HashQuery(BaseModel):
    signal_type: str = Field(..., max_length=32)
    signal: str = Field(
        ...,
        max_length=QUERY_CHARS,
        description="The hash in its type's text form; url, email and username: the "
        "address or account as written; keyword: a text, in which every banked phrase is found.",
    )


class BatchLookup(BaseModel):
    hashes: list[HashQuery]
    banks: list[str] | None = None


@router.post(
    "/lookup",
    summary="Match a batch of hashes",
    response_model=BatchMatches,
    responses=error_responses(404, 413, 503),
)
def lookup_batch(
    request: Request, body: BatchLookup, _key: Any = Depends(require("match"))
) -> dict[str, Any]:
    service = _service(request)
    if len(body.hashes) > service.settings.max_batch:
        raise ApiError(
            413, "batch_too_large", f"at most {service.settings.max_batch} hashes per request"
        )
    parsed = [(q.signal_type, parse_query(q.signal_type, q.signal)) for q in body.hashes]
    _check_banks(service, body.banks)
    found = service.matcher().match_many(parsed, banks=body.banks)
    for matches in found:
        _count(request, matches)
    results = [
        {"signal_type": kind, "signal": value, "matches": [m.to_json() for m in matches]}
        for (kind, value), matches in zip(parsed, found, strict=True)
    ]
    return {"results": results}


@router.post(
    "/match",
    summary="Hash an uploaded file and match it",
    response_model=MatchedFile,
    responses=error_responses(404, 413, 503),
)
async def match_upload(
    request: Request,
    file: UploadFile,
    bank: list[str] | None = Query(None, description=BANK_HELP),
    _key: Any = Depends(require("match")),
) -> dict[str, Any]:
    """The file's signals and its matches (PDQ with its 8 rotations and flips)."""
    return await _match(request, file, None, bank)


@router.get(
    "/match",
    summary="Hash the content at a URL and match it",
    response_model=MatchedFile,
    responses=error_responses(404, 413, 503),
)
async def match_url(
    request: Request,
    url: str = Query(..., max_length=4096, description=URL_HELP),
    bank: list[str] | None = Query(None, description=BANK_HELP),
    _key: Any = Depends(require("match")),
) -> dict[str, Any]:
    """As POST /v1/match, for content the server downloads (off unless enabled)."""
    return await _match(request, None, url, bank)
