"""A person's own account: their role, their second factor, their password."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from hashmatch.errors import UserError
from hashmatch.web.access import SESSION_COOKIE, PageRoute, Viewer, page, service_of
from hashmatch.web.forms import FormState
from hashmatch.web.rendering import done, render

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)


def _account_page(
    request: Request,
    viewer: Viewer,
    *,
    form: FormState | None = None,
    status: int = 200,
    secret: str = "",
    uri: str = "",
) -> Response:
    users = service_of(request).users
    user = users.get(viewer.name)
    return render(
        request,
        "account.html",
        viewer,
        status=status,
        user=user,
        form=form or FormState(),
        totp_required=users.totp_required(user),
        secret=secret,
        uri=uri,
    )


@router.get("/account")
def account(request: Request, viewer: Viewer = Depends(page("view"))) -> Response:
    return _account_page(request, viewer)


@router.post("/account/totp/begin")
def totp_begin(request: Request, viewer: Viewer = Depends(page("view"))) -> Response:
    users = service_of(request).users
    secret = users.begin_totp(viewer.name)
    return _account_page(request, viewer, secret=secret, uri=users.totp_uri(viewer.name, secret))


@router.post("/account/totp/confirm")
def totp_confirm(
    request: Request, code: str = Form(""), viewer: Viewer = Depends(page("view"))
) -> Response:
    users = service_of(request).users
    if users.confirm_totp(viewer.name, code.replace(" ", "")):
        return done("/ui/account", "Second factor on: you will be asked for a code at sign-in.")
    secret = users.begin_totp(viewer.name)
    form = FormState(errors={"code": "That code is not right: scan the new key and try again."})
    return _account_page(
        request,
        viewer,
        form=form,
        status=422,
        secret=secret,
        uri=users.totp_uri(viewer.name, secret),
    )


@router.post("/account/totp/off")
def totp_off(request: Request, viewer: Viewer = Depends(page("view"))) -> Response:
    users = service_of(request).users
    if users.totp_required(users.get(viewer.name)):
        return done("/ui/account", "Your role needs a second factor: it stays on.")
    users.disable_totp(viewer.name)
    return done("/ui/account", "Second factor off.")


@router.post("/account/password")
def change_password(
    request: Request,
    current: str = Form(""),
    new: str = Form(""),
    again: str = Form(""),
    viewer: Viewer = Depends(page("view")),
) -> Response:
    users = service_of(request).users
    form = FormState()
    if new != again:
        form.errors["again"] = "The two new passwords differ."
    elif not users.login(viewer.name, current).ok:
        form.errors["current"] = "That is not your current password."
    else:
        try:
            users.reset_password(viewer.name, new)
        except UserError as error:
            form.errors["new"] = str(error)
    if not form.ok:
        return _account_page(request, viewer, form=form, status=422)
    # Changing the password ended every session, this one too.
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
