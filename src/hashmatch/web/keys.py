"""The API keys page (admins only): list keys, create one, revoke one.

A new key is shown once, in the answer to the POST that made it (never
carried by a redirect or a cookie): reloading the list never shows it again,
and nothing else shows a key, only its prefix.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request, Response

from hashmatch.api.service import Service
from hashmatch.apikeys import SCOPES, ApiKeys
from hashmatch.errors import ApiKeyError
from hashmatch.web.access import PageRoute, Viewer, page
from hashmatch.web.forms import FormState
from hashmatch.web.rendering import done, render

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

#: What each scope lets a key do, for the form.
SCOPE_HELP = {
    "hash": "hash media",
    "match": "match media and hashes",
    "curate": "change banks, content, rules and webhooks",
    "submit": "submit content for a verdict",
    "audit": "read the audit log",
    "admin": "everything",
}


def _keys(request: Request) -> ApiKeys:
    service: Service = request.app.state.service
    return service.keys


def _new_page(request: Request, viewer: Viewer, form: FormState, status: int = 200) -> Response:
    return render(
        request,
        "keys/new.html",
        viewer,
        status=status,
        form=form,
        scopes=SCOPES,
        scope_help=SCOPE_HELP,
    )


@router.get("/keys")
def list_keys(request: Request, viewer: Viewer = Depends(page("admin"))) -> Response:
    return render(request, "keys/list.html", viewer, keys=_keys(request).all())


@router.get("/keys/new")
def new_key(request: Request, viewer: Viewer = Depends(page("admin"))) -> Response:
    return _new_page(request, viewer, FormState({"scopes": "match"}))


@router.post("/keys")
def create_key(
    request: Request,
    name: str = Form(""),
    scopes: list[str] = Form([]),
    viewer: Viewer = Depends(page("admin")),
) -> Response:
    form = FormState({"name": name, "scopes": ",".join(scopes)})
    if not name.strip():
        form.errors["name"] = "A key needs a name, saying who or what uses it."
    if not scopes:
        form.errors["scopes"] = "Choose at least one scope."
    if form.ok:
        try:
            secret, info = _keys(request).create(name.strip(), scopes)
        except ApiKeyError as error:
            form.errors["scopes" if "scope" in str(error) else "name"] = str(error)
        else:
            return render(request, "keys/created.html", viewer, key=info, secret=secret)
    return _new_page(request, viewer, form, status=422)


@router.get("/keys/{name}/revoke")
def confirm_revoke(
    request: Request, name: str, viewer: Viewer = Depends(page("admin"))
) -> Response:
    found = [key for key in _keys(request).all() if key.name == name]
    if not found:
        raise ApiKeyError(f"no API key named {name!r}")
    return render(request, "keys/revoke.html", viewer, key=found[0])


@router.post("/keys/{name}/revoke")
def revoke_key(request: Request, name: str, viewer: Viewer = Depends(page("admin"))) -> Response:
    _keys(request).revoke(name)
    return done("/ui/keys", f"Key {name} revoked: it no longer opens the API.")
