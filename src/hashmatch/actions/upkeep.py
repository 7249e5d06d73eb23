"""Periodic upkeep of the workflow's tables (the deliverer runs it every minute).

    run_upkeep(database, settings)
    # {"media_purged": 2, "dedupe_keys_cleared": 40, "delivery_attempts_pruned": 310,
    #  "evidence_purged": 1}

* Kept media is deleted once no open review item, no pending report
  request and no CyberTipline report of its submission needs it (one not
  finished, or finished with its evidence not preserved yet), and no
  confirmed item waits to be reported (for ``report_keep_confirmed_days``
  after its confirmation, so that a person can still press "Report to
  NCMEC"); each purge has its audit entry.
* Idempotency keys older than the window are cleared, so the unique index
  holds only live ones and a later submission may use the key again.
* The delivery log keeps ``delivery_log_days``.
* Evidence past its retention with no legal hold is purged (audited);
  ``reporting/evidence.py``.
* Submissions past ``submission_retention_days`` (when set) are deleted with
  what hangs off them, unless still needed (``platform_users/retention.py``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, exists, select, update
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.actions.outbox import prune_delivery_log
from hashmatch.platform_users.retention import purge_expired_submissions
from hashmatch.reporting.evidence import Evidence
from hashmatch.store.models import utcnow
from hashmatch.store.reporting_models import CybertipFile, CybertipReport, EvidencePackage
from hashmatch.store.workflow import KeptMedia, ReportRequest, ReviewItem, Submission

if TYPE_CHECKING:
    from hashmatch.settings import Settings
    from hashmatch.store import Database

#: Kept media purged per transaction (each purge writes an audit entry).
PURGE_BATCH = 500


def run_upkeep(database: Database, settings: Settings) -> dict[str, int]:
    """One round of upkeep; how many of each thing it removed."""
    return {
        "media_purged": purge_kept_media(
            database, keep_confirmed=timedelta(days=settings.report_keep_confirmed_days)
        ),
        "dedupe_keys_cleared": clear_dedupe_keys(
            database, timedelta(hours=settings.submission_dedupe_hours)
        ),
        "delivery_attempts_pruned": prune_delivery_log(
            database, timedelta(days=settings.delivery_log_days)
        ),
        "evidence_purged": len(Evidence(database, settings).purge_due()),
        "submissions_purged": (
            purge_expired_submissions(database, timedelta(days=settings.submission_retention_days))
            if settings.submission_retention_days > 0
            else 0
        ),
    }


def _needed(keep_confirmed: timedelta) -> ColumnElement[bool]:
    """Kept media that an open review item, a pending report request, a
    CyberTipline report (one not finished yet — a failed one may be retried —
    or finished with its evidence not preserved yet), or a confirmation not
    reported yet and younger than ``keep_confirmed`` needs."""
    return (
        exists().where(
            ReviewItem.submission_id == KeptMedia.submission_id, ReviewItem.status == "open"
        )
        | exists().where(
            ReportRequest.submission_id == KeptMedia.submission_id,
            ReportRequest.status == "pending",
        )
        | exists().where(
            CybertipFile.submission_id == KeptMedia.submission_id,
            CybertipReport.id == CybertipFile.report_id,
            (CybertipReport.status.in_(("draft", "submitted", "files_uploaded", "failed")))
            | (
                (CybertipReport.status == "finished")
                & ~exists().where(EvidencePackage.report_id == CybertipReport.id)
            ),
        )
        | exists().where(
            ReviewItem.submission_id == KeptMedia.submission_id,
            ReviewItem.decision == "confirm",
            ReviewItem.closed_at > utcnow() - keep_confirmed,
            ~exists().where(CybertipFile.review_item_id == ReviewItem.id),
        )
    )


def _purge(session: Session, kept: KeptMedia, actor: audit.Actor | None) -> None:
    session.delete(kept)
    audit.record(
        session,
        "media.purge",
        f"submission:{kept.submission_id}",
        before={"size": kept.size, "key_id": kept.key_id},
        actor=actor,
    )


def purge_if_unneeded(session: Session, submission_id: int, *, keep_confirmed: timedelta) -> bool:
    """In the caller's transaction (a review decision's, a report's): purge
    the submission's kept media unless something still needs it (see
    ``_needed``), audited as the caller's; whether it was purged."""
    kept = session.scalar(
        select(KeptMedia).where(KeptMedia.submission_id == submission_id, ~_needed(keep_confirmed))
    )
    if kept is None:
        return False
    _purge(session, kept, None)
    return True


def purge_kept_media(database: Database, *, keep_confirmed: timedelta) -> int:
    """Delete kept media that nothing needs any more, auditing each; how many."""
    purged = 0
    while True:
        with database.transaction() as session:
            # Locked on PostgreSQL, so that two upkeeps never purge (and audit) one row twice.
            rows = session.scalars(
                select(KeptMedia)
                .where(~_needed(keep_confirmed))
                .order_by(KeptMedia.id)
                .limit(PURGE_BATCH)
                .with_for_update(skip_locked=True)
            ).all()
            for kept in rows:
                _purge(session, kept, audit.SYSTEM)
        purged += len(rows)
        if len(rows) < PURGE_BATCH:
            return purged


def clear_dedupe_keys(database: Database, window: timedelta) -> int:
    """Free the idempotency keys of submissions older than ``window``; how many."""
    with database.transaction() as session:
        result = session.execute(
            update(Submission)
            .where(Submission.dedupe_key.is_not(None), Submission.created_at < utcnow() - window)
            .values(dedupe_key=None)
        )
    return int(result.rowcount)  # type: ignore[attr-defined]
