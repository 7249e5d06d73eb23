"""Signing in and out: name and password, then the second factor where there is one.

The sign-in form has no session yet, so its CSRF token is a random value in a
cookie of its own that the form must send back (a double submit).  A right
password starts a session; when the person has a TOTP second factor, or
their role needs one, the session can open no page until the code is given
(``/ui/login/totp``, which also enrols a person whose role needs a factor
they do not have yet).  Signing out ends the session on the server.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from hashmatch.accounts.users import UserInfo
from hashmatch.api.service import Service
from hashmatch.web.access import (
    SESSION_COOKIE,
    PageRefusedError,
    Viewer,
    check_csrf,
    service_of,
    signed_in,
)
from hashmatch.web.forms import FormState
from hashmatch.web.rendering import render

router = APIRouter(prefix="/ui", include_in_schema=False)

#: The sign-in form's own CSRF cookie (there is no session yet to hold one).
LOGIN_COOKIE = "hashmatch_login"


def _safe_next(target: str) -> str:
    """Where to go after signing in: a page of this UI, never another site."""
    if target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/"


def _login_page(
    request: Request,
    *,
    next_page: str,
    form: FormState | None = None,
    error: str = "",
    status: int = 200,
    no_users: bool = False,
) -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        None,
        status=status,
        csrf_token=token,
        next=next_page,
        form=form or FormState(),
        error=error,
        no_users=no_users,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        path="/ui/login",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/login")
async def login_form(request: Request, next: str = "/ui/") -> Response:
    viewer = await signed_in(request)
    if viewer is not None and viewer.session.second_factor_done:
        return RedirectResponse(_safe_next(next), status_code=303)
    no_users = await run_in_threadpool(service_of(request).users.count) == 0
    return _login_page(request, next_page=_safe_next(next), no_users=no_users)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    expected = request.cookies.get(LOGIN_COOKIE, "")
    sent = fields.get("csrf_token", "")
    next_page = _safe_next(fields.get("next", "/ui/"))
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        return _login_page(
            request,
            next_page=next_page,
            status=403,
            error="The sign-in form expired: please sign in again.",
        )
    name, password = fields.get("name", "").strip(), fields.get("password", "")
    state = FormState({"name": name})
    if not name or not password:
        if not name:
            state.errors["name"] = "Enter your name."
        if not password:
            state.errors["password"] = "Enter your password."
        return _login_page(request, next_page=next_page, form=state, status=422)
    service = service_of(request)
    result = await run_in_threadpool(service.users.login, name, password)
    if result.user is None:
        status = 429 if result.retry_after > 0 or result.locked else 401
        return _login_page(
            request, next_page=next_page, form=state, error=result.message, status=status
        )
    return await _start_session(request, service, result.user, next_page)


async def _start_session(
    request: Request, service: Service, user: UserInfo, next_page: str
) -> Response:
    needs_factor = user.totp_enabled or service.users.totp_required(user)
    token, _session = await run_in_threadpool(
        service.web_sessions.start, user, second_factor_done=not needs_factor
    )
    response = RedirectResponse(
        f"/ui/login/totp?next={next_page}" if needs_factor else next_page, status_code=303
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/ui/login")
    return response


async def _pending(request: Request) -> Viewer | None:
    viewer = await signed_in(request)
    return None if viewer is None or viewer.session.second_factor_done else viewer


@router.get("/login/totp")
async def totp_form(request: Request, next: str = "/ui/") -> Response:
    viewer = await _pending(request)
    if viewer is None:
        return RedirectResponse("/ui/login", status_code=303)
    return await _totp_page(request, viewer, _safe_next(next))


async def _totp_page(
    request: Request, viewer: Viewer, next_page: str, *, error: str = "", status: int = 200
) -> Response:
    users = service_of(request).users
    enrol = not viewer.session.user.totp_enabled
    secret = uri = ""
    if enrol:
        secret = await run_in_threadpool(users.begin_totp, viewer.name)
        uri = users.totp_uri(viewer.name, secret)
    return render(
        request,
        "totp.html",
        None,
        status=status,
        csrf_token=viewer.csrf_token,
        enrol=enrol,
        secret=secret,
        uri=uri,
        error=error,
        action=f"/ui/login/totp?next={next_page}",
    )


@router.post("/login/totp")
async def totp(request: Request, next: str = "/ui/") -> Response:
    viewer = await _pending(request)
    if viewer is None:
        return RedirectResponse("/ui/login", status_code=303)
    await check_csrf(request, viewer.csrf_token)
    form = await request.form()
    code = str(form.get("code", "")).replace(" ", "")
    users = service_of(request).users
    check = users.verify_totp if viewer.session.user.totp_enabled else users.confirm_totp
    if not await run_in_threadpool(check, viewer.name, code):
        return await _totp_page(
            request,
            viewer,
            _safe_next(next),
            status=401,
            error="That code is not right, or was used already: enter the current one.",
        )
    await run_in_threadpool(service_of(request).web_sessions.complete_second_factor, viewer.token)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    viewer = await signed_in(request)
    if viewer is not None:
        try:
            await check_csrf(request, viewer.csrf_token)
        except PageRefusedError:
            return RedirectResponse("/ui/", status_code=303)
        await run_in_threadpool(service_of(request).web_sessions.end, viewer.token)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
