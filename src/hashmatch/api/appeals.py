"""Appeals under ``/v1/appeals``: the platform forwards a user's appeal
(scope ``submit``); reviewers claim and decide them (scope ``review``).

An unknown submission or review item answers 404, a decision with an open
appeal already 409 (``appeal_conflict``), an appeal of something that
restricted nothing 400 (``invalid_appeal``); a decision on an appeal decided
already, or held by someone else, 409.  docs/appeals.md has the rest.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from hashmatch.actions.submissions import parse_moment
from hashmatch.api.auth import require
from hashmatch.api.response_models import EXACT
from hashmatch.api.responses import KEYED, error_responses
from hashmatch.api.review import AsReviewer, Name, Note, ReviewItemWithHistory
from hashmatch.api.routing import GuardedRoute
from hashmatch.apikeys import KeyInfo
from hashmatch.errors import AppealError, SubmissionError
from hashmatch.fieldlimits import MAX_ID
from hashmatch.review.appeals import DECISIONS, MAX_PAGE, STATUSES, TEXT_CHARS, AppealTarget
from hashmatch.review.desk import Review

router = APIRouter(
    prefix="/v1/appeals",
    tags=["appeals"],
    route_class=GuardedRoute,
    responses=error_responses(*KEYED, 422),
)

AppealId = Annotated[int, Path(ge=0, le=MAX_ID)]


def _review(request: Request) -> Review:
    return request.app.state.service.review  # type: ignore[no-any-return]


# -- answers ---------------------------------------------------------------------


@EXACT
class Appeal(TypedDict):
    id: int
    submission_id: int
    review_item_id: Annotated[
        int | None, Field(description="The review decision appealed (None: the verdict).")
    ]
    content_ref: str
    text: Annotated[str, Field(description="The user's words, as the platform sent them.")]
    received_at: str
    created_at: str
    due_at: Annotated[str, Field(description="received_at plus appeal_due_hours.")]
    overdue: bool
    original_decider: Annotated[
        str | None, Field(description="Who made the decision appealed; not handed it.")
    ]
    status: Literal["open", "decided"]
    decision: Annotated[str | None, Field(description="uphold or overturn, once decided.")]
    decided_by: str | None
    decided_at: str | None
    note: str
    outcome: Annotated[
        dict[str, Any],
        Field(
            description="What an overturn changed: previous_verdict, opinions, "
            "report_requests_withdrawn, allowlist (banks, signals, added_to, content_id), "
            "report (a CyberTipline report holding the upload, and what to do)."
        ),
    ]
    claimed_by: str | None
    claimed_until: str | None


@EXACT
class AppealWithDecision(Appeal):
    appealed: Annotated[
        ReviewItemWithHistory | None,
        Field(description="The review item appealed: its decision, matches and note."),
    ]


@EXACT
class AppealPage(TypedDict):
    appeals: Annotated[list[Appeal], Field(description="Newest first.")]
    next_before: Annotated[
        int | None, Field(description="before= for the next page; None after the last page.")
    ]


# -- requests --------------------------------------------------------------------


class AppealCreate(BaseModel):
    """A user's appeal: exactly one of submission_id, content_ref and review_item_id."""

    model_config = ConfigDict(extra="forbid")

    submission_id: int | None = Field(None, ge=1, le=MAX_ID)
    content_ref: Annotated[str, Field(max_length=200)] | None = Field(
        None, description="The newest submission with this content_ref."
    )
    review_item_id: int | None = Field(None, ge=1, le=MAX_ID)
    text: str = Field("", max_length=TEXT_CHARS, description="What the user wrote.")
    received_at: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="When the platform received it (RFC 3339; default: now)."
    )


class AppealDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Annotated[str, Field(max_length=32, description=", ".join(DECISIONS))]
    note: Note = ""
    allowlist_bank: Name | None = Field(
        None, description="overturn: add the upload's hashes to this allowlist bank."
    )


# -- routes ----------------------------------------------------------------------


@router.post(
    "",
    summary="Forward a user's appeal against a verdict or a review decision",
    status_code=201,
    response_model=AppealWithDecision,
    responses=error_responses(404, 409),
)
def create_appeal(
    request: Request,
    body: AppealCreate,
    _key: Annotated[KeyInfo | None, Depends(require("submit"))],
) -> dict[str, Any]:
    try:
        received = (
            None if body.received_at is None else parse_moment("received_at", body.received_at)
        )
    except SubmissionError as error:
        raise AppealError(str(error)) from None
    target = AppealTarget(body.submission_id, body.content_ref, body.review_item_id)
    return _review(request).appeals.create(target, text=body.text, received_at=received)


@router.get(
    "/next",
    summary="Claim the next appeal (or the one this key holds)",
    response_model=AppealWithDecision,
    responses={204: {"description": "No appeal waits."}},
)
def claim_next(request: Request, who: AsReviewer) -> Any:
    appeal = _review(request).appeals.claim_next(who)
    return Response(status_code=204) if appeal is None else appeal


@router.get("", summary="List appeals, a page at a time", response_model=AppealPage)
def list_appeals(
    request: Request,
    who: AsReviewer,
    status: str | None = Query(None, max_length=16, description=", ".join(STATUSES)),
    overdue: bool = Query(False, description="Only open appeals past their due time."),
    before: int | None = Query(None, ge=0, le=MAX_ID, description="Appeal ids below this one."),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
) -> dict[str, Any]:
    page = _review(request).appeals.list(
        status=status, overdue=overdue, before=before, limit=limit, reviewer=who
    )
    return {"appeals": page, "next_before": page[-1]["id"] if len(page) == limit else None}


@router.get(
    "/{appeal_id}",
    summary="Show an appeal and the decision it contests",
    response_model=AppealWithDecision,
    responses=error_responses(404),
)
def show_appeal(request: Request, appeal_id: AppealId, who: AsReviewer) -> dict[str, Any]:
    return _review(request).appeals.get(appeal_id, who)


@router.post(
    "/{appeal_id}/claim",
    summary="Claim an appeal, or renew this key's claim on it",
    response_model=AppealWithDecision,
    responses=error_responses(404, 409),
)
def claim_appeal(request: Request, appeal_id: AppealId, who: AsReviewer) -> dict[str, Any]:
    return _review(request).appeals.claim(appeal_id, who)


@router.post(
    "/{appeal_id}/decision",
    summary="Decide an appeal: uphold or overturn",
    response_model=AppealWithDecision,
    responses=error_responses(404, 409),
)
def decide(
    request: Request, appeal_id: AppealId, body: AppealDecision, who: AsReviewer
) -> dict[str, Any]:
    """An overturn reverses what can be reversed (docs/appeals.md); both
    decisions close the appeal and send ``appeal.decided``."""
    return _review(request).appeals.decide(
        appeal_id, who, body.decision, note=body.note, allowlist_bank=body.allowlist_bank
    )
