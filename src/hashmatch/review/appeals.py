"""Appeals: a user contests a verdict or a review decision, and someone else decides.

    appeals = Appeals(database, settings, review.decisions)
    appeal = appeals.create(AppealTarget(review_item_id=4), text="it is my cat", received_at=now)
    appeals.claim_next(carol)                                   # never the reviewer who decided
    appeals.decide(appeal["id"], carol, "overturn", note="a cat", allowlist_bank="ours-ok")

The platform forwards the appeal (``POST /v1/appeals``); the decision under
appeal is a review item's confirmation, or, where no one reviewed it, the
submission's verdict.  One appeal per decision is open at a time.  Appeals
are worked in the queue :data:`QUEUE` (its access list and claims are the
review queue's), and are handed to the reviewer who made the decision only
when no one else could take them: another enabled user who may review and
whom the queue admits.

``overturn`` reverses what can be reversed, in one transaction: the verdict
becomes ``allow`` (the old one kept in the appeal's outcome and the audit
row), the decision's pending positive opinions are withdrawn and those sent
already are followed by a pending negative one, pending report requests are
withdrawn, the upload's hashes are added to an allowlist bank when asked (and
offered otherwise), and a CyberTipline report already filed is never touched:
an admin is told (audit row ``appeal.report_notice``, a log line) what to do.
``uphold`` closes the appeal.  Both put ``appeal.decided`` in the outbox.
"""

from __future__ import annotations

import builtins
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.actions import outbox
from hashmatch.errors import (
    AppealConflictError,
    AppealError,
    ReviewAccessError,
    UnknownAppealError,
    UnknownReviewItemError,
    UnknownSubmissionError,
)
from hashmatch.fieldlimits import DESCRIPTION_CHARS, MAX_ID, check_text
from hashmatch.review.decisions import allowlist_signals
from hashmatch.review.items import check_open_and_free
from hashmatch.review.reviewer import Reviewer, admits
from hashmatch.review.wellness import note_activity
from hashmatch.statements.build import record_upheld_appeal
from hashmatch.store import Bank
from hashmatch.store.account_models import User
from hashmatch.store.models import as_utc, iso_utc, utcnow
from hashmatch.store.reporting_models import CybertipFile, CybertipReport
from hashmatch.store.review_models import Appeal, Opinion
from hashmatch.store.workflow import ReportRequest, ReviewItem, Submission

if TYPE_CHECKING:
    from hashmatch.review.decisions import Decisions
    from hashmatch.settings import Settings
    from hashmatch.store import Database

log = logging.getLogger(__name__)

#: The review queue appeals are worked in (``hashmatch review queue appeals`` sets who may).
QUEUE = "appeals"
DECISIONS = ("uphold", "overturn")
STATUSES = ("open", "decided")
#: Characters of the user's own words kept with an appeal.
TEXT_CHARS = 5000
#: How far ahead of our clock the platform's received_at may be.
CLOCK_SKEW = timedelta(minutes=5)
#: Appeals per page of a listing, at most.
MAX_PAGE = 500
#: What an admin is told when an overturned decision was reported to NCMEC.
#: hashmatch could not confirm NCMEC's process for a mistaken report; this
#: says what is known to be safe, and never retracts a finished report.
REPORT_NOTICE = (
    "A CyberTipline report holds this upload. hashmatch never retracts a finished report. "
    "Tell NCMEC through your CyberTipline contact that report {ncmec} was found mistaken "
    "on appeal (give the report id and the reason), and keep this record with the report; "
    "follow what NCMEC tells you. A report not yet finished can be retracted by an admin "
    "with `hashmatch cybertip retract {report}`."
)


@dataclass(frozen=True)
class AppealTarget:
    """What the user appeals: exactly one of a submission (by id or by the
    platform's content ref, its newest submission) or a review item."""

    submission_id: int | None = None
    content_ref: str | None = None
    review_item_id: int | None = None

    def check(self) -> None:
        given = [v for v in (self.submission_id, self.content_ref, self.review_item_id) if v]
        if len(given) != 1:
            raise AppealError(
                "an appeal names exactly one of submission_id, content_ref or review_item_id"
            )
        if self.content_ref is not None:
            check_text("content_ref", self.content_ref, max_chars=200, one_line=True)


def appeal_json(appeal: Appeal, now: datetime) -> dict[str, Any]:
    """An appeal as the API, the CLI and the pages show it."""
    claimed = appeal.claimed_until is not None and as_utc(appeal.claimed_until) > now
    is_open = appeal.status == "open"
    return {
        "id": appeal.id,
        "submission_id": appeal.submission_id,
        "review_item_id": appeal.review_item_id,
        "content_ref": appeal.content_ref,
        "text": appeal.text,
        "received_at": iso_utc(appeal.received_at),
        "created_at": iso_utc(appeal.created_at),
        "due_at": iso_utc(appeal.due_at),
        "overdue": is_open and as_utc(appeal.due_at) < now,
        "original_decider": appeal.original_decider,
        "status": appeal.status,
        "decision": appeal.decision,
        "decided_by": appeal.decided_by,
        "decided_at": iso_utc(appeal.decided_at),
        "note": appeal.note,
        "outcome": appeal.outcome or {},
        "claimed_by": appeal.claimed_by if claimed and is_open else None,
        "claimed_until": iso_utc(appeal.claimed_until) if claimed and is_open else None,
    }


class Appeals:
    def __init__(self, database: Database, settings: Settings, decisions: Decisions) -> None:
        self.database = database
        self.settings = settings
        self.decisions = decisions
        self.queues = decisions.items.queues

    # -- taking an appeal -------------------------------------------------------------

    def create(
        self, target: AppealTarget, *, text: str = "", received_at: datetime | None = None
    ) -> dict[str, Any]:
        """Take the platform's appeal, audited.  UnknownSubmissionError or
        UnknownReviewItemError when the target is unknown; AppealError when it
        restricted nothing; AppealConflictError when the decision has an open
        appeal already."""
        target.check()
        check_text("text", text, max_chars=TEXT_CHARS)
        now = utcnow()
        received = now if received_at is None else as_utc(received_at)
        if received > now + CLOCK_SKEW:
            raise AppealError("received_at must not be in the future")
        with self.database.transaction() as session:
            submission, item = _target(session, target)
            if item is None:
                item = _confirmation_of(session, submission.id)
            _check_restricts(session, submission, item)
            appeal = Appeal(
                submission_id=submission.id,
                review_item_id=item.id if item is not None else None,
                content_ref=submission.content_ref,
                text=text,
                received_at=received,
                created_at=now,
                due_at=received + timedelta(hours=self.settings.appeal_due_hours),
                original_decider=item.decided_by if item is not None else None,
                status="open",
                note="",
                outcome={},
            )
            session.add(appeal)
            session.flush()
            audit.record(
                session,
                "appeal.create",
                f"appeal:{appeal.id}",
                after={
                    "submission_id": submission.id,
                    "review_item_id": appeal.review_item_id,
                    "text_chars": len(text),
                },
            )
            appeal_id = appeal.id
        return self.get(appeal_id)

    # -- claims ----------------------------------------------------------------------

    def claim_next(self, reviewer: Reviewer) -> dict[str, Any] | None:
        """Claim the next open appeal for ``reviewer`` (the soonest due), or
        give back the one they hold; never one whose decision they made
        while someone else could take it.  None when nothing waits."""
        now = utcnow()
        with self.database.transaction() as session:
            self.queues.check_admits(session, QUEUE, reviewer)
            appeal_id = session.scalar(
                select(Appeal.id)
                .where(
                    Appeal.status == "open",
                    Appeal.claimed_by == reviewer.name,
                    Appeal.claimed_until > now,
                )
                .order_by(Appeal.id)
                .limit(1)
            )
            if appeal_id is None:
                query = self._free(now)
                if self._others_can_take(session, reviewer):
                    query = query.where(
                        or_(
                            Appeal.original_decider.is_(None),
                            Appeal.original_decider != reviewer.name,
                        )
                    )
                appeal_id = session.scalar(query)
            if appeal_id is None:
                return None
            self._hold(session, appeal_id, reviewer, now)
        return self.get(appeal_id)

    @staticmethod
    def _free(now: datetime) -> Select[int]:
        return (
            select(Appeal.id)
            .where(
                Appeal.status == "open",
                or_(Appeal.claimed_until.is_(None), Appeal.claimed_until <= now),
            )
            .order_by(Appeal.due_at, Appeal.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )

    def claim(self, appeal_id: int, reviewer: Reviewer) -> dict[str, Any]:
        """Claim one appeal (or renew the claim held on it)."""
        now = utcnow()
        with self.database.transaction() as session:
            appeal = _locked(session, appeal_id)
            self._check_may_decide(session, appeal, reviewer, now)
            self._hold(session, appeal_id, reviewer, now)
        return self.get(appeal_id)

    def _hold(self, session: Session, appeal_id: int, reviewer: Reviewer, now: datetime) -> None:
        until = now + timedelta(minutes=self.settings.review_claim_minutes)
        session.execute(
            update(Appeal)
            .where(Appeal.id == appeal_id)
            .values(claimed_by=reviewer.name, claimed_until=until)
        )
        note_activity(session, reviewer.name, now)

    def _others_can_take(self, session: Session, reviewer: Reviewer) -> bool:
        """Whether an enabled user other than ``reviewer`` may review and is
        admitted to the appeals queue."""
        access = self.queues.access_of(session, QUEUE)
        users = session.execute(
            select(User.name, User.role).where(
                User.disabled_at.is_(None), User.role.in_(("admin", "reviewer"))
            )
        ).all()
        return any(
            f"user:{name}" != reviewer.name
            and admits(access, Reviewer(f"user:{name}", role=role, is_admin=role == "admin"))
            for name, role in users
        )

    def _check_may_decide(
        self, session: Session, appeal: Appeal, reviewer: Reviewer, now: datetime
    ) -> None:
        self.queues.check_admits(session, QUEUE, reviewer)
        check_open_and_free(appeal, reviewer, now, what="appeal", conflict=AppealConflictError)
        if appeal.original_decider == reviewer.name and self._others_can_take(session, reviewer):
            raise ReviewAccessError(
                f"{reviewer.name} made the decision under appeal {appeal.id}: "
                "someone else decides it"
            )

    # -- deciding ------------------------------------------------------------------------

    def decide(
        self,
        appeal_id: int,
        reviewer: Reviewer,
        decision: str,
        *,
        note: str = "",
        allowlist_bank: str | None = None,
    ) -> dict[str, Any]:
        """Uphold or overturn, with all an overturn reverses, or nothing; the
        appeal as it is after.  AppealConflictError when it was decided
        already or someone else holds it."""
        if decision not in DECISIONS:
            raise AppealError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
        check_text("note", note, max_chars=DESCRIPTION_CHARS)
        if allowlist_bank is not None:
            if decision != "overturn":
                raise AppealError("only an overturn adds to an allowlist bank")
            check_text("allowlist_bank", allowlist_bank, max_chars=100, one_line=True)
        now = utcnow()
        with self.database.transaction() as session:
            appeal = _locked(session, appeal_id)
            self._check_may_decide(session, appeal, reviewer, now)
            submission = session.get(Submission, appeal.submission_id, with_for_update=True)
            assert submission is not None  # the appeal's foreign key holds it
            outcome = (
                self._overturn(session, appeal, submission, allowlist_bank)
                if decision == "overturn"
                else self._uphold(session, appeal, submission, now)
            )
            appeal.status, appeal.decision, appeal.decided_by = "decided", decision, reviewer.name
            appeal.decided_at, appeal.note, appeal.outcome = now, note, outcome
            appeal.claimed_by = appeal.claimed_until = None
            session.flush()
            audit.record(
                session,
                "appeal.decide",
                f"appeal:{appeal.id}",
                before={"status": "open"},
                after={"decision": decision, "note": note, **outcome},
            )
            outbox.enqueue(
                session,
                "appeal.decided",
                {
                    "appeal_id": appeal.id,
                    "decision": decision,
                    "submission_id": submission.id,
                    "review_item_id": appeal.review_item_id,
                    "content_ref": submission.content_ref,
                    "user_ref": submission.user_ref,
                    "verdict": submission.verdict,
                    "note": note,
                    "decided_by": reviewer.name,
                },
                submission_id=submission.id,
            )
        outbox.wake_deliverers()
        return self.get(appeal_id)

    def _uphold(
        self, session: Session, appeal: Appeal, submission: Submission, now: datetime
    ) -> dict[str, Any]:
        """The restriction stands: its statement of reasons, when those are on."""
        statement = record_upheld_appeal(session, self.settings, appeal.id, submission, now)
        return {} if statement is None else {"statement_id": statement}

    def _overturn(
        self, session: Session, appeal: Appeal, submission: Submission, allowlist_bank: str | None
    ) -> dict[str, Any]:
        outcome: dict[str, Any] = {"previous_verdict": submission.verdict}
        submission.verdict = "allow"
        if appeal.review_item_id is not None:
            outcome["opinions"] = _correct_opinions(session, appeal.review_item_id)
            withdrawn = session.execute(
                update(ReportRequest)
                .where(
                    ReportRequest.review_item_id == appeal.review_item_id,
                    ReportRequest.status == "pending",
                )
                .values(status="withdrawn")
            )
            outcome["report_requests_withdrawn"] = int(withdrawn.rowcount)  # type: ignore[attr-defined]
        outcome["allowlist"] = {
            "banks": sorted(session.scalars(select(Bank.name).where(Bank.kind == "allowlist"))),
            "signals": allowlist_signals(submission),
            "added_to": allowlist_bank,
            "content_id": (
                self.decisions.allowlist(session, allowlist_bank, submission)
                if allowlist_bank is not None
                else None
            ),
        }
        outcome["report"] = _report_notice(session, appeal)
        return outcome

    # -- reading -------------------------------------------------------------------------

    def get(self, appeal_id: int, reviewer: Reviewer | None = None) -> dict[str, Any]:
        """One appeal, with the decision under appeal (the review item, or the
        submission's verdict and matches)."""
        with self.database.reading() as session:
            if reviewer is not None:
                self.queues.check_admits(session, QUEUE, reviewer)
            appeal = session.get(Appeal, appeal_id) if 0 < appeal_id <= MAX_ID else None
            if appeal is None:
                raise UnknownAppealError(appeal_id)
            found = appeal_json(appeal, utcnow())
        if appeal.review_item_id is not None:
            found["appealed"] = self.decisions.items.get(appeal.review_item_id)
        else:
            found["appealed"] = None
        return found

    def list(
        self,
        *,
        status: str | None = None,
        overdue: bool = False,
        before: int | None = None,
        limit: int = 50,
        reviewer: Reviewer | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Appeals, newest first; ``overdue``: open ones past their due time."""
        if status is not None and status not in STATUSES:
            raise AppealError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        now = utcnow()
        query = select(Appeal)
        if status is not None:
            query = query.where(Appeal.status == status)
        if overdue:
            query = query.where(Appeal.status == "open", Appeal.due_at < now)
        if before is not None:
            query = query.where(Appeal.id < before)
        limit = max(1, min(limit, MAX_PAGE))
        with self.database.reading() as session:
            if reviewer is not None:
                self.queues.check_admits(session, QUEUE, reviewer)
            rows = session.scalars(query.order_by(Appeal.id.desc()).limit(limit)).all()
            return [appeal_json(row, now) for row in rows]

    def counts(self) -> dict[str, int]:
        """Open and overdue appeals, for the dashboard."""
        now = utcnow()
        with self.database.reading() as session:
            row = session.execute(
                select(func.count(), func.count(Appeal.id).filter(Appeal.due_at < now)).where(
                    Appeal.status == "open"
                )
            ).one()
        return {"open": int(row[0]), "overdue": int(row[1])}


def _locked(session: Session, appeal_id: int) -> Appeal:
    appeal = (
        session.scalar(select(Appeal).where(Appeal.id == appeal_id).with_for_update())
        if 0 < appeal_id <= MAX_ID
        else None
    )
    if appeal is None:
        raise UnknownAppealError(appeal_id)
    return appeal


def _target(session: Session, target: AppealTarget) -> tuple[Submission, ReviewItem | None]:
    """The submission (locked, so two appeals of it are taken one after the
    other) and the review item appealed."""
    item = None
    if target.review_item_id is not None:
        item = (
            session.get(ReviewItem, target.review_item_id)
            if 0 < target.review_item_id <= MAX_ID
            else None
        )
        if item is None:
            raise UnknownReviewItemError(target.review_item_id)
        submission_id: int | None = item.submission_id
    elif target.content_ref is not None:
        submission_id = session.scalar(
            select(func.max(Submission.id)).where(Submission.content_ref == target.content_ref)
        )
        if submission_id is None:
            raise AppealError(f"no submission has content_ref {target.content_ref!r}")
    else:
        submission_id = target.submission_id
    submission = (
        session.get(Submission, submission_id, with_for_update=True)
        if submission_id is not None and 0 < submission_id <= MAX_ID
        else None
    )
    if submission is None:
        raise UnknownSubmissionError(submission_id or 0)
    return submission, item


def _confirmation_of(session: Session, submission_id: int) -> ReviewItem | None:
    """The submission's latest confirmed review item: the decision a
    verdict's appeal is really about, when someone reviewed it."""
    return session.scalar(
        select(ReviewItem)
        .where(ReviewItem.submission_id == submission_id, ReviewItem.decision == "confirm")
        .order_by(ReviewItem.id.desc())
        .limit(1)
    )


def _check_restricts(session: Session, submission: Submission, item: ReviewItem | None) -> None:
    """AppealError unless the decision restricted something and is not
    overturned already; AppealConflictError while an appeal of it is open."""
    if item is not None and item.decision != "confirm":
        raise AppealError(
            f"review item {item.id} is still open: nothing to appeal yet"
            if item.status == "open"
            else f"review item {item.id} was decided {item.decision}: it restricted nothing"
        )
    if item is None and submission.verdict == "allow":
        raise AppealError(
            f"submission {submission.id} was allowed and no one confirmed it: it restricted nothing"
        )
    earlier = session.execute(
        select(Appeal.id, Appeal.status, Appeal.decision)
        .where(Appeal.submission_id == submission.id)
        .where(or_(Appeal.status == "open", Appeal.decision == "overturn"))
        .limit(1)
    ).first()
    if earlier is not None and earlier.status == "open":
        raise AppealConflictError(f"appeal {earlier.id} of this decision is open already")
    if earlier is not None:
        raise AppealError(f"appeal {earlier.id} overturned this decision already")


def _correct_opinions(session: Session, item_id: int) -> dict[str, int]:
    """The item's positive opinions: pending ones withdrawn, sent ones
    followed by a pending negative one for the sender."""
    positive = (Opinion.item_id == item_id, Opinion.opinion == "positive")
    withdrawn = session.execute(
        update(Opinion).where(*positive, Opinion.status == "pending").values(status="withdrawn")
    )
    sent = session.scalars(select(Opinion).where(*positive, Opinion.status == "sent")).all()
    now = utcnow()
    session.add_all(
        Opinion(
            item_id=item_id,
            bank=row.bank,
            content_id=row.content_id,
            external_id=row.external_id,
            source=row.source,
            opinion="negative",
            signal_types=list(row.signal_types),
            status="pending",
            created_at=now,
        )
        for row in sent
    )
    return {"withdrawn": int(withdrawn.rowcount), "corrected": len(sent)}  # type: ignore[attr-defined]


def _report_notice(session: Session, appeal: Appeal) -> dict[str, Any] | None:
    """A CyberTipline report holding the upload: an audit row and a log line
    for the admins, and what they should do; None when none holds it."""
    found = session.execute(
        select(CybertipReport.id, CybertipReport.status, CybertipReport.ncmec_report_id)
        .join(CybertipFile, CybertipFile.report_id == CybertipReport.id)
        .where(CybertipFile.submission_id == appeal.submission_id)
        .order_by(CybertipReport.id.desc())
        .limit(1)
    ).first()
    if found is None:
        return None
    notice = {
        "report_id": found.id,
        "status": found.status,
        "ncmec_report_id": found.ncmec_report_id,
        "what_to_do": REPORT_NOTICE.format(
            ncmec=found.ncmec_report_id or "(not yet numbered)", report=found.id
        ),
    }
    audit.record(session, "appeal.report_notice", f"cybertip_report:{found.id}", after=notice)
    log.warning(
        "appeal %s overturned a decision reported to NCMEC in report %s (%s): an admin must act",
        appeal.id,
        found.id,
        found.status,
    )
    return notice
