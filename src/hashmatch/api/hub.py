"""The hub's membership under ``/v1/hub`` (only with the setting ``hub_enabled``).

    POST   /v1/hub/applications                 apply (no API key: see below)
    GET    /v1/hub/applications/{id}?token=     the applicant's view of its application
    GET    /v1/hub/me                           the member's own state, dues, keys, notices (hub)
    POST   /v1/hub/me/keys                      register an Ed25519 public key (hub)
    DELETE /v1/hub/me/keys/{kid}                revoke one (hub)
    GET    /v1/hub/members                      the member directory (hub, active members)
    GET    /v1/hub/identifier-key               the coalition's identifier key (hub, active members)
    ...    /v1/hub/admin/...                    applications, criteria, members, dues (admin)

Every route needs an API key but the applicant's two: an organisation that
applies has no key yet.  Those two are guarded otherwise: applying is rate
limited per client address (``hub_applications_per_hour``, checked before
the body is read), its body is capped at :data:`MAX_APPLICATION_BYTES` while
it arrives, and every field is checked as any stored text is
(``fieldlimits``); the status route answers only to the random token handed
out at applying, and a wrong token looks like an unknown id.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from hashmatch.api.access_log import request_id
from hashmatch.api.auth import require
from hashmatch.api.errors import ApiError
from hashmatch.api.ratelimit import RateLimiter
from hashmatch.api.response_models import EXACT
from hashmatch.api.responses import KEYED, error_responses
from hashmatch.api.routing import GuardedRoute
from hashmatch.apikeys import KeyInfo
from hashmatch.audit import Actor, set_actor
from hashmatch.fieldlimits import MAX_ID
from hashmatch.hub.applications import (
    EMAIL_CHARS,
    MAX_PAGE,
    NAME_CHARS,
    TEXT_CHARS,
    URL_CHARS,
    ApplicationForm,
)
from hashmatch.hub.criteria import CRITERION_KEYS
from hashmatch.hub.dues import INVOICE_CHARS, MAX_GRACE_DAYS
from hashmatch.hub.identifiers import parse_keys
from hashmatch.hub.keys import MAX_KEY_TEXT
from hashmatch.hub.membership import Membership
from hashmatch.hub.object_intake import member_identity
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.hub_models import APPLICATION_STATES, MEMBER_STATES

#: The largest application body taken: six criteria's evidence and the rest, with room.
MAX_APPLICATION_BYTES = 64 * 1024
#: The audit log's actor for an application (with the request's client address).
APPLICANT = "anonymous:applicant"
#: Where the app keeps the applicants' rate limiter.
_LIMITER = "hub_applicants"

router = APIRouter(
    prefix="/v1/hub", tags=["hub"], route_class=GuardedRoute, responses=error_responses(*KEYED, 422)
)

ApplicationId = Annotated[int, Path(ge=1, le=MAX_ID)]
MemberId = Annotated[int, Path(ge=1, le=MAX_ID)]
Admin = Annotated[KeyInfo | None, Depends(require("admin"))]
HubKey = Annotated[KeyInfo | None, Depends(require("hub"))]


def install(app: FastAPI, settings: Settings) -> None:
    """Add the hub's routes to ``app`` (create_app calls it when ``hub_enabled``)."""
    per_hour = settings.hub_applications_per_hour
    setattr(app.state, _LIMITER, RateLimiter(per_second=per_hour / 3600, burst=per_hour))
    app.include_router(router)


def membership_of(request: Request) -> Membership:
    hub: Membership | None = request.app.state.service.hub
    if hub is None:  # the routes are not installed then; a guard all the same
        raise ApiError(404, "not_found", "this server is not a hub (hub_enabled is off)")
    return hub


def hub_database(request: Request) -> Database:
    """The database, for the hub's other routes, behind membership_of's guard."""
    membership_of(request)
    database: Database = request.app.state.service.database
    return database


def applicant_wait(request: Request) -> float:
    """Take one application from this client address's allowance (the API
    and the form page share it): 0.0, or the seconds until it may apply."""
    limiter: RateLimiter = getattr(request.app.state, _LIMITER)
    return limiter.wait_for(request.client.host if request.client else "")


def acting_as_applicant(request: Request) -> None:
    """The audit log's actor for an application: no key, so the client address."""
    set_actor(
        Actor(
            APPLICANT,
            request_id=request_id(request.scope) or None,
            client=request.client.host if request.client else None,
        )
    )


def _admit_applicant(request: Request) -> None:
    wait = applicant_wait(request)
    if wait > 0:
        raise ApiError(
            429,
            "rate_limited",
            f"too many applications from this address; retry in {math.ceil(wait)} s",
            {"Retry-After": str(math.ceil(wait))},
        )


def member_key(key: KeyInfo | None) -> str:
    """The key's name, for the member routes (a keyless request never gets here)."""
    if key is None:
        raise ApiError(401, "unauthorized", "an API key is required: Authorization: Bearer <key>")
    return key.name


# -- answers ---------------------------------------------------------------------


@EXACT
class ApplicantView(TypedDict):
    id: int
    organisation: str
    state: Literal["submitted", "approved", "rejected"]
    rejection_reason: Annotated[str | None, Field(description="Why it was rejected.")]
    submitted_at: str
    decided_at: str | None


@EXACT
class Submitted(ApplicantView):
    status_token: Annotated[
        str,
        Field(description="Shown once: GET /v1/hub/applications/{id}?token= with it."),
    ]


@EXACT
class CriterionState(TypedDict):
    criterion: str
    title: str
    evidence: str
    checked_by: str | None
    checked_at: str | None
    note: str


@EXACT
class Application(ApplicantView):
    website: str
    product: str
    contact_name: str
    contact_email: str
    criteria: list[CriterionState]
    all_checked: bool
    decided_by: str | None


@EXACT
class MemberKey(TypedDict):
    kid: Annotated[str, Field(description="RFC 7638 thumbprint: the kid its signatures carry.")]
    public_key: Annotated[str, Field(description="The raw 32 bytes, base64url.")]
    created_at: str
    revoked_at: str | None


@EXACT
class Notice(TypedDict):
    at: str
    kind: str
    message: str


@EXACT
class Dues(TypedDict):
    invoice: str | None
    due: str | None
    paid: bool
    grace_days: Annotated[int | None, Field(description="None: hub_dues_grace_days.")]


@EXACT
class Member(TypedDict):
    id: int
    application_id: int
    name: str
    website: str
    state: Literal["active", "suspended", "lapsed"]
    state_reason: str
    approved_by: str
    approved_at: str
    reattest_due: str
    reattest_overdue: bool
    api_key_name: str
    dues: Dues
    keys: list[MemberKey]
    notices: Annotated[list[Notice], Field(description="Newest first.")]


@EXACT
class Approval(TypedDict):
    application: Application
    member: Member
    api_key: Annotated[str, Field(description="The member's hub API key: shown this once.")]


@EXACT
class DirectoryEntry(TypedDict):
    id: int
    name: str
    website: str
    state: Literal["active", "suspended", "lapsed"]
    joined: str
    identity: Annotated[
        str,
        Field(
            description="The STIX Identity id the member publishes as (its objects' "
            "created_by_ref)."
        ),
    ]
    keys: Annotated[list[MemberKey], Field(description="Revoked ones too, with their time.")]


@EXACT
class Directory(TypedDict):
    members: list[DirectoryEntry]


@EXACT
class IdentifierKey(TypedDict):
    key_id: Annotated[str, Field(description="The key's id, which every keyed value carries.")]
    key: Annotated[
        str,
        Field(description="The key: base64url of its 32 bytes. Secret: into identifier_keys."),
    ]


@EXACT
class ApplicationPage(TypedDict):
    applications: Annotated[list[Application], Field(description="Newest first.")]
    next_before: Annotated[
        int | None, Field(description="before= for the next page; None after the last page.")
    ]


@EXACT
class MemberList(TypedDict):
    members: Annotated[list[Member], Field(description="Oldest first.")]


@EXACT
class Lapsed(TypedDict):
    member_id: int
    name: str
    reason: str


@EXACT
class LapseCheck(TypedDict):
    lapsed: Annotated[list[Lapsed], Field(description="The members this check lapsed.")]


# -- requests --------------------------------------------------------------------

Evidence = Annotated[str, Field(max_length=TEXT_CHARS)]


class ApplicationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation: str = Field(..., max_length=NAME_CHARS)
    website: str = Field(..., max_length=URL_CHARS, description="https://...")
    product: str = Field(..., max_length=TEXT_CHARS, description="The product or service.")
    contact_name: str = Field(..., max_length=NAME_CHARS)
    contact_email: str = Field(..., max_length=EMAIL_CHARS)
    evidence: dict[str, Evidence] = Field(
        ...,
        max_length=len(CRITERION_KEYS),
        description="Each criterion's key -> a link or text attesting it: "
        + ", ".join(CRITERION_KEYS),
    )


class CheckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    criterion: str = Field(..., max_length=32, description=", ".join(CRITERION_KEYS))
    note: str = Field("", max_length=TEXT_CHARS, description="What the admin saw.")


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(..., max_length=TEXT_CHARS, description="The applicant or member sees it.")


class DuesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoice: str = Field(..., max_length=INVOICE_CHARS)
    due: datetime = Field(..., description="RFC 3339, with a time zone.")
    paid: bool
    grace_days: int | None = Field(None, ge=0, le=MAX_GRACE_DAYS)


class KeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    public_key: str = Field(
        ..., max_length=MAX_KEY_TEXT, description="PEM, base64url of the 32 bytes, or a JWK."
    )


# -- the applicant ---------------------------------------------------------------


async def capped_body(request: Request) -> bytes:
    """The body, refused (413) once past MAX_APPLICATION_BYTES, as it arrives."""
    declared = request.headers.get("content-length", "")
    too_big = ApiError(413, "too_large", f"an application is at most {MAX_APPLICATION_BYTES} bytes")
    if declared.isdigit() and int(declared) > MAX_APPLICATION_BYTES:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_APPLICATION_BYTES:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/applications",
    summary="Apply to join the hub (no API key)",
    status_code=201,
    response_model=Submitted,
    responses=error_responses(413),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ApplicationBody.model_json_schema()}},
        },
        "security": [],
    },
)
async def apply(request: Request) -> dict[str, Any]:
    """Rate limited per client address; the answer's status_token is shown once."""
    membership = membership_of(request)
    _admit_applicant(request)
    acting_as_applicant(request)
    raw = await capped_body(request)
    try:
        body = ApplicationBody.model_validate_json(raw)
    except ValidationError as error:
        raise RequestValidationError(
            [{**problem, "loc": ("body", *problem["loc"])} for problem in error.errors()]
        ) from None
    form = ApplicationForm(**body.model_dump())
    view, token = await run_in_threadpool(membership.applications.submit, form)
    return {**view, "status_token": token}


@router.get(
    "/applications/{application_id}",
    summary="The applicant's view of its application (no API key; its token)",
    response_model=ApplicantView,
    responses=error_responses(404),
    openapi_extra={"security": []},
)
def application_status(
    request: Request,
    application_id: ApplicationId,
    token: str = Query(..., max_length=100, description="The status_token from applying."),
) -> dict[str, Any]:
    return membership_of(request).applications.status(application_id, token)


# -- members ---------------------------------------------------------------------


@router.get("/me", summary="This member's state, dues, keys and notices", response_model=Member)
def me(request: Request, key: HubKey) -> dict[str, Any]:
    return membership_of(request).members.me(member_key(key))


@router.post(
    "/me/keys",
    summary="Register an Ed25519 public key to sign with",
    status_code=201,
    response_model=MemberKey,
    responses=error_responses(404, 409),
)
def register_key(request: Request, body: KeyBody, key: HubKey) -> dict[str, Any]:
    """Rotation is add-then-revoke: register the new key, sign with it, revoke the old."""
    return membership_of(request).keys.register(member_key(key), body.public_key)


@router.delete(
    "/me/keys/{kid}",
    summary="Revoke one of this member's signing keys",
    response_model=MemberKey,
    responses=error_responses(404),
)
def revoke_key(
    request: Request, key: HubKey, kid: Annotated[str, Path(max_length=100)]
) -> dict[str, Any]:
    return membership_of(request).keys.revoke(member_key(key), kid)


@router.get(
    "/members",
    summary="The member directory: names, sites and signing keys",
    response_model=Directory,
)
def directory(request: Request, key: HubKey) -> dict[str, Any]:
    """For active members (a suspended or lapsed one gets 403 saying why) and admins."""
    holder = member_key(key)
    members = membership_of(request).members.directory(
        None if key is not None and "admin" in key.scopes else holder
    )
    return {"members": [{**entry, "identity": member_identity(entry["id"])} for entry in members]}


@router.get(
    "/identifier-key",
    summary="The coalition's identifier key, for keyed emails and usernames",
    response_model=IdentifierKey,
    responses=error_responses(404),
)
def identifier_key(request: Request, key: HubKey) -> dict[str, Any]:
    """For active members: the hub's current key (the first of its
    identifier_keys), to put first in the member's own.  Each read is audited;
    404 ``no_identifier_key`` while the hub has none."""
    holder = member_key(key)
    settings: Settings = request.app.state.service.settings
    return membership_of(request).members.identifier_key(
        holder, parse_keys(settings.identifier_keys)
    )


# -- hub admins ------------------------------------------------------------------


@router.get(
    "/admin/applications",
    summary="List applications, newest first",
    response_model=ApplicationPage,
)
def list_applications(
    request: Request,
    _key: Admin,
    state: Literal["submitted", "approved", "rejected"] | None = Query(
        None, description=", ".join(APPLICATION_STATES)
    ),
    before: int | None = Query(None, ge=1, le=MAX_ID, description="Ids below this one."),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
) -> dict[str, Any]:
    page = membership_of(request).applications.list(state=state, before=before, limit=limit)
    return {"applications": page, "next_before": page[-1]["id"] if len(page) == limit else None}


@router.get(
    "/admin/applications/{application_id}",
    summary="Show an application and its criteria",
    response_model=Application,
    responses=error_responses(404),
)
def show_application(
    request: Request, application_id: ApplicationId, _key: Admin
) -> dict[str, Any]:
    return membership_of(request).applications.get(application_id)


@router.post(
    "/admin/applications/{application_id}/checks",
    summary="Check one criterion off, as this key",
    response_model=Application,
    responses=error_responses(404, 409),
)
def check(
    request: Request, application_id: ApplicationId, body: CheckBody, _key: Admin
) -> dict[str, Any]:
    return membership_of(request).applications.check(application_id, body.criterion, note=body.note)


@router.post(
    "/admin/applications/{application_id}/approve",
    summary="Approve an application whose six criteria are checked",
    response_model=Approval,
    responses=error_responses(404, 409),
)
def approve(request: Request, application_id: ApplicationId, _key: Admin) -> dict[str, Any]:
    """Makes the member and its hub API key (scope hub), shown this once."""
    return membership_of(request).applications.approve(application_id)


@router.post(
    "/admin/applications/{application_id}/reject",
    summary="Reject an application with a reason the applicant sees",
    response_model=Application,
    responses=error_responses(404, 409),
)
def reject(
    request: Request, application_id: ApplicationId, body: Reason, _key: Admin
) -> dict[str, Any]:
    return membership_of(request).applications.reject(application_id, body.reason)


@router.get("/admin/members", summary="List members", response_model=MemberList)
def list_members(
    request: Request,
    _key: Admin,
    state: Literal["active", "suspended", "lapsed"] | None = Query(
        None, description=", ".join(MEMBER_STATES)
    ),
) -> dict[str, Any]:
    return {"members": membership_of(request).members.list(state=state)}


@router.get(
    "/admin/members/{member_id}",
    summary="Show a member",
    response_model=Member,
    responses=error_responses(404),
)
def show_member(request: Request, member_id: MemberId, _key: Admin) -> dict[str, Any]:
    return membership_of(request).members.get(member_id)


@router.post(
    "/admin/members/{member_id}/suspend",
    summary="Suspend a member (it is told why)",
    response_model=Member,
    responses=error_responses(404, 409),
)
def suspend(request: Request, member_id: MemberId, body: Reason, _key: Admin) -> dict[str, Any]:
    return membership_of(request).members.suspend(member_id, body.reason)


@router.post(
    "/admin/members/{member_id}/reinstate",
    summary="Reinstate a suspended or lapsed member",
    response_model=Member,
    responses=error_responses(404, 409),
)
def reinstate(request: Request, member_id: MemberId, _key: Admin) -> dict[str, Any]:
    return membership_of(request).members.reinstate(member_id)


@router.put(
    "/admin/members/{member_id}/dues",
    summary="Record the member's annual dues (not processed)",
    response_model=Member,
    responses=error_responses(404),
)
def record_dues(
    request: Request, member_id: MemberId, body: DuesBody, _key: Admin
) -> dict[str, Any]:
    if body.due.tzinfo is None:
        raise ApiError(400, "invalid_field", "due needs a time zone (2026-03-01T00:00:00Z)")
    return membership_of(request).dues.record(
        member_id, invoice=body.invoice, due=body.due, paid=body.paid, grace_days=body.grace_days
    )


@router.post(
    "/admin/members/{member_id}/reattest",
    summary="Record the member's yearly re-attestation of the criteria",
    response_model=Member,
    responses=error_responses(404),
)
def reattest(request: Request, member_id: MemberId, _key: Admin) -> dict[str, Any]:
    return membership_of(request).dues.reattest(member_id)


@router.post(
    "/admin/lapse-check",
    summary="Lapse members with unpaid dues or overdue re-attestation now",
    response_model=LapseCheck,
)
def lapse_check(request: Request, _key: Admin) -> dict[str, Any]:
    return {"lapsed": membership_of(request).dues.lapse_check()}
