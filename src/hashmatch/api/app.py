"""The HTTP service: a FastAPI app over the library.

    app = create_app(Settings.load())

Liveness (``/status/live``) and the docs need nothing; every other route
needs an API key with the right scope, but the web UI's pages under ``/ui``,
which need a person signed in (``hashmatch.web``).  The OpenAPI document is at
``/openapi.json`` (and at HMA's ``/openapi/openapi.json``), the interactive
docs at ``/docs`` and ``/redoc``, their scripts and styles served from the
installed ``fastapi-offline`` package, so they work on a host that reaches
no CDN.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from hashmatch import __version__
from hashmatch.actions.media_vault import load_vault
from hashmatch.api import (
    appeals,
    audit,
    curation,
    errors,
    evidence,
    exchanges,
    hma,
    platform_users,
    reports,
    review,
    rules,
    statements,
    status,
    submissions,
    transparency,
    v1,
    webhooks,
)
from hashmatch.api.access_log import AccessLogMiddleware, configure_logging
from hashmatch.api.body_limit import BodyLimitMiddleware
from hashmatch.api.metrics import Metrics
from hashmatch.api.routing import GuardedRoute
from hashmatch.api.service import Service
from hashmatch.settings import Settings
from hashmatch.store import Database

#: Where the docs pages' scripts, styles and icon are served.
DOCS_STATIC = "/docs/static"


def create_app(settings: Settings) -> FastAPI:
    # The media key is loaded here, not in the lifespan: a bad one stops
    # ``hashmatch serve`` with one clean message (MediaKeyError) before it serves.
    media_vault = load_vault(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_format)
        database = Database.open(settings.database_url)
        service = Service(settings, database, media_vault)
        app.state.service = service
        service.start()
        try:
            yield
        finally:
            service.close()
            database.close()

    app = FastAPIOffline(
        title="hashmatch",
        version=__version__,
        description="Find known content by perceptual and exact hashes.",
        lifespan=lifespan,
        static_url=DOCS_STATIC,
        # No badge fetched from Swagger's online validator either.
        swagger_ui_parameters={"validatorUrl": None},
    )
    app.router.route_class = GuardedRoute
    errors.install(app)
    app.state.metrics = Metrics()
    # The last added runs first: every request gets its id before anything answers.
    app.add_middleware(BodyLimitMiddleware, max_upload_bytes=settings.max_upload_bytes)
    app.add_middleware(AccessLogMiddleware, metrics=app.state.metrics)
    app.include_router(status.router)
    app.include_router(v1.router)
    app.include_router(curation.router)
    app.include_router(rules.router)
    app.include_router(submissions.router)
    app.include_router(webhooks.router)
    app.include_router(review.router)
    app.include_router(appeals.router)
    app.include_router(platform_users.router)
    app.include_router(reports.router)
    app.include_router(evidence.router)
    app.include_router(audit.router)
    app.include_router(transparency.router)
    app.include_router(statements.router)
    app.include_router(exchanges.router)
    app.include_router(hma.router)
    if settings.hub_enabled:
        from hashmatch.api import hub
        from hashmatch.web import hub_pages

        hub.install(app, settings)
        from hashmatch.api import hub_collections, taxii

        taxii.install(app)
        app.include_router(hub_collections.router)
        app.include_router(hub_pages.router)
        from hashmatch.api import hub_reports
        from hashmatch.web import hub_report_pages

        app.include_router(hub_reports.router)
        app.include_router(hub_report_pages.router)
    # Imported here: the UI's page modules import the API's service, so
    # `import hashmatch.web.<page>` must not need this module first.
    from hashmatch.web import install as install_web_ui

    install_web_ui(app)

    @app.get("/openapi/openapi.json", include_in_schema=False)
    async def openapi_at_hma_path() -> Any:
        return JSONResponse(app.openapi())

    return app


def app_from_environment() -> FastAPI:
    """The app for ``uvicorn --factory``: settings from HASHMATCH_* variables."""
    return create_app(Settings.load())
