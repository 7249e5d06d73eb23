"""CyberTipline reports under ``/v1/reports`` (scope ``report``): draft one
from a platform user's confirmed review items and file it, list and show
reports with their timeline of calls to NCMEC, read the XML, retry a failed
report, retract one still open at NCMEC, preview the XML of a draft.

A key acts as ``key:<name>``.  The routes are plain ``def``: filing talks to
NCMEC (seconds per call at worst) and every route waits on the database, so
FastAPI runs them in its thread pool, never on the event loop.  Errors go
through the API's one mapping: an item reported already is a 409
(``ReportConflictError``), a draft that cannot be made a 400
(``ReportingError``), an unknown report a 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from hashmatch.api.auth import acting_key
from hashmatch.api.response_models import EXACT
from hashmatch.api.responses import KEYED, error_responses
from hashmatch.api.routing import GuardedRoute
from hashmatch.fieldlimits import MAX_ID
from hashmatch.reporting.report_content import MAX_LIST, TEXT_CHARS
from hashmatch.reporting.reports import MAX_PAGE, Reports

router = APIRouter(
    prefix="/v1/reports",
    tags=["reports"],
    route_class=GuardedRoute,
    responses=error_responses(*KEYED, 422),
)

ReportId = Annotated[int, Path(ge=0, le=MAX_ID)]
Text = Annotated[str, Field(max_length=TEXT_CHARS)]
#: The most review items one request may put into a report (the service
#: enforces the configured ``cybertip_max_files_per_report``).
MAX_ITEMS = 1000
#: A report's statuses, in the order a report moves through them.
STATUSES = ("draft", "submitted", "files_uploaded", "finished", "retracted", "failed")


#: ``key:<name>``: the key the check admitted, acting.
Actor = Annotated[str, acting_key("report")]


def reports_of(request: Request) -> Reports:
    """The reports service over the app's database and settings (the API's and the UI's)."""
    service = request.app.state.service
    return Reports(service.database, service.settings)


# -- answers -----------------------------------------------------------------------


@EXACT
class ReportedFile(TypedDict):
    id: int
    item_key: Annotated[str, Field(description='"review:<id>" or "submission:<id>".')]
    review_item_id: int | None
    submission_id: int
    filename: str
    size: int
    md5: str
    sha256: str
    classification: Annotated[str | None, Field(description="A1, A2, B1 or B2.")]
    annotations: list[str]
    viewed_by_esp: Annotated[bool, Field(description="A reviewer revealed it.")]
    status: Annotated[str, Field(description="pending, uploaded or described.")]
    ncmec_file_id: str | None


@EXACT
class CallRecord(TypedDict):
    endpoint: Annotated[str, Field(description="status, submit, upload, fileinfo, finish, ...")]
    at: str
    elapsed_ms: int | None
    http_status: int | None
    request_id: Annotated[str | None, Field(description="NCMEC's Request-ID header.")]
    response_code: Annotated[int | None, Field(description="NCMEC's responseCode; 0: success.")]
    response_description: str | None
    error: Annotated[str | None, Field(description="What went wrong, when it did.")]


@EXACT
class Report(TypedDict):
    id: int
    status: Annotated[str, Field(description=", ".join(STATUSES))]
    environment: Annotated[str, Field(description="test or production.")]
    ncmec_report_id: str | None
    user_ref: Annotated[str | None, Field(description="The reported platform user.")]
    created_by: str
    created_at: str
    opened_at: Annotated[str | None, Field(description="When NCMEC opened it (submit).")]
    finished_at: str | None
    retracted_at: str | None
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    error_kind: Annotated[
        str | None, Field(description="retry, credentials, invalid, unknown, done or protocol.")
    ]
    details: dict[str, Any]


@EXACT
class ReportDetail(Report):
    files: list[ReportedFile]
    calls: Annotated[list[CallRecord], Field(description="Every call to NCMEC, oldest first.")]
    evidence_package_id: Annotated[int | None, Field(description="Once finished and preserved.")]


@EXACT
class ReportPage(TypedDict):
    reports: Annotated[list[Report], Field(description="Newest first.")]
    next_before: Annotated[
        int | None, Field(description="before= for the next page; None after the last page.")
    ]


@EXACT
class XmlPreview(TypedDict):
    xml: Annotated[str, Field(description="The report XML a draft of these items would submit.")]


# -- requests ----------------------------------------------------------------------


class IpEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ip_address: Text
    event_name: Text | None = Field(None, description='"Upload", "Login", ...')
    at: Text | None = Field(None, description="ISO 8601 time.")
    port: int | None = Field(None, ge=0, le=65535)


class ReportDetails(BaseModel):
    """What the report says beyond the items: each left out comes from the
    submissions' metadata or the platform's additional-info webhook."""

    model_config = ConfigDict(extra="forbid")

    urls: list[Text] | None = Field(None, max_length=MAX_LIST)
    annotations: list[Text] | None = Field(
        None, max_length=MAX_LIST, description="NCMEC's reportAnnotations names."
    )
    screen_name: Text | None = None
    display_name: Text | None = None
    emails: list[Text] | None = Field(None, max_length=MAX_LIST)
    profile_url: Text | None = None
    ip_events: list[IpEvent] | None = Field(None, max_length=MAX_LIST)
    additional_info: Text | None = None
    publicly_available: bool | None = None


class ReportItems(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[Annotated[int, Field(ge=0, le=MAX_ID)]] = Field(
        ..., min_length=1, max_length=MAX_ITEMS, description="Confirmed review items of one user."
    )
    details: ReportDetails | None = None

    def details_json(self) -> dict[str, Any] | None:
        return None if self.details is None else self.details.model_dump(exclude_none=True)


class ReportCreate(ReportItems):
    file: bool = Field(True, description="File it now (false: leave a draft).")


# -- routes ------------------------------------------------------------------------


@router.post(
    "",
    summary="Draft a report of confirmed review items, and file it",
    status_code=201,
    response_model=ReportDetail,
    responses=error_responses(400, 404, 409),
)
def create_report(request: Request, body: ReportCreate, actor: Actor) -> dict[str, Any]:
    """Filing runs now, as far as it goes: the answer's ``status`` is
    ``finished``, or where it stopped (``last_error`` says why)."""
    reports = reports_of(request)
    report_id = reports.draft(body.items, actor=actor, details=body.details_json())
    return reports.file(report_id) if body.file else reports.get(report_id)


@router.post(
    "/preview",
    summary="The XML a report of these items would submit (nothing is written)",
    response_model=XmlPreview,
    responses=error_responses(400, 404, 409),
)
def preview(request: Request, body: ReportItems, _actor: Actor) -> dict[str, Any]:
    return {"xml": reports_of(request).preview_xml(body.items, body.details_json())}


@router.get("", summary="List reports, a page at a time", response_model=ReportPage)
def list_reports(
    request: Request,
    _actor: Actor,
    status: str | None = Query(None, max_length=16, description=", ".join(STATUSES)),
    user_ref: str | None = Query(None, max_length=200, description="The reported user."),
    before: int | None = Query(None, ge=0, le=MAX_ID, description="Report ids below this one."),
    limit: int = Query(50, ge=1, le=MAX_PAGE, description="At most this many."),
) -> dict[str, Any]:
    page = reports_of(request).list(status=status, user_ref=user_ref, limit=limit, before_id=before)
    return {"reports": page, "next_before": page[-1]["id"] if len(page) == limit else None}


@router.get(
    "/{report_id}",
    summary="Show a report: its files and every call to NCMEC",
    response_model=ReportDetail,
    responses=error_responses(404),
)
def show_report(request: Request, report_id: ReportId, _actor: Actor) -> dict[str, Any]:
    return reports_of(request).get(report_id)


@router.get(
    "/{report_id}/xml",
    summary="The report XML as submitted (a draft's: as it would be)",
    response_class=Response,
    responses={
        200: {
            "content": {"application/xml": {"schema": {"type": "string"}}},
            "description": "The XML.",
        },
        **error_responses(404),
    },
)
def report_xml(request: Request, report_id: ReportId, _actor: Actor) -> Response:
    return Response(reports_of(request).xml(report_id), media_type="application/xml")


@router.post(
    "/{report_id}/retry",
    summary="File a failed report again, from where it stopped",
    response_model=ReportDetail,
    responses=error_responses(404, 409),
)
def retry(request: Request, report_id: ReportId, actor: Actor) -> dict[str, Any]:
    return reports_of(request).retry(report_id, actor=actor)


@router.post(
    "/{report_id}/retract",
    summary="Withdraw a report still open at NCMEC (not finished)",
    response_model=ReportDetail,
    responses=error_responses(404, 409),
)
def retract(request: Request, report_id: ReportId, actor: Actor) -> dict[str, Any]:
    return reports_of(request).retract(report_id, actor=actor)
