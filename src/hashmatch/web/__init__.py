"""The web UI: server-rendered pages under ``/ui`` for people who sign in.

    install(app)   # in hashmatch.api.app.create_app

Pages are Jinja2 templates (``templates/``) with one stylesheet and a little
script of our own (``static/``); everything works with scripts off but the
niceties.  Each page module owns one area (banks, rules, ...) and declares
the permission its pages need (``access.page``); ``accounts.roles`` says which
roles have it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles

from hashmatch.errors import HashmatchError
from hashmatch.web import (
    account,
    appeal_pages,
    audit_log,
    banks,
    content,
    dashboard,
    evidence_pages,
    keys,
    match_tester,
    platform_user_pages,
    report_form,
    report_pages,
    review_item,
    review_pages,
    rules,
    signin,
    statement_pages,
    system,
    transparency,
    users,
    webhooks,
)
from hashmatch.web.access import PageRefusedError, signed_in
from hashmatch.web.rendering import render

STATIC = Path(__file__).parent / "static"
#: The page modules, each an APIRouter under /ui.
PAGES = (
    signin,
    dashboard,
    review_pages,
    review_item,
    appeal_pages,
    platform_user_pages,
    report_form,  # before report_pages: /ui/reports/new is not a report id
    report_pages,
    evidence_pages,
    statement_pages,
    account,
    banks,
    content,
    match_tester,
    rules,
    webhooks,
    keys,
    users,
    audit_log,
    transparency,
    system,
)


def is_page(request: Request) -> bool:
    return request.url.path == "/ui" or request.url.path.startswith("/ui/")


async def error_page(request: Request, status: int, heading: str, message: str) -> HTMLResponse:
    """An error as a page of the UI, never a traceback or a JSON body."""
    viewer = await signed_in(request)
    if viewer is not None and not viewer.session.second_factor_done:
        viewer = None
    return render(
        request,
        "error.html",
        viewer,
        status=status,
        heading=heading,
        message=message,
        csrf_token="",
    )


def install(app: FastAPI) -> None:
    """Add the UI's pages, its static files and its error pages to ``app``."""
    for module in PAGES:
        app.include_router(module.router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)

    @app.get("/ui", include_in_schema=False)
    async def ui_home() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)

    @app.exception_handler(PageRefusedError)
    async def _refused(request: Request, error: PageRefusedError) -> HTMLResponse:
        return await error_page(request, error.status, "Not allowed", error.message)

    for kind in (HashmatchError, RequestValidationError, HTTPException, Exception):
        _answer_pages_in_html(app, kind)


_HEADINGS = {404: "Not found", 405: "Not allowed", 413: "Too large", 500: "Something went wrong"}


def _answer_pages_in_html(app: FastAPI, kind: type[Exception]) -> None:
    """Errors on a page answer as a page: the API's own handler for ``kind``
    says the status and the message, the UI shows them."""
    api_handler = cast(Callable[[Request, Any], Awaitable[Response]], app.exception_handlers[kind])

    async def handler(request: Request, error: Any) -> Response:
        answer = await api_handler(request, error)
        if not is_page(request):
            return answer
        message = json.loads(bytes(answer.body))["error"]["message"]
        heading = _HEADINGS.get(answer.status_code, "That did not work")
        return await error_page(request, answer.status_code, heading, message)

    app.add_exception_handler(kind, handler)
