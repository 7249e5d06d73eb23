"""The CyberTipline report pages (permission ``report``: admin, reviewer,
legal): the reports, newest first; one report with its files and its
timeline (every call to NCMEC: time, endpoint, HTTP status, NCMEC's code and
description, Request-ID); Retry and Retract where the report's state allows.

    GET  /ui/reports                 ?status=...&before=...
    GET  /ui/reports/{id}
    GET  /ui/reports/{id}/xml
    POST /ui/reports/{id}/retry
    POST /ui/reports/{id}/retract

The "Report to NCMEC" form is ``report_form.py``.  Every page says which
environment (TEST or PRODUCTION) reports go to.  Retrying and retracting
talk to NCMEC: the routes are plain ``def``, run in the thread pool.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy import select

from hashmatch.api.reports import STATUSES, reports_of
from hashmatch.fieldlimits import MAX_ID
from hashmatch.reporting.cybertip.environment import banner, environment_of
from hashmatch.reporting.filing import OPEN_AT_NCMEC
from hashmatch.reporting.leases import ACTIVE
from hashmatch.store.reporting_models import CybertipFile
from hashmatch.web.access import PageRoute, Viewer, page, service_of
from hashmatch.web.rendering import done, render
from hashmatch.web.review_pages import shown_time

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

ReportId = Annotated[int, Path(ge=0, le=MAX_ID)]
PAGE_SIZE = 50


def environment_context(request: Request) -> dict[str, Any]:
    """What the environment banner of every report page shows."""
    settings = service_of(request).settings
    return {
        "environment": environment_of(settings.cybertip_url),
        "environment_line": banner(settings),
    }


def report_of_item(request: Request, item_id: int) -> int | None:
    """The report a review item went into, if any (an item goes into one only)."""
    with service_of(request).database.reading() as session:
        return session.scalar(
            select(CybertipFile.report_id).where(CybertipFile.review_item_id == item_id)
        )


def can_retry(report: dict[str, Any]) -> bool:
    return report["status"] in (*ACTIVE, "failed")


def can_retract(report: dict[str, Any]) -> bool:
    return report["status"] in OPEN_AT_NCMEC or (
        report["status"] == "failed" and bool(report["ncmec_report_id"])
    )


@router.get("/reports")
def list_reports(
    request: Request,
    status: str = "",
    before: int | None = Query(None, ge=0, le=MAX_ID),
    viewer: Viewer = Depends(page("report")),
) -> Response:
    chosen = status if status in STATUSES else None
    reports = reports_of(request).list(status=chosen, limit=PAGE_SIZE, before_id=before)
    older = reports[-1]["id"] if len(reports) == PAGE_SIZE else None
    query = f"status={chosen}&" if chosen else ""
    return render(
        request,
        "reports/list.html",
        viewer,
        reports=reports,
        chosen_status=chosen or "",
        statuses=STATUSES,
        next_href=f"/ui/reports?{query}before={older}" if older else "",
        shown_time=shown_time,
        **environment_context(request),
    )


@router.get("/reports/{report_id}")
def show_report(
    request: Request, report_id: ReportId, viewer: Viewer = Depends(page("report"))
) -> Response:
    report = reports_of(request).get(report_id)
    return render(
        request,
        "reports/show.html",
        viewer,
        report=report,
        can_retry=can_retry(report),
        can_retract=can_retract(report),
        shown_time=shown_time,
        **environment_context(request),
    )


@router.get("/reports/{report_id}/xml")
def report_xml(
    request: Request, report_id: ReportId, _viewer: Viewer = Depends(page("report"))
) -> Response:
    return Response(reports_of(request).xml(report_id), media_type="application/xml")


@router.post("/reports/{report_id}/retry")
def retry(
    request: Request, report_id: ReportId, viewer: Viewer = Depends(page("report"))
) -> Response:
    report = reports_of(request).retry(report_id, actor=viewer.actor)
    return done(f"/ui/reports/{report_id}", f"Report {report_id} retried: {report['status']}.")


@router.post("/reports/{report_id}/retract")
def retract(
    request: Request, report_id: ReportId, viewer: Viewer = Depends(page("report"))
) -> Response:
    report = reports_of(request).retract(report_id, actor=viewer.actor)
    return done(f"/ui/reports/{report_id}", f"Report {report_id}: {report['status']}.")
