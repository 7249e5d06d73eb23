"""Review items: queued, claimed by one reviewer at a time, read back.

    items = Items(database, settings, queues)
    item = items.claim_next(Reviewer("user:alice", role="reviewer"), "default")
    item["id"], item["submission"]["matches"]          # what to look at
    items.list(queue="default", status="open")         # newest first

A claim is a lease: ``claimed_by`` until ``claimed_until``
(``review_claim_minutes`` from the last thing the reviewer did with it), then
the item is anyone's again.  :meth:`Items.claim_next` picks and claims in one
transaction: on PostgreSQL the candidate row is selected ``FOR UPDATE SKIP
LOCKED``, so two reviewers claiming at once take two different items without
waiting for each other; on SQLite the transaction holds the write lock, so
the pick and the claim are one step.  A reviewer who already holds an item of
the queue gets that item again (a reload does not take a second one), and an
item they skipped in the last :data:`SKIP_HOLDS` goes to someone else.
"""

from __future__ import annotations

import builtins
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, exists, or_, select, update
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.actions.rules import FollowUp
from hashmatch.actions.submissions import record_of
from hashmatch.errors import (
    HashmatchError,
    ReviewConflictError,
    ReviewError,
    UnknownReviewItemError,
    UnknownSubmissionError,
)
from hashmatch.fieldlimits import DESCRIPTION_CHARS, MAX_ID, check_text
from hashmatch.review.queues import Queues, check_queue_name, due_times
from hashmatch.review.reviewer import Reviewer
from hashmatch.review.wellness import note_activity
from hashmatch.store.models import as_utc, iso_utc, utcnow
from hashmatch.store.review_models import Appeal, ReviewDecision
from hashmatch.store.workflow import KeptMedia, ReviewItem, Submission, Webhook

if TYPE_CHECKING:
    from hashmatch.settings import Settings
    from hashmatch.store import Database

#: How long a skip keeps an item away from the reviewer who skipped it.
SKIP_HOLDS = timedelta(hours=1)
#: Items per page of a listing, at most.
MAX_PAGE = 500
STATUSES = ("open", "closed")


def item_json(
    item: ReviewItem, submission: Submission, kept: KeptMedia | None, now: datetime
) -> dict[str, Any]:
    """An item as the API, the CLI and the pages show it."""
    claimed = item.claimed_until is not None and as_utc(item.claimed_until) > now
    decided = item.status == "closed"
    return {
        "id": item.id,
        "queue": item.queue,
        "priority": item.priority,
        "status": item.status,
        "rule": item.rule,
        "reason": item.reason,
        "created_at": iso_utc(item.created_at),
        "due_at": iso_utc(item.due_at),
        "overdue": not decided and item.due_at is not None and as_utc(item.due_at) < now,
        "claimed_by": item.claimed_by if claimed and not decided else None,
        "claimed_until": iso_utc(item.claimed_until) if claimed and not decided else None,
        "decision": {
            "decision": item.decision,
            "classification": item.classification,
            "annotations": list(item.annotations or []),
            "note": item.note,
            "decided_by": item.decided_by,
            "decided_at": iso_utc(item.closed_at),
            "escalated_to": item.escalated_to,
        }
        if decided
        else None,
        "escalated_from": item.escalated_from,
        "follow_ups": item.follow_ups or {},
        "submission": record_of(submission, kept),
    }


def check_follow_ups(follow_ups: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """``{"confirm": [...], "false_positive": [...]}`` as stored; ReviewError naming a bad one."""
    checked = {}
    for decision, then in follow_ups.items():
        if decision not in ("confirm", "false_positive") or not isinstance(then, list):
            raise ReviewError(
                "follow_ups maps confirm and false_positive to lists of "
                '{"action": "report"} or {"action": "webhook", "webhook": NAME}'
            )
        try:
            checked[decision] = [FollowUp.model_validate(item).to_json() for item in then]
        except ValueError as error:
            raise ReviewError(f"follow_ups.{decision}: {error}") from None
    return checked


class Items:
    def __init__(self, database: Database, settings: Settings, queues: Queues) -> None:
        self.database = database
        self.settings = settings
        self.queues = queues

    @property
    def claim_time(self) -> timedelta:
        return timedelta(minutes=self.settings.review_claim_minutes)

    # -- queueing ------------------------------------------------------------------

    def create(
        self,
        submission_id: int,
        *,
        queue: str = "default",
        priority: int = 0,
        reason: str = "",
        follow_ups: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Queue a submission for review at the platform's request (its own
        escalations: a user's report, a classifier's score), audited."""
        check_queue_name(queue)
        check_text("reason", reason, max_chars=DESCRIPTION_CHARS)
        if not -(2**31) < priority < 2**31:
            raise ReviewError("priority must fit in 32 bits")
        checked = check_follow_ups(follow_ups or {})
        now = utcnow()
        actor = audit.current_actor().name
        with self.database.transaction() as session:
            if not 0 < submission_id <= MAX_ID or session.get(Submission, submission_id) is None:
                raise UnknownSubmissionError(submission_id)
            named = {
                step["webhook"] for then in checked.values() for step in then if "webhook" in step
            }
            missing = named - set(
                session.scalars(select(Webhook.name).where(Webhook.name.in_(named)))
            )
            if missing:
                raise ReviewError(
                    f"follow_ups name webhooks that do not exist: {', '.join(sorted(missing))}"
                )
            due = due_times(session, [queue], now, self.settings.review_sla_minutes)[queue]
            item = ReviewItem(
                submission_id=submission_id,
                queue=queue,
                priority=priority,
                status="open",
                rule=actor[:100],
                reason=reason,
                follow_ups=checked,
                created_at=now,
                due_at=due,
            )
            session.add(item)
            session.flush()
            audit.record(
                session,
                "review.queue",
                f"review_item:{item.id}",
                after={"submission_id": submission_id, "queue": queue, "priority": priority},
            )
            item_id = item.id
        return self.get(item_id)

    # -- claims ----------------------------------------------------------------------

    def claim_next(self, reviewer: Reviewer, queue: str) -> dict[str, Any] | None:
        """Claim the queue's next item for ``reviewer`` (priority, then age),
        or give back the one they hold already; None when nothing waits."""
        check_queue_name(queue)
        now = utcnow()
        with self.database.transaction() as session:
            self.queues.check_admits(session, queue, reviewer)
            item_id = session.scalar(
                select(ReviewItem.id)
                .where(
                    ReviewItem.queue == queue,
                    ReviewItem.status == "open",
                    ReviewItem.claimed_by == reviewer.name,
                    ReviewItem.claimed_until > now,
                )
                .order_by(ReviewItem.id)
                .limit(1)
            )
            if item_id is None:
                item_id = session.scalar(self._next_free(reviewer, queue, now))
            if item_id is None:
                return None
            self.hold(session, item_id, reviewer, now)
        return self.get(item_id)

    def _next_free(self, reviewer: Reviewer, queue: str, now: datetime) -> Any:
        skipped = exists().where(
            ReviewDecision.item_id == ReviewItem.id,
            ReviewDecision.actor == reviewer.name,
            ReviewDecision.decision == "skip",
            ReviewDecision.created_at > now - SKIP_HOLDS,
        )
        return (
            select(ReviewItem.id)
            .where(
                ReviewItem.queue == queue,
                ReviewItem.status == "open",
                or_(ReviewItem.claimed_until.is_(None), ReviewItem.claimed_until <= now),
                ~skipped,
            )
            .order_by(ReviewItem.priority, ReviewItem.created_at, ReviewItem.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )

    def hold(self, session: Session, item_id: int, reviewer: Reviewer, now: datetime) -> None:
        session.execute(
            update(ReviewItem)
            .where(ReviewItem.id == item_id)
            .values(claimed_by=reviewer.name, claimed_until=now + self.claim_time)
        )
        note_activity(session, reviewer.name, now)

    def claim(self, item_id: int, reviewer: Reviewer) -> dict[str, Any]:
        """Claim one item (or renew the claim held on it): opening an item
        from a list, revealing it, working on it.  ReviewConflictError when it
        is decided or someone else holds it."""
        now = utcnow()
        with self.database.transaction() as session:
            item = self.locked(session, item_id)
            self.queues.check_admits(session, item.queue, reviewer)
            check_open_and_free(item, reviewer, now)
            self.hold(session, item_id, reviewer, now)
        return self.get(item_id)

    def release(self, item_id: int, reviewer: Reviewer) -> None:
        """Give back a claim ``reviewer`` holds (nothing happens otherwise)."""
        with self.database.transaction() as session:
            session.execute(
                update(ReviewItem)
                .where(ReviewItem.id == item_id, ReviewItem.claimed_by == reviewer.name)
                .values(claimed_by=None, claimed_until=None)
            )

    @staticmethod
    def locked(session: Session, item_id: int) -> ReviewItem:
        item = (
            session.scalar(select(ReviewItem).where(ReviewItem.id == item_id).with_for_update())
            if 0 < item_id <= MAX_ID
            else None
        )
        if item is None:
            raise UnknownReviewItemError(item_id)
        return item

    # -- reading -------------------------------------------------------------------------

    def get(self, item_id: int, reviewer: Reviewer | None = None) -> dict[str, Any]:
        """One item with its submission and its history (decisions and
        reveals); ``reviewer``: refused unless its queue admits them."""
        with self.database.reading() as session:
            found = (
                session.execute(self._joined().where(ReviewItem.id == item_id)).first()
                if 0 < item_id <= MAX_ID
                else None
            )
            if found is None:
                raise UnknownReviewItemError(item_id)
            if reviewer is not None:
                self.queues.check_admits(session, found[0].queue, reviewer)
            history = session.scalars(
                select(ReviewDecision)
                .where(ReviewDecision.item_id == item_id)
                .order_by(ReviewDecision.id)
            ).all()
            return {
                **item_json(found[0], found[1], found[2], utcnow()),
                "history": [
                    {
                        "decision": row.decision,
                        "actor": row.actor,
                        "classification": row.classification,
                        "annotations": list(row.annotations or []),
                        "note": row.note,
                        "details": row.details,
                        "at": iso_utc(row.created_at),
                    }
                    for row in history
                ],
            }

    @staticmethod
    def _joined() -> Select[ReviewItem, Submission, KeptMedia]:
        return (
            select(ReviewItem, Submission, KeptMedia)
            .join(Submission, Submission.id == ReviewItem.submission_id)
            .outerjoin(KeptMedia, KeptMedia.submission_id == ReviewItem.submission_id)
        )

    def list(
        self,
        *,
        queue: str | None = None,
        status: str | None = None,
        claimed_by: str | None = None,
        submission_id: int | None = None,
        before: int | None = None,
        limit: int = 50,
        reviewer: Reviewer | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Items, newest first (``before``: ids below this one, the next
        page); only those of queues that admit ``reviewer`` when one is given."""
        if status is not None and status not in STATUSES:
            raise ReviewError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        query = self._joined()
        for column, value in (
            (ReviewItem.queue, queue),
            (ReviewItem.status, status),
            (ReviewItem.claimed_by, claimed_by),
            (ReviewItem.submission_id, submission_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if before is not None:
            query = query.where(ReviewItem.id < before)
        limit = max(1, min(limit, MAX_PAGE))
        now = utcnow()
        with self.database.reading() as session:
            if reviewer is not None:
                if queue is not None:
                    self.queues.check_admits(session, queue, reviewer)
                hidden = self.queues.hidden_from(session, reviewer)
                if hidden:
                    query = query.where(ReviewItem.queue.not_in(hidden))
            rows = session.execute(query.order_by(ReviewItem.id.desc()).limit(limit)).all()
            return [item_json(item, submission, kept, now) for item, submission, kept in rows]


def check_open_and_free(
    item: ReviewItem | Appeal,
    reviewer: Reviewer,
    now: datetime,
    *,
    what: str = "review item",
    conflict: type[HashmatchError] = ReviewConflictError,
) -> None:
    """``conflict`` when ``item`` (a review item, or an appeal, which is
    claimed and decided the same way) is decided, or claimed by someone else."""
    if item.status != "open":
        decided = f"{item.decision} by {item.decided_by}"
        raise conflict(f"{what} {item.id} was decided already ({decided})")
    if (
        item.claimed_by not in (None, reviewer.name)
        and item.claimed_until is not None
        and as_utc(item.claimed_until) > now
    ):
        raise conflict(
            f"{what} {item.id} is claimed by {item.claimed_by} "
            f"until {as_utc(item.claimed_until).isoformat()}"
        )
