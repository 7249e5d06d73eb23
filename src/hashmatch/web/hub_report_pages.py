"""The coalition's annual report page (only with the setting ``hub_enabled``).

    GET /ui/hub/annual-report?period=2026      headlines, SVG charts and tables
    GET /ui/hub/annual-report/download?period=2026&format=csv

Anyone signed in who may read sees it; per-member figures are shown to the
hub's admins, and otherwise only for the members that chose to publish
theirs (as ``GET /v1/hub/annual-report`` does for a member's key).  The
charts are drawn on the server (``hub/annual_report_formats.py``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from markupsafe import Markup

from hashmatch.api.hub import membership_of
from hashmatch.errors import TransparencyError
from hashmatch.hub.annual_report import Audience, annual_report
from hashmatch.hub.annual_report_formats import download_name, report_body
from hashmatch.hub.annual_report_formats import render as render_report
from hashmatch.reporting.transparency.periods import period_containing
from hashmatch.store.models import utcnow
from hashmatch.web.access import PageRoute, Viewer, page, service_of
from hashmatch.web.rendering import render
from hashmatch.web.transparency import download_response

router = APIRouter(prefix="/ui/hub", route_class=PageRoute, include_in_schema=False)


def _report(request: Request, viewer: Viewer, period: str) -> dict[str, Any]:
    membership_of(request)
    audience: Audience = "admin" if viewer.role == "admin" else "members"
    return annual_report(service_of(request).database, period, audience=audience)


@router.get("/annual-report")
def annual_report_page(
    request: Request,
    period: str = Query("", max_length=16),
    viewer: Viewer = Depends(page("read")),
) -> Response:
    chosen = period or period_containing(utcnow(), "year").previous().name
    try:
        report = _report(request, viewer, chosen)
    except TransparencyError as error:
        return render(
            request, "hub/annual_report.html", viewer, status=400, period=chosen,
            problem=str(error), body=None,
        )  # fmt: skip
    return render(
        request,
        "hub/annual_report.html",
        viewer,
        period=report["period"]["name"],
        problem=None,
        body=Markup(report_body(report, level=2)),
    )


@router.get("/annual-report/download")
def annual_report_download(
    request: Request,
    period: str = Query(..., max_length=16),
    output_format: str = Query("json", alias="format", pattern="^(json|csv)$"),
    viewer: Viewer = Depends(page("read")),
) -> Response:
    report = _report(request, viewer, period)
    return download_response(
        render_report(report, output_format), output_format, download_name(report, output_format)
    )
