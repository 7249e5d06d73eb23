"""The review queue under ``/v1/review``: queue items, claim the next one,
decide, reopen; the queues and the reveals' workload numbers.

A key acts as the reviewer ``key:<name>`` (an ``admin`` key as an admin,
admitted to every queue).  The platform queues its own escalations with the
``submit`` scope; working the queue needs ``review``; reopening a decided
item, configuring a queue and reading the reveal counts need ``admin``.  A
queue whose access list leaves the key out answers 403 (``queue_not_allowed``),
a decision on an item decided already or claimed by someone else 409.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from hashmatch.actions.rules import MAX_ACTIONS, FollowUp, Priority
from hashmatch.api.auth import require
from hashmatch.api.response_models import EXACT
from hashmatch.api.responses import KEYED, error_responses
from hashmatch.api.routing import GuardedRoute
from hashmatch.api.rules import FollowUpAction
from hashmatch.api.submissions import SubmissionRecord
from hashmatch.apikeys import KeyInfo
from hashmatch.fieldlimits import DESCRIPTION_CHARS, MAX_ID
from hashmatch.reporting.cybertip.content import CLASSIFICATIONS
from hashmatch.review import Review, Reviewer, Verdict
from hashmatch.review.decisions import ANNOTATIONS, DECISIONS
from hashmatch.review.items import MAX_PAGE, STATUSES
from hashmatch.review.queues import MAX_SLA_MINUTES

router = APIRouter(
    prefix="/v1/review",
    tags=["review"],
    route_class=GuardedRoute,
    responses=error_responses(*KEYED, 422),
)

ItemId = Annotated[int, Path(ge=0, le=MAX_ID)]
#: A queue's, a bank's or a reviewer's name, as long as its column.
Name = Annotated[str, Field(max_length=200)]
Note = Annotated[str, Field(max_length=DESCRIPTION_CHARS)]


def _reviewer(key: KeyInfo | None) -> Reviewer:
    assert key is not None  # require() admits keyless requests on HMA's routes only
    return Reviewer(f"key:{key.name}", is_admin="admin" in key.scopes)


async def reviewer(key: Annotated[KeyInfo | None, Depends(require("review"))]) -> Reviewer:
    return _reviewer(key)


async def admin(key: Annotated[KeyInfo | None, Depends(require("admin"))]) -> Reviewer:
    return _reviewer(key)


AsReviewer = Annotated[Reviewer, Depends(reviewer)]
AsAdmin = Annotated[Reviewer, Depends(admin)]


def _review(request: Request) -> Review:
    return request.app.state.service.review  # type: ignore[no-any-return]


# -- answers ---------------------------------------------------------------------


@EXACT
class FollowUps(TypedDict):
    confirm: NotRequired[list[FollowUpAction]]
    false_positive: NotRequired[list[FollowUpAction]]


@EXACT
class ItemDecision(TypedDict):
    decision: Annotated[str, Field(description="confirm, false_positive or escalate.")]
    classification: Annotated[str | None, Field(description="confirm: A1, A2, B1 or B2.")]
    annotations: list[str]
    note: str
    decided_by: str | None
    decided_at: str | None
    escalated_to: Annotated[int | None, Field(description="escalate: the new item's id.")]


@EXACT
class ReviewItem(TypedDict):
    id: int
    queue: str
    priority: Annotated[int, Field(description="Lower is looked at first.")]
    status: Literal["open", "closed"]
    rule: Annotated[str, Field(description='The rule that queued it, or "key:<name>".')]
    reason: Annotated[str, Field(description="Why the platform queued it.")]
    created_at: str
    due_at: Annotated[str | None, Field(description="The queue's SLA from created_at.")]
    overdue: bool
    claimed_by: Annotated[str | None, Field(description="Who holds it now (None: no one).")]
    claimed_until: str | None
    decision: Annotated[ItemDecision | None, Field(description="Once closed.")]
    escalated_from: Annotated[int | None, Field(description="The item escalated to this one.")]
    follow_ups: Annotated[FollowUps, Field(description="What each decision sets going.")]
    submission: SubmissionRecord


@EXACT
class HistoryEntry(TypedDict):
    decision: Annotated[str, Field(description=f"{', '.join(DECISIONS)} or reopen.")]
    actor: str
    classification: str | None
    annotations: list[str]
    note: str
    details: Annotated[dict[str, Any], Field(description="The queue, the allowlist bank, ...")]
    at: str


@EXACT
class ReviewItemWithHistory(ReviewItem):
    history: Annotated[list[HistoryEntry], Field(description="Oldest first.")]


@EXACT
class ReviewItemPage(TypedDict):
    items: Annotated[list[ReviewItem], Field(description="Newest first.")]
    next_before: Annotated[
        int | None, Field(description="before= for the next page; None after the last page.")
    ]


@EXACT
class QueueSettings(TypedDict):
    name: str
    description: str
    sla_minutes: Annotated[int, Field(description="Items are due this long after queued.")]
    access: Annotated[
        list[str], Field(description="role:, user: and key: entries; empty: every reviewer.")
    ]
    configured: Annotated[bool, Field(description="False: the defaults.")]


@EXACT
class QueueOverview(QueueSettings):
    open: int
    claimed: int
    overdue: int
    oldest_open_at: str | None


@EXACT
class QueueList(TypedDict):
    queues: list[QueueOverview]


@EXACT
class RevealDay(TypedDict):
    day: str
    reviewer: str
    reveals: int


@EXACT
class RevealDays(TypedDict):
    days: Annotated[list[RevealDay], Field(description="Newest day first.")]


# -- requests --------------------------------------------------------------------


class FollowUpsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirm: list[FollowUp] = Field([], max_length=MAX_ACTIONS)
    false_positive: list[FollowUp] = Field([], max_length=MAX_ACTIONS)


class ItemCreate(BaseModel):
    """The platform's own escalation of a submission (a user's report, a classifier's score)."""

    model_config = ConfigDict(extra="forbid")

    submission_id: int = Field(..., ge=0, le=MAX_ID)
    queue: Name = "default"
    priority: Priority = Field(0, description="Lower is looked at first.")
    reason: Note = Field("", description="Why, for the reviewer.")
    follow_ups: FollowUpsBody = Field(default_factory=lambda: FollowUpsBody.model_validate({}))


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Annotated[str, Field(max_length=32, description=", ".join(DECISIONS))]
    classification: Annotated[str, Field(max_length=8)] | None = Field(
        None, description=f"confirm: {', '.join(CLASSIFICATIONS)}."
    )
    annotations: list[Annotated[str, Field(max_length=64)]] = Field(
        [], max_length=len(ANNOTATIONS), description=f"confirm: {', '.join(ANNOTATIONS)}."
    )
    note: Note = ""
    allowlist_bank: Name | None = Field(
        None, description="false_positive: add the upload's hashes to this allowlist bank."
    )
    queue: Name | None = Field(None, description="escalate: the queue.")
    priority: Priority | None = Field(
        None, description="escalate: the new item's priority (default: this item's)."
    )

    def verdict(self) -> Verdict:
        return Verdict(
            self.decision,
            classification=self.classification,
            annotations=tuple(self.annotations),
            note=self.note,
            allowlist_bank=self.allowlist_bank,
            queue=self.queue,
            priority=self.priority,
        )


class ReopenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note = Field("", description="Why it is reopened.")


class QueueConfig(BaseModel):
    """The settings to change (those left out stay as they are)."""

    model_config = ConfigDict(extra="forbid")

    description: Note | None = None
    sla_minutes: int | None = Field(None, ge=1, le=MAX_SLA_MINUTES)
    access: list[Name] | None = Field(
        None, max_length=1000, description="role:<role>, user:<name> or key:<name> entries."
    )


# -- items -----------------------------------------------------------------------


@router.post(
    "/items",
    summary="Queue a submission for review (the platform's own escalation)",
    status_code=201,
    response_model=ReviewItemWithHistory,
    responses=error_responses(404),
)
def create_item(
    request: Request, body: ItemCreate, _key: Annotated[KeyInfo | None, Depends(require("submit"))]
) -> dict[str, Any]:
    return _review(request).items.create(
        body.submission_id,
        queue=body.queue,
        priority=body.priority,
        reason=body.reason,
        follow_ups=body.follow_ups.model_dump(exclude_defaults=True, exclude_none=True),
    )


@router.get(
    "/next",
    summary="Claim the queue's next item (or the one this key holds)",
    response_model=ReviewItemWithHistory,
    responses={204: {"description": "Nothing waits in the queue."}},
)
def claim_next(
    request: Request, who: AsReviewer, queue: str = Query("default", max_length=200)
) -> Any:
    item = _review(request).items.claim_next(who, queue)
    return Response(status_code=204) if item is None else item


@router.get(
    "/items",
    summary="List items, a page at a time",
    response_model=ReviewItemPage,
)
def list_items(
    request: Request,
    who: AsReviewer,
    queue: str | None = Query(None, max_length=200),
    status: str | None = Query(None, max_length=16, description=", ".join(STATUSES)),
    claimed_by: str | None = Query(None, max_length=200, description='"key:<name>", ...'),
    submission_id: int | None = Query(None, ge=0, le=MAX_ID),
    before: int | None = Query(None, ge=0, le=MAX_ID, description="Item ids below this one."),
    limit: int = Query(50, ge=1, le=MAX_PAGE, description="At most this many."),
) -> dict[str, Any]:
    page = _review(request).items.list(
        queue=queue,
        status=status,
        claimed_by=claimed_by,
        submission_id=submission_id,
        before=before,
        limit=limit,
        reviewer=who,
    )
    return {"items": page, "next_before": page[-1]["id"] if len(page) == limit else None}


@router.get(
    "/items/{item_id}",
    summary="Show an item and its history",
    response_model=ReviewItemWithHistory,
    responses=error_responses(404),
)
def show_item(request: Request, item_id: ItemId, who: AsReviewer) -> dict[str, Any]:
    return _review(request).items.get(item_id, who)


@router.post(
    "/items/{item_id}/claim",
    summary="Claim an item, or renew this key's claim on it",
    response_model=ReviewItemWithHistory,
    responses=error_responses(404, 409),
)
def claim_item(request: Request, item_id: ItemId, who: AsReviewer) -> dict[str, Any]:
    return _review(request).items.claim(item_id, who)


@router.post(
    "/items/{item_id}/release",
    summary="Give back this key's claim on an item",
    status_code=204,
    response_class=Response,
    responses=error_responses(404),
)
def release_item(request: Request, item_id: ItemId, who: AsReviewer) -> Response:
    review = _review(request)
    review.items.get(item_id, who)  # 404 and 403 as the other routes answer them
    review.items.release(item_id, who)
    return Response(status_code=204)


@router.post(
    "/items/{item_id}/decision",
    summary="Decide on an item: confirm, false_positive, escalate or skip",
    response_model=ReviewItemWithHistory,
    responses=error_responses(404, 409),
)
def decide(
    request: Request, item_id: ItemId, body: DecisionBody, who: AsReviewer
) -> dict[str, Any]:
    """Every decision but a skip closes the item and sets its follow-ups
    going (docs/review.md); a skip gives the claim back."""
    return _review(request).decisions.decide(item_id, who, body.verdict())


@router.post(
    "/items/{item_id}/reopen",
    summary="Open a decided item again",
    response_model=ReviewItemWithHistory,
    responses=error_responses(404, 409),
)
def reopen(
    request: Request, item_id: ItemId, who: AsAdmin, body: ReopenBody | None = None
) -> dict[str, Any]:
    note = body.note if body is not None else ""
    return _review(request).decisions.reopen(item_id, who, note=note)


# -- queues and workload ---------------------------------------------------------------


@router.get(
    "/queues",
    summary="The queues this key may work, with what waits in each",
    response_model=QueueList,
)
def list_queues(request: Request, who: AsReviewer) -> dict[str, Any]:
    return {"queues": _review(request).queues.overview(who)}


@router.put(
    "/queues/{name}",
    summary="Set a queue's description, SLA or access list",
    response_model=QueueSettings,
)
def configure_queue(
    request: Request, name: Annotated[str, Path(max_length=200)], body: QueueConfig, _who: AsAdmin
) -> dict[str, Any]:
    return _review(request).queues.configure(name, **body.model_dump(exclude_none=True))


@router.get(
    "/reveals",
    summary="Reveals per reviewer per day (workload numbers only)",
    response_model=RevealDays,
)
def reveals_per_day(
    request: Request,
    _who: AsAdmin,
    days: int = Query(7, ge=1, le=366, description="The last this many days."),
) -> dict[str, Any]:
    return {"days": _review(request).reveals.per_day(days)}
