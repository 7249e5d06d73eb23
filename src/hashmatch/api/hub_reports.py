"""The coalition's annual report and knowledge sharing under ``/v1/hub``
(only with the setting ``hub_enabled``; docs/hub-annual-report.md).

    POST /v1/hub/reports                      a member's signed period transparency record (hub)
    GET  /v1/hub/annual-report?period=&format=  admins: everything; members: the published version
    PUT  /v1/hub/admin/totals                 a national total for a period (admin)
    POST /v1/hub/admin/forums                 a forum the coalition held (admin)
    POST /v1/hub/templates                    publish a rule template or playbook (hub)
    GET  /v1/hub/templates[/{id}]             browse them (hub)

A record whose signature does not verify is refused with 422, one that does
not follow the transparency schema with 400 naming the field.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from hashmatch.api.auth import require
from hashmatch.api.hub import HubKey, hub_database, member_key
from hashmatch.api.response_models import EXACT
from hashmatch.api.responses import KEYED, error_responses
from hashmatch.api.routing import GuardedRoute
from hashmatch.api.transparency import report_response
from hashmatch.apikeys import KeyInfo
from hashmatch.fieldlimits import DESCRIPTION_CHARS, MAX_ID
from hashmatch.hub.annual_report import annual_report
from hashmatch.hub.annual_report_formats import download_name, render
from hashmatch.hub.coalition_events import MAX_COUNT, SOURCE_CHARS, TITLE_CHARS, CoalitionEvents
from hashmatch.hub.member_records import member_by_key
from hashmatch.hub.members import require_active
from hashmatch.hub.period_reports import PeriodReports
from hashmatch.hub.templates import NAME_CHARS, Templates

router = APIRouter(
    prefix="/v1/hub", tags=["hub"], route_class=GuardedRoute, responses=error_responses(*KEYED)
)
Admin = Annotated[KeyInfo | None, Depends(require("admin"))]
Period = Annotated[
    str, Query(max_length=16, description="A year (2026), a quarter (2026-Q3) or a month.")
]


def _reader(key: KeyInfo | None) -> str | None:
    """The member key's name, or None for a hub admin's key."""
    holder = member_key(key)
    return None if key is not None and "admin" in key.scopes else holder


@EXACT
class Received(TypedDict):
    member_id: int
    member: str
    period: str
    kid: Annotated[str, Field(description="The key the record was signed with.")]
    received_at: str
    publish: bool
    replaced: Annotated[bool, Field(description="It replaced an earlier record.")]


@EXACT
class NationalTotal(TypedDict):
    period: str
    source: str
    total: int
    entered_by: str


@EXACT
class Forum(TypedDict):
    id: int
    date: str
    title: str
    participants: int
    countries: list[str]


@EXACT
class TemplateSummary(TypedDict):
    id: int
    member_id: int
    member: str
    kind: Literal["rule", "playbook"]
    name: str
    description: str
    published_at: str


@EXACT
class Template(TemplateSummary):
    body: Annotated[Any, Field(description="The rule's JSON, or the playbook's Markdown.")]


@EXACT
class TemplateList(TypedDict):
    templates: Annotated[list[TemplateSummary], Field(description="Newest first.")]


class TotalBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str = Field(..., max_length=16)
    source: str = Field(..., max_length=SOURCE_CHARS, description='"NCMEC CyberTipline"')
    total: int = Field(..., ge=0, le=MAX_COUNT)


class ForumBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: date
    title: str = Field(..., max_length=TITLE_CHARS)
    participants: int = Field(..., ge=0, le=MAX_COUNT)
    countries: list[str] = Field(..., max_length=250, description="ISO 3166-1 alpha-2 codes.")


class TemplateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["rule", "playbook"]
    name: str = Field(..., max_length=NAME_CHARS)
    description: str = Field("", max_length=DESCRIPTION_CHARS)
    body: Any = Field(..., description="A rule's JSON, or a playbook's Markdown text.")


@router.post(
    "/reports",
    summary="Send this member's signed transparency record for a period",
    status_code=201,
    response_model=Received,
    responses=error_responses(400, 403, 422),
)
def receive_report(
    request: Request,
    key: HubKey,
    envelope: Annotated[dict[str, Any], Body(description="The signed envelope.")],
) -> dict[str, Any]:
    """A resend for the same period replaces the earlier record (a bad
    signature is 422 ``bad_signature``, as everywhere: api/errors.py)."""
    return PeriodReports(hub_database(request)).receive(member_key(key), envelope)


@router.get(
    "/annual-report",
    summary="The coalition's annual report",
    response_class=Response,
    responses={
        200: {
            "description": "The report in the format asked for.",
            "content": {"application/json": {}, "text/csv": {}, "text/html": {}},
        },
        **error_responses(400, 403),
    },
)
def coalition_report(
    request: Request,
    key: HubKey,
    period: Period,
    output_format: str = Query(
        "json", alias="format", pattern="^(json|csv|html)$", description="json, csv or html."
    ),
) -> Response:
    """Per-member figures for hub admins; a member sees those of members that published theirs."""
    database = hub_database(request)
    holder = _reader(key)
    if holder is not None:
        with database.reading() as session:
            require_active(member_by_key(session, holder))
    report = annual_report(database, period, audience="members" if holder else "admin")
    return report_response(
        render(report, output_format), output_format, download_name(report, output_format)
    )


@router.put(
    "/admin/totals",
    summary="Enter a national total for a period",
    response_model=NationalTotal,
    responses=error_responses(400),
)
def set_total(request: Request, body: TotalBody, _key: Admin) -> dict[str, Any]:
    return CoalitionEvents(hub_database(request)).set_total(body.period, body.source, body.total)


@router.post(
    "/admin/forums",
    summary="Record a forum the coalition held",
    response_model=Forum,
    status_code=201,
    responses=error_responses(400),
)
def add_forum(request: Request, body: ForumBody, _key: Admin) -> dict[str, Any]:
    return CoalitionEvents(hub_database(request)).add_forum(
        body.date, body.title, participants=body.participants, countries=body.countries
    )


@router.post(
    "/templates",
    summary="Publish a rule template or a playbook",
    response_model=Template,
    status_code=201,
    responses=error_responses(400, 403),
)
def publish_template(request: Request, body: TemplateBody, key: HubKey) -> dict[str, Any]:
    return Templates(hub_database(request)).publish(
        member_key(key),
        kind=body.kind,
        name=body.name,
        description=body.description,
        body=body.body,
    )


@router.get(
    "/templates", summary="Browse published templates, newest first", response_model=TemplateList
)
def list_templates(
    request: Request,
    key: HubKey,
    kind: Literal["rule", "playbook"] | None = Query(None),
) -> dict[str, Any]:
    return {"templates": Templates(hub_database(request)).list(_reader(key), kind=kind)}


@router.get(
    "/templates/{template_id}",
    summary="One template, with its body",
    response_model=Template,
    responses=error_responses(404),
)
def show_template(
    request: Request, key: HubKey, template_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> dict[str, Any]:
    return Templates(hub_database(request)).get(_reader(key), template_id)
