"""Decisions on review items, and what each sets going, in one transaction.

    decisions.decide(item_id, reviewer, Verdict("confirm", classification="A1"))
    decisions.decide(item_id, reviewer, Verdict("false_positive", allowlist_bank="ours-ok"))
    decisions.decide(item_id, reviewer, Verdict("escalate", queue="senior"))
    decisions.reopen(item_id, admin, note="decided on the wrong item")

* ``confirm`` (classification A1, A2, B1 or B2; NCMEC's file annotations
  optional) records a positive opinion on each matched bank content and
  runs the item's ``confirm`` follow-ups (a report request, an event to a
  webhook).
* ``false_positive`` records a negative opinion on each matched content
  (exchanges send them back to the source), optionally adds the upload's
  hashes to an allowlist bank, and runs the ``false_positive`` follow-ups.
* ``escalate`` closes the item and queues it again in another queue.
* ``skip`` gives the claim back; the item goes to someone else.

Every decision but a skip is final: the item is closed, its
``review.decided`` event is in the outbox, its kept media purged unless a
report request or another open item needs it, and only an admin may reopen
it.  A decision is taken only while the item is open and not claimed by
someone else: the check and the change are one conditional step under the
item's row lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.actions import outbox
from hashmatch.actions.upkeep import purge_if_unneeded
from hashmatch.errors import ReviewAccessError, ReviewConflictError, ReviewError
from hashmatch.exchange.catalog import exchange_named
from hashmatch.fieldlimits import DESCRIPTION_CHARS, check_text
from hashmatch.hashlists import Entry
from hashmatch.reporting.cybertip.content import CLASSIFICATIONS
from hashmatch.reporting.cybertip.schema import SEQUENCES
from hashmatch.review.items import Items, check_open_and_free
from hashmatch.review.queues import check_queue_name, due_times
from hashmatch.review.reviewer import Reviewer
from hashmatch.signals import get_signal_type
from hashmatch.signals.base import VideoSignalType
from hashmatch.statements.build import record_review
from hashmatch.store import Bank
from hashmatch.store.models import utcnow
from hashmatch.store.review_models import Opinion, ReviewDecision
from hashmatch.store.workflow import ReportRequest, ReviewItem, Submission

if TYPE_CHECKING:
    from hashmatch.banks import Banks
    from hashmatch.settings import Settings
    from hashmatch.store import Database

DECISIONS = ("confirm", "false_positive", "escalate", "skip")
#: NCMEC's CyberTipline file annotations, which a confirmation may add (it
#: gives one of CLASSIFICATIONS).
ANNOTATIONS = SEQUENCES["fileAnnotations"]


@dataclass(frozen=True)
class Verdict:
    """What a reviewer decided, with what the decision needs."""

    decision: str
    classification: str | None = None
    annotations: tuple[str, ...] = ()
    note: str = ""
    #: false_positive: add the upload's hashes to this allowlist bank.
    allowlist_bank: str | None = None
    #: escalate: the queue, and the new item's priority (None: the item's).
    queue: str | None = None
    priority: int | None = None

    def check(self) -> None:
        """ReviewError naming what the decision lacks or does not take."""
        if self.decision not in DECISIONS:
            raise ReviewError(
                f"decision must be one of {', '.join(DECISIONS)}, not {self.decision!r}"
            )
        check_text("note", self.note, max_chars=DESCRIPTION_CHARS)
        if self.decision == "confirm":
            if self.classification not in CLASSIFICATIONS:
                raise ReviewError(
                    f"a confirmation needs a classification: {', '.join(CLASSIFICATIONS)}"
                )
            unknown = sorted(set(self.annotations) - set(ANNOTATIONS))
            if unknown:
                raise ReviewError(
                    f"unknown annotations {', '.join(unknown)}; known: {', '.join(ANNOTATIONS)}"
                )
        elif self.classification is not None or self.annotations:
            raise ReviewError("only a confirmation has a classification and annotations")
        if self.decision == "escalate":
            if self.queue is None:
                raise ReviewError("an escalation names the queue it goes to")
            check_queue_name(self.queue)
            if self.priority is not None and not -(2**31) < self.priority < 2**31:
                raise ReviewError("priority must fit in 32 bits")
        elif self.queue is not None or self.priority is not None:
            raise ReviewError("only an escalation names a queue and a priority")
        if self.allowlist_bank is not None:
            if self.decision != "false_positive":
                raise ReviewError("only a false positive adds to an allowlist bank")
            # PostgreSQL refuses a NUL in the bank lookup: a 500, not a 400.
            check_text("allowlist_bank", self.allowlist_bank, max_chars=100, one_line=True)


class Decisions:
    def __init__(self, database: Database, settings: Settings, items: Items, banks: Banks) -> None:
        self.database = database
        self.settings = settings
        self.items = items
        self.banks = banks

    def decide(self, item_id: int, reviewer: Reviewer, verdict: Verdict) -> dict[str, Any]:
        """Take ``verdict`` on the item and everything it sets going, or
        nothing; the item as it is after.  ReviewConflictError when it was
        decided already or someone else holds it."""
        verdict.check()
        now = utcnow()
        with self.database.transaction() as session:
            item = self.items.locked(session, item_id)
            self.items.queues.check_admits(session, item.queue, reviewer)
            check_open_and_free(item, reviewer, now)
            if verdict.decision == "escalate" and verdict.queue == item.queue:
                raise ReviewError(f"review item {item_id} is in queue {item.queue!r} already")
            _history(session, item_id, reviewer, verdict, now)
            if verdict.decision == "skip":
                item.claimed_by = item.claimed_until = None
                audit.record(session, "review.skip", f"review_item:{item_id}", after=_said(verdict))
            else:
                self._close(session, item, reviewer, verdict, now)
        if verdict.decision != "skip":
            outbox.wake_deliverers()
        return self.items.get(item_id)

    def _close(
        self,
        session: Session,
        item: ReviewItem,
        reviewer: Reviewer,
        verdict: Verdict,
        now: datetime,
    ) -> None:
        submission = session.get(Submission, item.submission_id)
        assert submission is not None  # the item's foreign key holds it
        details: dict[str, Any] = {}
        if verdict.decision == "escalate":
            details["escalated_to"] = self._escalate(session, item, verdict, now)
        if verdict.decision in ("confirm", "false_positive"):
            opinion = "positive" if verdict.decision == "confirm" else "negative"
            details["opinions"] = _record_opinions(
                session, item.id, submission.matches, opinion, now
            )
        if verdict.decision == "confirm":
            record_review(session, self.settings, item.id, submission, now)
        if verdict.allowlist_bank is not None:
            details["allowlisted"] = self.allowlist(session, verdict.allowlist_bank, submission)
        follow_ups = (item.follow_ups or {}).get(verdict.decision, [])
        reports = [step for step in follow_ups if step["action"] == "report"]
        if reports:
            session.add(
                ReportRequest(
                    submission_id=submission.id,
                    rule=item.rule,
                    review_item_id=item.id,
                    status="pending",
                    created_at=now,
                )
            )
            details["report_requested"] = True
        item.status, item.closed_at = "closed", now
        item.decision, item.decided_by = verdict.decision, reviewer.name
        item.classification, item.annotations = verdict.classification, list(verdict.annotations)
        item.note, item.escalated_to = verdict.note, details.get("escalated_to")
        item.claimed_by = item.claimed_until = None
        session.flush()
        audit.record(
            session,
            "review.decide",
            f"review_item:{item.id}",
            before={"status": "open"},
            after={**_said(verdict), **details},
        )
        webhooks = tuple(step["webhook"] for step in follow_ups if step["action"] == "webhook")
        data = {
            "review_item_id": item.id,
            "queue": item.queue,
            "submission_id": submission.id,
            "content_ref": submission.content_ref,
            "user_ref": submission.user_ref,
            "decision": verdict.decision,
            "classification": verdict.classification,
            "annotations": list(verdict.annotations),
            "note": verdict.note,
            "decided_by": reviewer.name,
            "escalated_to": details.get("escalated_to"),
            "report_requested": bool(reports),
        }
        outbox.enqueue_many(
            session,
            [outbox.Announcement("review.decided", data, webhooks)],
            submission_id=submission.id,
        )
        purge_if_unneeded(
            session,
            submission.id,
            keep_confirmed=timedelta(days=self.settings.report_keep_confirmed_days),
        )

    def _escalate(self, session: Session, item: ReviewItem, verdict: Verdict, now: datetime) -> int:
        assert verdict.queue is not None  # Verdict.check
        due = due_times(session, [verdict.queue], now, self.settings.review_sla_minutes)
        escalated = ReviewItem(
            submission_id=item.submission_id,
            queue=verdict.queue,
            priority=item.priority if verdict.priority is None else verdict.priority,
            status="open",
            rule=item.rule,
            reason=item.reason,
            follow_ups=item.follow_ups,
            created_at=now,
            due_at=due[verdict.queue],
            escalated_from=item.id,
        )
        session.add(escalated)
        session.flush()
        return escalated.id

    def allowlist(self, session: Session, bank: str, submission: Submission) -> int | None:
        """Add the upload's hashes to allowlist ``bank``; the content id
        (None: the bank has them already).  Also an overturned appeal's offer."""
        kind = session.scalar(select(Bank.kind).where(Bank.name == bank))
        if kind != "allowlist":
            raise ReviewError(
                f"bank {bank!r} does not exist"
                if kind is None
                else f"bank {bank!r} is not an allowlist"
            )
        signals = allowlist_signals(submission)
        if not signals:
            raise ReviewError("the upload has no hashes an allowlist bank can hold")
        entry = Entry(
            signals=signals,
            note=f"false positive: review of submission {submission.id} ({submission.content_ref})",
        )
        return self.banks.add_in(session, bank, entry, source="review")

    def reopen(self, item_id: int, reviewer: Reviewer, note: str = "") -> dict[str, Any]:
        """Open a decided item again (admins only), audited: its opinions and
        report requests not yet acted on are withdrawn; an escalation's new
        item, an allowlist entry and a report already filed stay."""
        if not reviewer.is_admin:
            raise ReviewAccessError("only an admin may reopen a decided review item")
        check_text("note", note, max_chars=DESCRIPTION_CHARS)
        now = utcnow()
        with self.database.transaction() as session:
            item = self.items.locked(session, item_id)
            if item.status != "closed":
                raise ReviewConflictError(f"review item {item_id} is open already")
            before = {"status": "closed", "decision": item.decision, "decided_by": item.decided_by}
            withdrawn = {
                "opinions": _withdraw(session, Opinion, Opinion.item_id, item_id),
                "report_requests": _withdraw(
                    session, ReportRequest, ReportRequest.review_item_id, item_id
                ),
            }
            item.status, item.closed_at, item.decision, item.decided_by = "open", None, None, None
            item.classification, item.annotations, item.note = None, [], ""
            item.escalated_to = None
            session.add(
                ReviewDecision(
                    item_id=item_id,
                    decision="reopen",
                    actor=reviewer.name,
                    note=note,
                    details=withdrawn,
                    annotations=[],
                    created_at=now,
                )
            )
            audit.record(
                session,
                "review.reopen",
                f"review_item:{item_id}",
                before=before,
                after={"status": "open", "note": note, **withdrawn},
            )
        return self.items.get(item_id)


def allowlist_signals(submission: Submission) -> dict[str, str]:
    """The upload's hashes an allowlist bank can hold (one per signal type, no video)."""
    return {
        name: values[0]
        for name, values in submission.signals.items()
        if len(values) == 1 and not isinstance(get_signal_type(name), VideoSignalType)
    }


def _said(verdict: Verdict) -> dict[str, Any]:
    said: dict[str, Any] = {"decision": verdict.decision, "note": verdict.note}
    if verdict.classification is not None:
        said["classification"] = verdict.classification
        said["annotations"] = list(verdict.annotations)
    if verdict.queue is not None:
        said["queue"] = verdict.queue
    if verdict.allowlist_bank is not None:
        said["allowlist_bank"] = verdict.allowlist_bank
    return said


def _history(
    session: Session, item_id: int, reviewer: Reviewer, verdict: Verdict, now: datetime
) -> None:
    details = {
        key: value
        for key, value in (("queue", verdict.queue), ("allowlist_bank", verdict.allowlist_bank))
        if value is not None
    }
    session.add(
        ReviewDecision(
            item_id=item_id,
            decision=verdict.decision,
            actor=reviewer.name,
            classification=verdict.classification,
            annotations=list(verdict.annotations),
            note=verdict.note,
            details=details,
            created_at=now,
        )
    )


def _record_opinions(
    session: Session, item_id: int, matches: Sequence[dict[str, Any]], opinion: str, now: datetime
) -> int:
    """One opinion per matched bank content (allowlist suppressions left
    out), with the signal types it matched by; pending where an exchange
    sent the content (the opinion sender tells it), else ``not_sent``; how many."""
    rows: dict[tuple[str, int], Opinion] = {}
    for match in matches:
        if match.get("suppressed"):
            continue
        key = (str(match.get("bank")), int(match.get("content_id", 0)))
        signal_type = str(match.get("signal_type") or "")
        if key in rows:
            if signal_type and signal_type not in rows[key].signal_types:
                rows[key].signal_types = [*rows[key].signal_types, signal_type]
            continue
        source = match.get("source")
        rows[key] = Opinion(
            item_id=item_id,
            bank=key[0],
            content_id=key[1],
            external_id=match.get("external_id"),
            source=source,
            opinion=opinion,
            signal_types=[signal_type] if signal_type else [],
            status="pending" if exchange_named(source) else "not_sent",
            created_at=now,
        )
    session.add_all(rows.values())
    return len(rows)


def _withdraw(session: Session, table: Any, column: Any, item_id: int) -> int:
    result = session.execute(
        update(table).where(column == item_id, table.status == "pending").values(status="withdrawn")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
