"""The users pages (admins only): list people, create one, change their role,
disable or enable them, reset their password or their second factor.

The last enabled admin cannot be disabled or made anything else: someone has
to be able to come back here.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request, Response

from hashmatch.accounts.roles import ROLES
from hashmatch.accounts.users import UserInfo, Users
from hashmatch.api.service import Service
from hashmatch.errors import UserError, UserExistsError
from hashmatch.web.access import PageRoute, Viewer, page
from hashmatch.web.forms import FormState
from hashmatch.web.rendering import done, render

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

LAST_ADMIN = "This is the last enabled admin: make another admin first."


def _users(request: Request) -> Users:
    service: Service = request.app.state.service
    return service.users


def is_last_admin(users: Users, name: str) -> bool:
    """Whether ``name`` is the only enabled admin."""
    admins = [user.name for user in users.list() if user.role == "admin" and not user.disabled_at]
    return admins == [name]


def _user_page(
    request: Request,
    viewer: Viewer,
    user: UserInfo,
    *,
    form: FormState | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "users/show.html",
        viewer,
        status=status,
        user=user,
        form=form or FormState({"role": user.role}),
        roles=[(role, role) for role in ROLES],
    )


@router.get("/users")
def list_users(request: Request, viewer: Viewer = Depends(page("admin"))) -> Response:
    return render(request, "users/list.html", viewer, users=_users(request).list())


@router.get("/users/new")
def new_user(request: Request, viewer: Viewer = Depends(page("admin"))) -> Response:
    form = FormState({"role": "viewer"})
    return render(request, "users/new.html", viewer, form=form, roles=[(r, r) for r in ROLES])


@router.post("/users")
def create_user(
    request: Request,
    name: str = Form(""),
    role: str = Form(""),
    password: str = Form(""),
    again: str = Form(""),
    viewer: Viewer = Depends(page("admin")),
) -> Response:
    form = FormState({"name": name, "role": role})
    if not name.strip():
        form.errors["name"] = "A user needs a name to sign in with."
    if role not in ROLES:
        form.errors["role"] = f"Choose one of {', '.join(ROLES)}."
    if password != again:
        form.errors["again"] = "The two passwords differ."
    if form.ok:
        try:
            _users(request).create(name.strip(), role, password)
        except UserExistsError as error:
            form.errors["name"] = str(error)
        except UserError as error:
            message = str(error)
            form.errors["name" if "name" in message else "password"] = message
        else:
            return done(f"/ui/users/{name.strip()}", f"User {name.strip()} created.")
    return render(
        request, "users/new.html", viewer, status=422, form=form, roles=[(r, r) for r in ROLES]
    )


@router.get("/users/{name}")
def show_user(request: Request, name: str, viewer: Viewer = Depends(page("admin"))) -> Response:
    return _user_page(request, viewer, _users(request).get(name))


@router.post("/users/{name}/role")
def set_role(
    request: Request, name: str, role: str = Form(""), viewer: Viewer = Depends(page("admin"))
) -> Response:
    users = _users(request)
    user = users.get(name)
    form = FormState({"role": role})
    if role not in ROLES:
        form.errors["role"] = f"Choose one of {', '.join(ROLES)}."
    elif role != "admin" and user.role == "admin" and is_last_admin(users, name):
        form.errors["role"] = LAST_ADMIN
    if not form.ok:
        return _user_page(request, viewer, user, form=form, status=422)
    users.set_role(name, role)
    return done(f"/ui/users/{name}", f"{name} is now {role}.")


@router.post("/users/{name}/disable")
def disable_user(request: Request, name: str, viewer: Viewer = Depends(page("admin"))) -> Response:
    users = _users(request)
    user = users.get(name)
    if user.role == "admin" and is_last_admin(users, name):
        form = FormState({"role": user.role}, {"disable": LAST_ADMIN})
        return _user_page(request, viewer, user, form=form, status=422)
    users.disable(name)
    return done(f"/ui/users/{name}", f"{name} is disabled and signed out everywhere.")


@router.post("/users/{name}/enable")
def enable_user(request: Request, name: str, viewer: Viewer = Depends(page("admin"))) -> Response:
    _users(request).enable(name)
    return done(f"/ui/users/{name}", f"{name} may sign in again.")


@router.post("/users/{name}/password")
def reset_password(
    request: Request,
    name: str,
    password: str = Form(""),
    again: str = Form(""),
    viewer: Viewer = Depends(page("admin")),
) -> Response:
    users = _users(request)
    user = users.get(name)
    form = FormState({"role": user.role})
    if password != again:
        form.errors["again"] = "The two passwords differ."
    else:
        try:
            users.reset_password(name, password)
        except UserError as error:
            form.errors["password"] = str(error)
    if not form.ok:
        return _user_page(request, viewer, user, form=form, status=422)
    return done(f"/ui/users/{name}", f"Password of {name} reset: they are signed out everywhere.")


@router.post("/users/{name}/totp/reset")
def reset_totp(request: Request, name: str, viewer: Viewer = Depends(page("admin"))) -> Response:
    _users(request).disable_totp(name)
    return done(f"/ui/users/{name}", f"Second factor of {name} removed: they set it up again.")
