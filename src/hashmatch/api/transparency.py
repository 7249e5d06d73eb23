"""Transparency reports under ``/v1/transparency`` (the ``audit`` scope).

    GET /v1/transparency?period=2026-Q3                 # the versioned JSON record
    GET /v1/transparency?period=2026&format=csv         # a row per figure
    GET /v1/transparency?period=2026-07&format=html     # a standalone page

The figures, their names and the schema: docs/transparency.md.  The route
is a plain ``def``: its SQL runs in the thread pool, never on the event loop.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response

from hashmatch.api.auth import require
from hashmatch.api.responses import KEYED, error_responses
from hashmatch.api.routing import GuardedRoute
from hashmatch.reporting.transparency.figures import SCHEMA_ID, SCHEMA_VERSION, transparency
from hashmatch.reporting.transparency.formats import MEDIA_TYPES, download_name, render
from hashmatch.reporting.transparency.periods import parse_period
from hashmatch.store import Database

#: The JSON record's outline for the OpenAPI document; every field is pinned
#: by hashmatch/reporting/transparency/schema.json (its ``$id`` is ``SCHEMA_ID``).
RECORD_OUTLINE = {
    "type": "object",
    "description": f"A transparency record; full JSON Schema: {SCHEMA_ID}",
    "required": [
        "schema", "schema_version", "instance", "period", "generated_at", "figures", "monthly"
    ],
    "properties": {
        "schema": {"type": "string", "const": SCHEMA_ID},
        "schema_version": {"type": "integer", "const": SCHEMA_VERSION},
        "instance": {"type": "object"},
        "period": {"type": "object"},
        "generated_at": {"type": "string", "format": "date-time"},
        "figures": {"type": "object"},
        "monthly": {"type": "array", "items": {"type": "object"}},
    },
}  # fmt: skip

router = APIRouter(
    prefix="/v1",
    dependencies=[Depends(require("audit"))],
    tags=["transparency"],
    route_class=GuardedRoute,
    responses=error_responses(*KEYED, 400, 422),
)


@router.get(
    "/transparency",
    summary="Transparency figures for a period",
    response_class=Response,
    responses={
        200: {
            "description": "The report in the format asked for.",
            "content": {
                "application/json": {"schema": RECORD_OUTLINE},
                "text/csv": {},
                "text/html": {},
            },
        }
    },
)
def transparency_report(
    request: Request,
    period: str = Query(
        ..., max_length=16, description="A year (2026), a quarter (2026-Q3) or a month (2026-07)."
    ),
    output_format: str = Query(
        "json", alias="format", pattern="^(json|csv|html)$", description="json, csv or html."
    ),
) -> Response:
    """Each count for the period beside the previous period's, with the
    change in percent; JSON follows the schema named in its ``schema`` field."""
    chosen = parse_period(period)
    service = request.app.state.service
    database: Database = service.database
    name = service.settings.transparency_instance_name or None
    report = transparency(database, chosen, instance_name=name)
    return report_response(
        render(report, output_format), output_format, download_name(report, output_format)
    )


def report_response(body: str, output_format: str, filename: str) -> Response:
    """A report rendered as ``output_format``; CSV and HTML name a file to save it as."""
    headers = {}
    if output_format != "json":
        headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return Response(body, media_type=MEDIA_TYPES[output_format], headers=headers)
