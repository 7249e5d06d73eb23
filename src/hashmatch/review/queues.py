"""Named review queues: who may work each, its SLA, and what waits in it.

    queues = Queues(database, settings)
    queues.configure("urgent", sla_minutes=60, access=["role:admin", "user:alice"])
    queues.overview(reviewer)   # [{"name": "urgent", "open": 3, "overdue": 1, ...}, ...]

A queue exists as soon as a rule or the platform puts an item in it; a row
in ``review_queues`` only gives it its own settings.  Without one, anyone
who may review works it, and its items are due ``review_sla_minutes`` after
they are queued.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.banks.checks import check_name
from hashmatch.errors import BankError, ReviewAccessError, ReviewError
from hashmatch.fieldlimits import DESCRIPTION_CHARS, check_text
from hashmatch.review.reviewer import Reviewer, admits, check_access_list
from hashmatch.store.models import as_utc, utcnow
from hashmatch.store.review_models import ReviewQueue
from hashmatch.store.workflow import ReviewItem

if TYPE_CHECKING:
    from hashmatch.settings import Settings
    from hashmatch.store import Database

#: The longest SLA a queue may have (a year).
MAX_SLA_MINUTES = 366 * 24 * 60


def check_queue_name(name: str) -> str:
    """``name`` if it can name a queue (as a rule's name can); else ReviewError."""
    try:
        return check_name(name)
    except BankError:
        raise ReviewError(
            f"invalid queue name {name!r}: 1-100 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        ) from None


def due_times(
    session: Session, names: Iterable[str], now: datetime, default_sla_minutes: int
) -> dict[str, datetime]:
    """Each named queue's due time for an item queued ``now``."""
    wanted = set(names)
    own = dict(
        session.execute(
            select(ReviewQueue.name, ReviewQueue.sla_minutes).where(ReviewQueue.name.in_(wanted))
        ).all()
    )
    return {name: now + timedelta(minutes=own.get(name) or default_sla_minutes) for name in wanted}


class Queues:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings

    # -- settings ----------------------------------------------------------------

    def access_of(self, session: Session, name: str) -> list[str]:
        row = session.scalar(select(ReviewQueue.access).where(ReviewQueue.name == name))
        return list(row or [])

    def hidden_from(self, session: Session, reviewer: Reviewer) -> list[str]:
        """The queues whose access lists leave ``reviewer`` out."""
        rows = session.execute(select(ReviewQueue.name, ReviewQueue.access)).all()
        return [row.name for row in rows if not admits(row.access or [], reviewer)]

    def check_admits(self, session: Session, name: str, reviewer: Reviewer) -> None:
        """ReviewAccessError unless queue ``name`` lets ``reviewer`` work it."""
        if not admits(self.access_of(session, name), reviewer):
            raise ReviewAccessError(f"queue {name!r} does not admit {reviewer.name}")

    def configure(
        self,
        name: str,
        *,
        description: str | None = None,
        sla_minutes: int | None = None,
        access: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """Create or change a queue's settings (those given), audited; its record."""
        check_queue_name(name)
        if description is not None:
            check_text("description", description, max_chars=DESCRIPTION_CHARS)
        if sla_minutes is not None and not 1 <= sla_minutes <= MAX_SLA_MINUTES:
            raise ReviewError(f"sla_minutes must be from 1 to {MAX_SLA_MINUTES}")
        entries = check_access_list(access) if access is not None else None
        with self.database.transaction() as session:
            row = session.scalar(
                select(ReviewQueue).where(ReviewQueue.name == name).with_for_update()
            )
            before = _settings_json(row) if row is not None else None
            if row is None:
                row = ReviewQueue(name=name, description="", access=[])
                session.add(row)
            if description is not None:
                row.description = description
            if sla_minutes is not None:
                row.sla_minutes = sla_minutes
            if entries is not None:
                row.access = entries
            row.updated_at = utcnow()
            session.flush()
            after = _settings_json(row)
            audit.record(
                session,
                "review_queue.configure",
                f"review_queue:{name}",
                before=before,
                after=after,
            )
        return self.get(name)

    def get(self, name: str) -> dict[str, Any]:
        """A queue's settings (the defaults where it has no row)."""
        with self.database.reading() as session:
            row = session.scalar(select(ReviewQueue).where(ReviewQueue.name == name))
        return self._record(name, row)

    def _record(self, name: str, row: ReviewQueue | None) -> dict[str, Any]:
        settings = _settings_json(row) if row is not None else {}
        return {
            "name": name,
            "description": settings.get("description", ""),
            "sla_minutes": settings.get("sla_minutes") or self.settings.review_sla_minutes,
            "access": settings.get("access", []),
            "configured": row is not None,
        }

    # -- what waits ----------------------------------------------------------------

    def overview(self, reviewer: Reviewer | None = None) -> list[dict[str, Any]]:
        """Every queue that has items or settings, with its open, claimed and
        overdue counts and its oldest open item's age; only those that admit
        ``reviewer`` when one is given."""
        now = utcnow()
        is_open = ReviewItem.status == "open"
        with self.database.reading() as session:
            counts = session.execute(
                select(
                    ReviewItem.queue,
                    func.count(),
                    func.count(ReviewItem.claimed_until).filter(ReviewItem.claimed_until > now),
                    func.count(ReviewItem.due_at).filter(ReviewItem.due_at < now),
                    func.min(ReviewItem.created_at),
                )
                .where(is_open)
                .group_by(ReviewItem.queue)
            ).all()
            rows = {row.name: row for row in session.scalars(select(ReviewQueue))}
        waiting = {
            queue: (n, claimed, overdue, oldest) for queue, n, claimed, overdue, oldest in counts
        }
        result = []
        for name in sorted(set(waiting) | set(rows)):
            record = self._record(name, rows.get(name))
            if reviewer is not None and not admits(record["access"], reviewer):
                continue
            n, claimed, overdue, oldest = waiting.get(name, (0, 0, 0, None))
            record.update(
                open=int(n),
                claimed=int(claimed),
                overdue=int(overdue),
                oldest_open_at=as_utc(oldest).isoformat() if oldest is not None else None,
            )
            result.append(record)
        return result


def _settings_json(row: ReviewQueue) -> dict[str, Any]:
    return {
        "description": row.description,
        "sla_minutes": row.sla_minutes,
        "access": list(row.access or []),
    }
