"""The HTTP service: a FastAPI app over the library.

    app = create_app(Settings.load())

Liveness (``/status/live``) needs nothing; every other route needs an API key
with the right scope.  The OpenAPI document is at ``/openapi.json`` and the
interactive docs at ``/docs``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from hashmatch import __version__
from hashmatch.api import curation, errors, hma, v1
from hashmatch.api.auth import require
from hashmatch.api.body_limit import BodyLimitMiddleware
from hashmatch.api.metrics import Metrics, MetricsMiddleware, exposition
from hashmatch.api.responses import KEYED, error_responses, plain_text
from hashmatch.api.routing import GuardedRoute
from hashmatch.api.service import Service
from hashmatch.settings import Settings
from hashmatch.store import Database


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database.open(settings.database_url)
        service = Service(settings, database)
        app.state.service = service
        service.start()
        try:
            yield
        finally:
            service.close()
            database.close()

    app = FastAPI(
        title="hashmatch",
        version=__version__,
        description="Find known content by perceptual and exact hashes.",
        lifespan=lifespan,
    )
    app.router.route_class = GuardedRoute
    errors.install(app)
    metrics = Metrics()
    app.state.metrics = metrics
    app.add_middleware(BodyLimitMiddleware, max_upload_bytes=settings.max_upload_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.include_router(v1.router)
    app.include_router(curation.router)
    app.include_router(hma.router)

    # On the event loop, not in the thread pool: it answers while every
    # thread is busy (the pool is what a stuck database would exhaust).
    @app.get(
        "/status/live", summary="The process is up", tags=["status"], responses=error_responses(400)
    )
    async def live() -> dict[str, str]:
        return {"status": "live"}

    @app.get(
        "/status", summary="Ready to match", tags=["status"], responses=error_responses(*KEYED, 503)
    )
    def ready(request: Request, _key: Any = Depends(require(None))) -> Any:
        """200 when the index is loaded and current with the change log; 503
        with the reason otherwise (loading, or the change log cannot be read)."""
        service: Service = request.app.state.service
        problem = service.loading_problem
        if problem is not None:
            return JSONResponse(errors.error_body("index_not_ready", problem), 503)
        stale = service.staleness()
        if stale is not None:
            return JSONResponse(errors.error_body("index_stale", stale), 503)
        matcher = service.matcher()
        return {
            "status": "ready",
            "worker": os.getpid(),
            "index": {"pdq_hashes": len(matcher), "seq": matcher.seq, "sizes": matcher.sizes()},
        }

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        tags=["status"],
        response_class=Response,
        responses={**plain_text("Prometheus' text format."), **error_responses(*KEYED)},
    )
    def prometheus(request: Request, _key: Any = Depends(require(None))) -> Any:
        service: Service = request.app.state.service
        if service.loading_problem is None:
            metrics.index_hashes.set(len(service.matcher()))
        return exposition(metrics)

    return app


def app_from_environment() -> FastAPI:
    """The app for ``uvicorn --factory``: settings from HASHMATCH_* variables."""
    return create_app(Settings.load())
