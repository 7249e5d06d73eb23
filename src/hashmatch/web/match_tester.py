"""The match tester: try an upload or a hash against every bank, and see what
the rules would decide, without a submission being stored or acted on.

An upload is hashed as ``POST /v1/match`` hashes it (PDQ with its rotations
and flips) and matched by the same matcher; the verdict is the rules' dry
run (:meth:`~hashmatch.actions.rule_store.Rules.decide`, as
``POST /v1/rules/test`` gives it).  The upload is shown back small, grey
and blurred (``thumbnails.py``) and is deleted when the request ends.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile

from hashmatch.actions.rule_store import Rules
from hashmatch.actions.rules import content_type_of
from hashmatch.api.content import hash_received_now, received_upload
from hashmatch.api.errors import ApiError
from hashmatch.api.service import Service
from hashmatch.errors import HashmatchError
from hashmatch.web.access import PageRoute, Viewer, page, service_of
from hashmatch.web.content import signal_options
from hashmatch.web.forms import FormState
from hashmatch.web.rendering import render
from hashmatch.web.thumbnails import thumbnail_uri

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)


def _page(
    request: Request,
    viewer: Viewer,
    form: FormState,
    *,
    outcome: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "match.html",
        viewer,
        status=status,
        form=form,
        signal_options=signal_options(),
        outcome=outcome,
    )


def verdict(service: Service, matches: list[dict[str, Any]], content_type: str) -> dict[str, Any]:
    """What the enabled rules would decide for these matches (nothing is stored)."""
    rules = Rules(service.database)
    return rules.decide(rules.enabled(), matches, content_type).to_json()


@router.get("/match")
def match_form(request: Request, viewer: Viewer = Depends(page("test"))) -> Response:
    return _page(request, viewer, FormState({"signal_type": "pdq"}))


@router.post("/match")
def try_match(
    request: Request,
    file: UploadFile | None = File(None),
    signal_type: str = Form("pdq"),
    value: str = Form(""),
    viewer: Viewer = Depends(page("test")),
) -> Response:
    service = service_of(request)
    form = FormState({"signal_type": signal_type, "value": value})
    has_file = file is not None and bool(file.filename)
    if not has_file and not value.strip():
        form.errors["file"] = "Choose an image or a video, or paste a hash below."
        return _page(request, viewer, form, status=422)
    if has_file and file is not None:
        return _try_upload(request, viewer, service, form, file)
    try:
        found = Rules(service.database).test_hashes(
            service.matcher(), [(signal_type, value.strip())]
        )
    except HashmatchError as error:
        form.errors["value"] = str(error)
        return _page(request, viewer, form, status=422)
    outcome = {
        "what": f"{signal_type} hash",
        "matches": found["matches"],
        "decision": found,
        "content_type": found["content_type"],
        "thumbnail": None,
    }
    return _page(request, viewer, form, outcome=outcome)


def _try_upload(
    request: Request, viewer: Viewer, service: Service, form: FormState, file: UploadFile
) -> Response:
    matcher = service.matcher()
    try:
        with received_upload(service, file) as received:
            result = hash_received_now(
                received,
                dihedral=True,
                query_cleanup=service.settings.match_query_cleanup,
                feature_query=bool(matcher.features),
            )
            thumbnail = thumbnail_uri(received.path, received.limits) if result.ok else None
    except ApiError as error:
        form.errors["file"] = error.message
        return _page(request, viewer, form, status=422)
    if result.error is not None:
        form.errors["file"] = result.error
        return _page(request, viewer, form, status=422)
    matches = [match.to_json() for match in matcher.match_result(result)]
    content_type = content_type_of([*result.signals, *result.frames])
    outcome = {
        "what": file.filename or "upload",
        "matches": matches,
        "decision": verdict(service, matches, content_type),
        "content_type": content_type,
        "thumbnail": thumbnail,
        "signals": result.signals,
        "quality": result.quality,
        "not_computed": result.not_computed,
    }
    return _page(request, viewer, form, outcome=outcome)
