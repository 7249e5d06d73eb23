"""Periodic upkeep of the workflow's tables (the deliverer runs it every minute).

    run_upkeep(database, settings)
    # {"media_purged": 2, "dedupe_keys_cleared": 40, "delivery_attempts_pruned": 310}

* Kept media is deleted once no open review item and no pending report
  request of its submission needs it; each purge has its audit entry.
* Idempotency keys older than the window are cleared, so the unique index
  holds only live ones and a later submission may use the key again.
* The delivery log keeps ``delivery_log_days``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.actions.outbox import prune_delivery_log
from hashmatch.store.models import utcnow
from hashmatch.store.workflow import KeptMedia, ReportRequest, ReviewItem, Submission

if TYPE_CHECKING:
    from hashmatch.settings import Settings
    from hashmatch.store import Database

#: Kept media purged per transaction (each purge writes an audit entry).
PURGE_BATCH = 500


def run_upkeep(database: Database, settings: Settings) -> dict[str, int]:
    """One round of upkeep; how many of each thing it removed."""
    return {
        "media_purged": purge_kept_media(database),
        "dedupe_keys_cleared": clear_dedupe_keys(
            database, timedelta(hours=settings.submission_dedupe_hours)
        ),
        "delivery_attempts_pruned": prune_delivery_log(
            database, timedelta(days=settings.delivery_log_days)
        ),
    }


#: Kept media that an open review item or a pending report request needs.
_NEEDED = exists().where(
    ReviewItem.submission_id == KeptMedia.submission_id, ReviewItem.status == "open"
) | exists().where(
    ReportRequest.submission_id == KeptMedia.submission_id, ReportRequest.status == "pending"
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


def purge_if_unneeded(session: Session, submission_id: int) -> bool:
    """In the caller's transaction (a review decision's): purge the
    submission's kept media unless an open review item or a pending report
    request still needs it, audited as the caller's; whether it was purged."""
    kept = session.scalar(
        select(KeptMedia).where(KeptMedia.submission_id == submission_id, ~_NEEDED)
    )
    if kept is None:
        return False
    _purge(session, kept, None)
    return True


def purge_kept_media(database: Database) -> int:
    """Delete kept media that nothing needs any more, auditing each; how many."""
    purged = 0
    while True:
        with database.transaction() as session:
            # Locked on PostgreSQL, so that two upkeeps never purge (and audit) one row twice.
            rows = session.scalars(
                select(KeptMedia)
                .where(~_NEEDED)
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
