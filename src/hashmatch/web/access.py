"""Who may see a page: a signed-in person whose role has the page's permission.

    router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

    @router.get("/banks")
    def banks(request: Request, viewer: Viewer = Depends(page("read"))) -> Response: ...

The UI and the JSON API are kept apart: a page reads only the session cookie
(an API key never opens it), and the API reads only keys (the cookie never
authorises it).  A :class:`PageRoute` checks the session before FastAPI reads
the request body, as :class:`~hashmatch.api.routing.GuardedRoute` does for
keys: a stranger's 50 MB upload is refused before it is parsed.  For every
method but GET and HEAD it also checks the session's CSRF token, from the
form field ``csrf_token`` or the ``X-CSRF-Token`` header.

A request that is signed in acts as ``user:<name>`` for the audit log.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from hashmatch.accounts.roles import allows
from hashmatch.accounts.sessions import WebSession
from hashmatch.api.access_log import request_id
from hashmatch.api.service import Service
from hashmatch.audit import Actor, set_actor

#: The cookie that holds a session's token.
SESSION_COOKIE = "hashmatch_session"
#: Where a request keeps its signed-in viewer once checked.
_VIEWER = "hashmatch.viewer"
_SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Viewer:
    """The person a page is shown to, with the session that signed them in."""

    session: WebSession
    token: str

    @property
    def name(self) -> str:
        return self.session.user.name

    @property
    def role(self) -> str:
        return self.session.user.role

    @property
    def actor(self) -> str:
        """Who the viewer is in the audit log and to the services: ``user:<name>``."""
        return f"user:{self.name}"

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token

    def can(self, permission: str) -> bool:
        return allows(self.role, permission)


class RedirectToError(Exception):
    """Answer with a redirect instead of the page (not signed in, second factor due)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class PageRefusedError(Exception):
    """The viewer's role does not have the page's permission, or a form's CSRF token is wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class PageCheck:
    """A dependency that admits a signed-in viewer whose role has ``permission``."""

    def __init__(self, permission: str) -> None:
        self.permission = permission

    async def __call__(self, request: Request) -> Viewer:
        return await self.admit(request)

    async def admit(self, request: Request) -> Viewer:
        viewer = await signed_in(request)
        if viewer is None:
            raise RedirectToError(login_location(request))
        if not viewer.session.second_factor_done:
            raise RedirectToError("/ui/login/totp")
        if not viewer.can(self.permission):
            raise PageRefusedError(403, f"Your role ({viewer.role}) may not open this page.")
        return viewer


def service_of(request: Request) -> Service:
    """The running service a page works with."""
    service: Service = request.app.state.service
    return service


def page(permission: str) -> PageCheck:
    """A dependency: the signed-in viewer, whose role has ``permission``."""
    return PageCheck(permission)


async def signed_in(request: Request) -> Viewer | None:
    """The viewer whose session cookie came with ``request`` (checked once per
    request), whether or not the second factor is done; None: not signed in."""
    if _VIEWER not in request.scope:
        request.scope[_VIEWER] = await _find_viewer(request)
    viewer: Viewer | None = request.scope[_VIEWER]
    if viewer is not None:
        client = request.client.host if request.client else None
        set_actor(Actor(viewer.actor, request_id=request_id(request.scope) or None, client=client))
    return viewer


async def _find_viewer(request: Request) -> Viewer | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    session = await run_in_threadpool(service_of(request).web_sessions.find, token)
    return None if session is None else Viewer(session, token)


def login_location(request: Request) -> str:
    """The sign-in page, coming back to this page after (GET pages only)."""
    if request.method != "GET" or request.url.path in ("/ui", "/ui/"):
        return "/ui/login"
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/ui/login?next={quote(target, safe='')}"


async def check_csrf(request: Request, expected: str) -> None:
    """Refuse a changing request whose CSRF token is not ``expected``."""
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise PageRefusedError(
            403, "This form has expired or did not come from this site: reload the page and retry."
        )


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


class PageRoute(APIRoute):
    """Checks the viewer (and the CSRF token of a change) before the body is parsed."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        checks = [call for call in _calls(self.dependant) if isinstance(call, PageCheck)]

        async def checked(request: Request) -> Response:
            try:
                viewers = [await check.admit(request) for check in checks]
                if viewers and request.method not in _SAFE_METHODS:
                    await check_csrf(request, viewers[0].csrf_token)
            except RedirectToError as redirect:
                return RedirectResponse(redirect.location, status_code=303)
            return await handler(request)

        return checked
