"""HMA's ``/m`` routes: lookups grouped by bank, raw lookups, compare, index status.

Matching (and the change-log read before it) runs in the thread pool.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from hashmatch.api.auth import require_hma
from hashmatch.api.errors import ApiError
from hashmatch.api.hma.hashing import UPLOAD_BODY, hash_submitted, submitted_content
from hashmatch.api.hma.shapes import (
    HMA_NAMES,
    SIGNAL_TYPES,
    bad_request,
    by_bank,
    distance_text,
    json_body,
    json_body_doc,
    ours,
    with_not_computed,
)
from hashmatch.api.responses import KEYED, hma_error_responses
from hashmatch.api.routing import GuardedRoute
from hashmatch.api.service import Service
from hashmatch.errors import HashmatchError
from hashmatch.hashing import FileHashes
from hashmatch.matching import Match, Matcher
from hashmatch.reporting.transparency.counts import LOOKUPS
from hashmatch.signals import get_signal_type
from hashmatch.signals.vpdq_compact import frames_from_compact
from hashmatch.video_matching import match_video

router = APIRouter(
    prefix="/m",
    tags=["hma"],
    route_class=GuardedRoute,
    responses=hma_error_responses(*KEYED, 422),
)
BANKS_HELP = "Comma-separated bank names."


def _service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def _banks(banks: str | None) -> list[str] | None:
    return [name for name in banks.split(",") if name] if banks else None


def _matcher_for(request: Request, banks: str | None) -> Matcher:
    """The matcher, once every bank named exists (else HMA's 404, as on the
    bank routes: a lookup in a bank that is not there is a mistake, not an
    empty answer).  It may ask the database: call it in the thread pool."""
    service = _service(request)
    for name in _banks(banks) or ():
        if not service.bank_exists(name):
            raise ApiError(404, "unknown_bank", f"no bank named '{name}'")
    return service.matcher()


def _parsed(signal_type: str, signal: str) -> tuple[str, str]:
    name = ours(signal_type)
    try:
        return name, get_signal_type(name).parse(signal)
    except HashmatchError as error:
        raise bad_request(f"invalid signal: {error}") from None


def _by_signal(
    matcher: Matcher,
    signal_type: str,
    signal: str,
    banks: str | None,
    *,
    include_disabled: bool = False,
) -> list[Match]:
    """Matches of one signal; a vPDQ signal is a whole video's frames."""
    if signal_type == "vpdq":
        try:
            frames = frames_from_compact(signal)
        except ValueError as error:
            raise bad_request(f"invalid signal: {error}") from None
        return match_video(matcher, signal_type, frames, banks=_banks(banks))
    name, value = _parsed(signal_type, signal)
    return matcher.match_hashes(
        {name: [value]}, banks=_banks(banks), include_disabled=include_disabled
    )


def _cleanup_on(request: Request) -> bool:
    """Whether uploads are matched cleaned of a border or caption band too."""
    return bool(request.app.state.service.settings.match_query_cleanup)


def _counted(request: Request, matches: list[Match]) -> list[Match]:
    """One lookup answered: counted for transparency reports, its matches for metrics."""
    request.app.state.service.usage.add(LOOKUPS)
    for match in matches:
        request.app.state.metrics.matches.labels(match.bank).inc()
    return matches


def _lookup_result(
    request: Request,
    matcher: Matcher,
    result: FileHashes,
    signals: dict[str, str],
    banks: str | None,
) -> dict[str, Any]:
    """Per HMA signal type, the matches grouped by bank (PDQ with its 8
    transforms), and what could not be computed (``with_not_computed``)."""
    if signals.get("pdq") == "":
        raise bad_request("invalid signal: PDQ quality is below 50, too low to match")
    matches = _counted(request, matcher.match_result(result, banks=_banks(banks)))
    found = {
        name: by_bank([m for m in matches if HMA_NAMES.get(m.signal_type) == name])
        for name in signals
    }
    return with_not_computed(found, result)


@router.get(
    "/lookup",
    summary="Look up a hash or the content at a URL (HMA 2.0)",
    responses=hma_error_responses(404, 413, 503),
)
async def lookup(
    request: Request,
    url: str | None = Query(None, max_length=4096),
    content_type: str | None = Query(None),
    types: str | None = Query(None),
    signal: str | None = Query(None, max_length=1_000_000),
    signal_type: str | None = Query(None, max_length=32),
    banks: str | None = Query(None, description=BANKS_HELP),
    seed: str | None = Query(None, description="Accepted for HMA; banks are on or off."),
    bypass_coinflip: bool = Query(False, description="Accepted for HMA; no coin is flipped."),
    _key: Any = Depends(require_hma("match")),
) -> Any:
    """By URL: {signal type: {bank: [matches]}}; by signal: {bank: [matches]}."""
    if url is not None:
        matcher = await run_in_threadpool(_matcher_for, request, banks)
        async with submitted_content(request, url, content_type) as submitted:
            signals, result = await hash_submitted(
                submitted,
                types,
                dihedral=True,
                query_cleanup=_cleanup_on(request),
                feature_query=bool(matcher.features),
            )
        found = await run_in_threadpool(_lookup_result, request, matcher, result, signals, banks)
        if signal_type is not None:
            return found.get(signal_type, {})
        return found
    if signal is None or signal_type is None:
        raise bad_request("Either url or both signal and signal_type are required")
    matcher = await run_in_threadpool(_matcher_for, request, banks)
    matches = await run_in_threadpool(_by_signal, matcher, signal_type, signal, banks)
    return by_bank(_counted(request, matches))


@router.post(
    "/lookup",
    summary="Look up an uploaded file (HMA 2.0)",
    openapi_extra=UPLOAD_BODY,
    responses=hma_error_responses(404, 413, 503),
)
async def lookup_upload(
    request: Request,
    types: str | None = Query(None),
    banks: str | None = Query(None, description=BANKS_HELP),
    seed: str | None = Query(None, description="Accepted for HMA; banks are on or off."),
    bypass_coinflip: str | None = Query(None, description="Accepted for HMA."),
    _key: Any = Depends(require_hma("match")),
) -> dict[str, Any]:
    matcher = await run_in_threadpool(_matcher_for, request, banks)
    async with submitted_content(request, None, None) as submitted:
        signals, result = await hash_submitted(
            submitted,
            types,
            dihedral=True,
            query_cleanup=_cleanup_on(request),
            feature_query=bool(matcher.features),
        )
    return await run_in_threadpool(_lookup_result, request, matcher, result, signals, banks)


@router.get(
    "/raw_lookup",
    summary="Bank content ids matching a hash (HMA 2.0)",
    responses=hma_error_responses(404, 503),
)
def raw_lookup(
    request: Request,
    signal: str = Query(..., max_length=1_000_000),
    signal_type: str = Query(..., max_length=32),
    banks: str | None = Query(None, description=BANKS_HELP),
    include_distance: bool = Query(False),
    _key: Any = Depends(require_hma("match")),
) -> dict[str, list[Any]]:
    """Every match, disabled content and banks included, as HMA does."""
    matcher = _matcher_for(request, banks)
    matches = _counted(
        request, _by_signal(matcher, signal_type, signal, banks, include_disabled=True)
    )
    if not include_distance:
        return {"matches": [match.content_id for match in matches]}
    return {
        "matches": [
            {"bank_content_id": match.content_id, "distance": distance_text(match)}
            for match in matches
        ]
    }


COMPARE_BODY = json_body_doc(
    "Signal type -> exactly two hashes.",
    {"type": "array", "items": {"type": "string"}},
    {"pdq": ["f" * 64, "f" * 63 + "e"]},
)


COMPARED_OBJECT = json_body(required=True, not_an_object="Request input was not a dict")


@router.post(
    "/compare",
    summary="Compare pairs of hashes (HMA 2.0)",
    openapi_extra=COMPARE_BODY,
    responses=hma_error_responses(413, 415),
)
def compare(
    _key: Any = Depends(require_hma("match")),
    body: dict[str, Any] = Depends(COMPARED_OBJECT),
) -> Any:
    """{signal type: [match, {"distance": n}]}."""
    results: dict[str, Any] = {}
    for hma_name, pair in body.items():
        if not isinstance(pair, list):
            raise bad_request(f"Comparison hashes for {hma_name} was not a list")
        if len(pair) != 2:
            raise bad_request("Comparison hash list length must be exactly 2")
        kind = get_signal_type(ours(hma_name))
        if not all(isinstance(value, str) for value in pair):
            raise bad_request(f"Invalid {hma_name} hash: expected strings")
        try:
            left, right = (kind.parse(value) for value in pair)
        except HashmatchError as error:
            raise bad_request(f"Invalid {hma_name} hash: {error}") from None
        distance = kind.distance(left, right)
        results[hma_name] = [distance <= kind.default_threshold, {"distance": distance}]
    return results


@router.get(
    "/index/status",
    summary="Index status per signal type (HMA 2.0)",
    responses=hma_error_responses(503),
)
def index_status(
    request: Request,
    signal_type: str | None = Query(None, max_length=32),
    _key: Any = Depends(require_hma("match")),
) -> dict[str, dict[str, Any]]:
    if signal_type is not None and signal_type not in SIGNAL_TYPES:
        raise bad_request(f"No such signal type '{signal_type}'")
    service = _service(request)
    loaded = service.loading_problem is None
    sizes = service.matcher().sizes() if loaded else {}
    names = [signal_type] if signal_type else list(SIGNAL_TYPES)
    return {
        name: {
            "built_to": int(service.current_at) if loaded else -1,
            "present": loaded,
            "size": sizes.get(SIGNAL_TYPES[name], 0),
        }
        for name in names
    }
