"""Erasing a platform user's records, except what a preserved report holds.

    done = erase(database, "user-81")
    done.deleted   # {"submissions": 12, "matches": 3, "review_items": 2, ...}
    done.kept      # [{"kind": "report", "id": 4, "reason": "..."}, ...]

Everything tied to the user's submissions goes, in one transaction: the
submissions and their matches, review items and decisions (reveals and
opinions with them), appeals, report requests, kept media, outbox events
(deliveries with them), statements of reasons, and CyberTipline reports still
in ``draft`` or ``failed``.  A report in any other state has been sent to
NCMEC (or is being sent): it, the submissions it holds (with their review
items and media) and its evidence package (under retention, or a legal hold)
stay, and the erasure names each of them and why.

The erasure works on the submissions it found and locked when it began: a
submission the platform makes for the same user while it runs is not
touched (on SQLite it waits for the erasure; on PostgreSQL it is a row the
erasure never saw).  Erasing again deletes nothing more and names the same
kept records.  The audit entry (``platform_user.erase``) names the user by
a digest and counts what went; it holds none of the erased data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Delete, delete, or_, select
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.errors import PlatformUserError
from hashmatch.platform_users.kinds import USER_REF_CHARS
from hashmatch.store.models import iso_utc, utcnow
from hashmatch.store.reporting_models import (
    CybertipFile,
    CybertipReport,
    EvidenceHold,
    EvidencePackage,
)
from hashmatch.store.review_models import Appeal, ReviewDecision
from hashmatch.store.statement_models import Statement
from hashmatch.store.workflow import Event, KeptMedia, ReportRequest, ReviewItem, Submission

if TYPE_CHECKING:
    from hashmatch.store import Database

#: Reports that may be deleted with the user: never sent to NCMEC, or sent and refused.
ERASABLE_REPORT_STATES = ("draft", "failed")
#: Ids per ``IN (...)`` list (SQLite takes at most 32,766 parameters a statement).
CHUNK = 1000


@dataclass
class Erasure:
    """What an erasure deleted (how many of each) and what it kept (and why)."""

    user_ref: str
    deleted: dict[str, int] = field(default_factory=dict)
    kept: list[dict[str, Any]] = field(default_factory=list)

    @property
    def found(self) -> bool:
        """Whether anything was known about the user (deleted now, or kept)."""
        return any(self.deleted.values()) or bool(self.kept)

    def to_json(self) -> dict[str, Any]:
        return {"user_ref": self.user_ref, "deleted": self.deleted, "kept": self.kept}


def user_digest(user_ref: str) -> str:
    """How the audit log names a user: not the platform's id itself."""
    return hashlib.sha256(user_ref.encode()).hexdigest()


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


def _delete(session: Session, statement: Delete, column: Any, ids: Sequence[int]) -> int:
    """``statement`` restricted to ``column IN ids``, a chunk at a time; rows deleted."""
    deleted = 0
    for chunk in _chunks(ids):
        result = session.execute(statement.where(column.in_(chunk)))
        deleted += int(result.rowcount)  # type: ignore[attr-defined]
    return deleted


def _select_in(session: Session, query: Any, column: Any, ids: Sequence[int]) -> list[Any]:
    return [
        row for chunk in _chunks(ids) for row in session.execute(query.where(column.in_(chunk)))
    ]


def _reports(
    session: Session, user_ref: str, submission_ids: Sequence[int]
) -> list[CybertipReport]:
    """The user's reports: by their user_ref, or holding one of their submissions."""
    holding = {
        row.report_id
        for row in _select_in(
            session, select(CybertipFile.report_id), CybertipFile.submission_id, submission_ids
        )
    }
    return list(
        session.scalars(
            select(CybertipReport)
            .where(or_(CybertipReport.user_ref == user_ref, CybertipReport.id.in_(holding)))
            .order_by(CybertipReport.id)
            .with_for_update()
        )
    )


def _keep_preserved(
    session: Session, preserved: Sequence[CybertipReport], erasure: Erasure
) -> set[int]:
    """Name the preserved reports, their evidence and the submissions they
    hold in ``erasure.kept``; those submissions' ids."""
    report_ids = [report.id for report in preserved]
    held: dict[int, int] = dict(
        _select_in(
            session,
            select(CybertipFile.submission_id, CybertipFile.report_id),
            CybertipFile.report_id,
            report_ids,
        )
    )
    packages = _select_in(session, select(EvidencePackage), EvidencePackage.report_id, report_ids)
    now = utcnow()
    holds = {
        row.package_id
        for row in _select_in(
            session,
            select(EvidenceHold.package_id).where(
                EvidenceHold.released_at.is_(None),
                or_(EvidenceHold.until.is_(None), EvidenceHold.until > now),
            ),
            EvidenceHold.package_id,
            [package.id for (package,) in packages],
        )
    }
    for report in preserved:
        erasure.kept.append(
            {
                "kind": "report",
                "id": report.id,
                "status": report.status,
                "ncmec_report_id": report.ncmec_report_id,
                "reason": f"a CyberTipline report in state {report.status!r} is preserved",
            }
        )
    for (package,) in packages:
        if package.status != "kept":
            continue
        why = (
            "under a legal hold"
            if package.id in holds
            else f"under retention until {iso_utc(package.retain_until)}"
        )
        erasure.kept.append(
            {
                "kind": "evidence",
                "id": package.id,
                "report_id": package.report_id,
                "retain_until": iso_utc(package.retain_until),
                "held": package.id in holds,
                "reason": f"the evidence of report {package.report_id}, {why}",
            }
        )
    for submission_id, report_id in sorted(held.items()):
        erasure.kept.append(
            {
                "kind": "submission",
                "id": submission_id,
                "report_id": report_id,
                "reason": f"held by CyberTipline report {report_id} "
                "(kept with its matches, review items and media)",
            }
        )
    return set(held)


def erase_submissions(session: Session, ids: Sequence[int], erasure: Erasure) -> None:
    """Delete the submissions ``ids`` and everything tied to them (no report
    file may hold them), counting each kind in ``erasure.deleted``."""
    items = [
        row.id
        for row in _select_in(
            session,
            select(ReviewItem.id).order_by(ReviewItem.id).with_for_update(),
            ReviewItem.submission_id,
            ids,
        )
    ]
    erasure.deleted["matches"] = sum(
        len(row.matches or [])
        for row in _select_in(session, select(Submission.matches), Submission.id, ids)
    )
    counted = erasure.deleted
    counted["statements"] = _delete(session, delete(Statement), Statement.submission_id, ids)
    counted["outbox_events"] = _delete(session, delete(Event), Event.submission_id, ids)
    counted["appeals"] = _delete(session, delete(Appeal), Appeal.submission_id, ids)
    counted["review_decisions"] = _delete(
        session, delete(ReviewDecision), ReviewDecision.item_id, items
    )
    counted["review_items"] = _delete(session, delete(ReviewItem), ReviewItem.id, items)
    counted["report_requests"] = _delete(
        session, delete(ReportRequest), ReportRequest.submission_id, ids
    )
    counted["kept_media"] = _delete(session, delete(KeptMedia), KeptMedia.submission_id, ids)
    counted["submissions"] = _delete(session, delete(Submission), Submission.id, ids)


def collect(session: Session, user_ref: str) -> list[int]:
    """The user's submissions, locked (PostgreSQL) until the erasure commits;
    a separate step so that tests can pause an erasure here.

    Their review items are locked first, in the order a review decision
    takes its locks (the item, then its submission by the rows it writes):
    taking the submissions first would deadlock with a decision under way."""
    mine = Submission.user_ref == user_ref
    session.execute(
        select(ReviewItem.id)
        .join(Submission, Submission.id == ReviewItem.submission_id)
        .where(mine)
        .order_by(ReviewItem.id)
        .with_for_update(of=ReviewItem)
    )
    return list(
        session.scalars(select(Submission.id).where(mine).order_by(Submission.id).with_for_update())
    )


def erase(database: Database, user_ref: str) -> Erasure:
    """Erase the user's records but what preserved reports hold, in one
    transaction, audited as the current actor; what went and what stayed."""
    if not user_ref or len(user_ref) > USER_REF_CHARS:
        raise PlatformUserError(f"user_ref must be 1 to {USER_REF_CHARS} characters")
    erasure = Erasure(user_ref)
    with database.transaction() as session:
        submissions = collect(session, user_ref)
        reports = _reports(session, user_ref, submissions)
        erasable = [r.id for r in reports if r.status in ERASABLE_REPORT_STATES]
        preserved = [r for r in reports if r.status not in ERASABLE_REPORT_STATES]
        held = _keep_preserved(session, preserved, erasure)
        gone = [submission for submission in submissions if submission not in held]
        # Files first: a report file holds its submission (ON DELETE RESTRICT).
        _delete(session, delete(CybertipFile), CybertipFile.report_id, erasable)
        erasure.deleted["reports"] = _delete(
            session, delete(CybertipReport), CybertipReport.id, erasable
        )
        erase_submissions(session, gone, erasure)
        if erasure.found:
            audit.record(
                session,
                "platform_user.erase",
                f"platform_user:sha256:{user_digest(user_ref)}",
                after={
                    "deleted": erasure.deleted,
                    "kept": [{"kind": k["kind"], "id": k["id"]} for k in erasure.kept],
                },
            )
    return erasure
