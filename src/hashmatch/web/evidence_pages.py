"""The evidence pages (permission ``evidence``: admin and legal): preserved
packages, each with its manifest and legal holds; place and release holds;
download the export zip.

Every page view and download is audited as ``user:<name>``, as the library
audits every access to evidence (``reporting/evidence.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request, Response

from hashmatch.api.evidence import evidence_of, export_response
from hashmatch.errors import EvidenceError
from hashmatch.fieldlimits import MAX_ID
from hashmatch.web.access import PageRoute, Viewer, page
from hashmatch.web.forms import FormState
from hashmatch.web.rendering import done, render

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

RowId = Annotated[int, Path(ge=0, le=MAX_ID)]

#: The times in the library's answers, turned into datetimes for ``|moment``.
_TIMES = ("created_at", "retain_until", "kept_until", "purged_at", "until", "released_at")


def _readable(record: dict[str, Any]) -> dict[str, Any]:
    readable = {
        key: datetime.fromisoformat(value) if key in _TIMES and value else value
        for key, value in record.items()
    }
    if isinstance(record.get("holds"), list):
        readable["holds"] = [_readable(hold) for hold in record["holds"]]
    return readable


def _until(text: str) -> datetime | None:
    """The form's date (YYYY-MM-DD: the hold ends as that day starts, UTC);
    empty: no end.  ValueError when it is not a date."""
    if not text.strip():
        return None
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@router.get("/evidence")
def list_packages(
    request: Request, due: str = "", viewer: Viewer = Depends(page("evidence"))
) -> Response:
    packages = evidence_of(request).list(actor=viewer.actor, due=due == "1")
    return render(
        request,
        "evidence/list.html",
        viewer,
        packages=[_readable(package) for package in packages],
        due=due == "1",
    )


def _package_page(
    request: Request, viewer: Viewer, package_id: int, form: FormState, code: int = 200
) -> Response:
    package = evidence_of(request).show(package_id, actor=viewer.actor)
    return render(
        request, "evidence/show.html", viewer, status=code, package=_readable(package), form=form
    )


@router.get("/evidence/{package_id}")
def show_package(
    request: Request, package_id: RowId, viewer: Viewer = Depends(page("evidence"))
) -> Response:
    return _package_page(request, viewer, package_id, FormState({}))


@router.get("/evidence/{package_id}/export")
def export_package(
    request: Request, package_id: RowId, viewer: Viewer = Depends(page("evidence"))
) -> Response:
    return export_response(evidence_of(request), package_id, viewer.actor)


@router.post("/evidence/{package_id}/holds")
def place_hold(
    request: Request,
    package_id: RowId,
    reason: str = Form(""),
    until: str = Form(""),
    viewer: Viewer = Depends(page("evidence")),
) -> Response:
    form = FormState({"reason": reason, "until": until})
    if not reason.strip():
        form.errors["reason"] = "A legal hold needs a reason (a case, a preservation request)."
    ends = None
    try:
        ends = _until(until)
    except ValueError:
        form.errors["until"] = "Give a date as YYYY-MM-DD, or leave it empty for no end."
    if form.ok:
        try:
            hold = evidence_of(request).hold(package_id, reason, actor=viewer.actor, until=ends)
        except EvidenceError as error:
            form.errors["until" if "future" in str(error) else "reason"] = str(error)
        else:
            return done(f"/ui/evidence/{package_id}", f"Hold {hold['id']} placed.")
    return _package_page(request, viewer, package_id, form, code=400)


@router.post("/evidence/holds/{hold_id}/release")
def release_hold(
    request: Request, hold_id: RowId, viewer: Viewer = Depends(page("evidence"))
) -> Response:
    released = evidence_of(request).release(hold_id, actor=viewer.actor)
    return done(f"/ui/evidence/{released['package_id']}", f"Hold {hold_id} released.")
