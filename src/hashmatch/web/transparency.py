"""The transparency page: a period's report inside the UI, with downloads.

    GET /ui/transparency?period=2026-Q3                       # the report, charts and tables
    GET /ui/transparency/download?period=2026-Q3&format=csv   # json or csv, as a file

Anyone who may read (permission "read") sees it; the page is the same HTML
as ``hashmatch report transparency --format html`` (``report_body``), inside
the UI's layout.  With no period, the quarter so far.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from markupsafe import Markup

from hashmatch.errors import TransparencyError
from hashmatch.reporting.transparency import transparency
from hashmatch.reporting.transparency.formats import (
    MEDIA_TYPES,
    download_name,
    report_body,
)
from hashmatch.reporting.transparency.formats import (
    render as render_report,
)
from hashmatch.reporting.transparency.periods import Period, parse_period, period_containing
from hashmatch.store.models import utcnow
from hashmatch.web.access import PageRoute, Viewer, page, service_of
from hashmatch.web.rendering import render

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)


def suggested_periods() -> list[str]:
    """For the picker: this year and last, the last four quarters, the last six months."""
    now = utcnow()
    year, quarter, month = (
        period_containing(now, "year"),
        period_containing(now, "quarter"),
        period_containing(now, "month"),
    )
    return [p.name for p in (*_back(year, 2), *_back(quarter, 4), *_back(month, 6))]


def _back(period: Period, count: int) -> list[Period]:
    found = [period]
    while len(found) < count:
        found.append(found[-1].previous())
    return found


def _report(request: Request, period: Period) -> dict[str, Any]:
    service = service_of(request)
    name = service.settings.transparency_instance_name or None
    return transparency(service.database, period, instance_name=name)


@router.get("/transparency")
def transparency_page(
    request: Request,
    period: str = Query("", max_length=16),
    viewer: Viewer = Depends(page("read")),
) -> Response:
    chosen = period or period_containing(utcnow(), "quarter").name
    try:
        parsed = parse_period(chosen)
    except TransparencyError as error:
        return render(
            request,
            "transparency.html",
            viewer,
            status=400,
            period=chosen,
            suggestions=suggested_periods(),
            problem=str(error),
            body=None,
        )
    body = Markup(report_body(_report(request, parsed), level=2))
    return render(
        request,
        "transparency.html",
        viewer,
        period=parsed.name,
        suggestions=suggested_periods(),
        problem=None,
        body=body,
    )


@router.get("/transparency/download")
def transparency_download(
    request: Request,
    period: str = Query(..., max_length=16),
    output_format: str = Query("json", alias="format", pattern="^(json|csv)$"),
    viewer: Viewer = Depends(page("read")),
) -> Response:
    report = _report(request, parse_period(period))
    return download_response(
        render_report(report, output_format), output_format, download_name(report, output_format)
    )


def download_response(body: str, output_format: str, filename: str) -> Response:
    """A rendered report as a file to save, never cached (it is a signed-in page's)."""
    return Response(
        body,
        media_type=MEDIA_TYPES[output_format],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
