"""Health and metrics: ``/status/live``, ``/status`` and ``/metrics``.

``/status/live`` needs no key and says the process is up; ``/status`` says
whether the index is loaded and current (200, else 503 with the reason);
``/metrics`` is Prometheus' text.

With ``hma_without_key`` on (an HMA deployment moved to hashmatch), the two
health routes answer as HMA's do, whoever asks: plain text ``I-AM-ALIVE``,
or ``INDEX-NOT-LOADED`` / ``INDEX-STALE`` with a 503; and ``/status``, which
HMA's health probes call without a key, admits keyless requests from
loopback like the other HMA routes.  Otherwise they answer JSON.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import PlainTextResponse

from hashmatch.actions.outbox import backlog
from hashmatch.api.auth import require, require_hma
from hashmatch.api.errors import error_response
from hashmatch.api.metrics import exposition
from hashmatch.api.response_models import Live, Ready
from hashmatch.api.responses import KEYED, error_responses, plain_text
from hashmatch.api.routing import GuardedRoute
from hashmatch.api.service import Service

router = APIRouter(tags=["status"], route_class=GuardedRoute)

HMA_TEXT = {"text/plain": {"schema": {"type": "string"}}}
HMA_WHY = " With hma_without_key: HMA's plain text."


def _service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def _as_hma(request: Request) -> bool:
    return _service(request).settings.hma_without_key


def _with_hma_text(responses: dict[int | str, Any], *statuses: int) -> dict[int | str, Any]:
    """``responses`` where ``statuses`` may also be HMA's plain text."""
    for status in statuses:
        entry = responses.setdefault(status, {"description": "OK."})
        entry["description"] += HMA_WHY
        entry["content"] = HMA_TEXT
    return responses


# On the event loop, not in the thread pool: it answers while every thread is
# busy (the pool is what a stuck database would exhaust).
@router.get(
    "/status/live",
    summary="The process is up",
    response_model=Live,
    responses=_with_hma_text(error_responses(400), 200),
)
async def live(request: Request) -> Any:
    if _as_hma(request):
        return PlainTextResponse("I-AM-ALIVE")
    return {"status": "live"}


@router.get(
    "/status",
    summary="Ready to match",
    response_model=Ready,
    responses=_with_hma_text(error_responses(*KEYED, 503), 200, 503),
)
def ready(request: Request, _key: Any = Depends(require_hma(None))) -> Any:
    """200 when the index is loaded and current with the change log; 503
    with the reason otherwise (loading, or the change log cannot be read)."""
    service = _service(request)
    problem = service.loading_problem
    if problem is not None:
        return _not_ready(request, "index_not_ready", problem, "INDEX-NOT-LOADED")
    stale = service.staleness()
    if stale is not None:
        return _not_ready(request, "index_stale", stale, "INDEX-STALE")
    if _as_hma(request):
        return PlainTextResponse("I-AM-ALIVE")
    matcher = service.matcher()
    return {
        "status": "ready",
        "worker": os.getpid(),
        "index": {
            "pdq_hashes": len(matcher),
            "seq": matcher.seq,
            "sizes": matcher.sizes(),
            "local_features": matcher.features.status(),
        },
    }


def _not_ready(request: Request, code: str, reason: str, hma_text: str) -> Response:
    if _as_hma(request):
        return PlainTextResponse(hma_text, 503)
    return error_response(request, 503, code, reason)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={**plain_text("Prometheus' text format."), **error_responses(*KEYED)},
)
def prometheus(request: Request, _key: Any = Depends(require(None))) -> Any:
    service = _service(request)
    metrics = request.app.state.metrics
    if service.loading_problem is None:
        metrics.index_hashes.set(len(service.matcher()))
    waiting = backlog(service.database)
    metrics.outbox_depth.set(waiting.depth)
    metrics.outbox_oldest.set(waiting.oldest_seconds)
    return exposition(metrics)
