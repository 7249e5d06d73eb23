"""Submissions past ``submission_retention_days``, deleted by upkeep with
everything tied to them (as an erasure deletes them), so that a user's
history holds only what the platform's retention allows.

    purge_expired_submissions(database, timedelta(days=90))   # how many went

A submission stays past its retention while something still needs it: a
CyberTipline report holding it (in any state: a draft may still be filed,
and a filed one is preserved), an open review item, a pending report
request, or an open appeal.  Each batch is one transaction with one audit
entry (``submission.retention_purge``) counting what went.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, exists, select

from hashmatch import audit
from hashmatch.platform_users.erasure import Erasure, erase_submissions
from hashmatch.store.models import utcnow
from hashmatch.store.reporting_models import CybertipFile
from hashmatch.store.review_models import Appeal
from hashmatch.store.workflow import ReportRequest, ReviewItem, Submission

if TYPE_CHECKING:
    from hashmatch.store import Database

#: Submissions deleted per transaction.
BATCH = 500


def _still_needed() -> ColumnElement[bool]:
    return (
        exists().where(CybertipFile.submission_id == Submission.id)
        | exists().where(ReviewItem.submission_id == Submission.id, ReviewItem.status == "open")
        | exists().where(
            ReportRequest.submission_id == Submission.id, ReportRequest.status == "pending"
        )
        | exists().where(Appeal.submission_id == Submission.id, Appeal.status == "open")
    )


def purge_expired_submissions(database: Database, retention: timedelta) -> int:
    """Delete submissions older than ``retention`` that nothing needs; how many."""
    purged = 0
    while True:
        erasure = Erasure("")
        with database.transaction() as session:
            # Locked on PostgreSQL: two upkeeps never count (and audit) one row twice.
            ids = list(
                session.scalars(
                    select(Submission.id)
                    .where(Submission.created_at < utcnow() - retention, ~_still_needed())
                    .order_by(Submission.id)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            )
            if ids:
                erase_submissions(session, ids, erasure)
                audit.record(
                    session,
                    "submission.retention_purge",
                    f"submissions:{ids[0]}-{ids[-1]}",
                    after={"deleted": erasure.deleted},
                    actor=audit.SYSTEM,
                )
        purged += len(ids)
        if len(ids) < BATCH:
            return purged
