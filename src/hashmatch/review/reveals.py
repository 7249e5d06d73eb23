"""Reveals: a reviewer looking at an item's media clearly, counted and capped.

    reveals = Reveals(database, settings)
    reveals.grant(Reviewer("user:alice", role="reviewer"), item_id=7, kind="preview", seconds=4)
    reveals.per_day(days=7)   # [{"reviewer": "user:alice", "day": "2026-11-26", "reveals": 31}]

Each reveal is a ``review_reveals`` row and an audit entry (who, which item,
when, for how long) written in one transaction with the day's counter.  The
counter is raised by one conditional update (``reveals < cap``), so two
reveals racing for a reviewer's last one never both get it, on either
engine: PostgreSQL's row lock orders them, SQLite's write lock does.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from hashmatch import audit
from hashmatch.errors import RevealCapError, ReviewError
from hashmatch.review.items import Items, check_open_and_free
from hashmatch.review.reviewer import Reviewer
from hashmatch.store.database import conflict_insert
from hashmatch.store.models import utcnow
from hashmatch.store.review_models import RevealDay, ReviewReveal

if TYPE_CHECKING:
    from hashmatch.settings import Settings
    from hashmatch.store import Database

KINDS = ("preview", "original")


class Reveals:
    def __init__(self, database: Database, settings: Settings, items: Items) -> None:
        self.database = database
        self.settings = settings
        self.items = items

    def grant(self, reviewer: Reviewer, item_id: int, *, kind: str, seconds: float) -> int:
        """Record a reveal of ``item_id`` for ``seconds`` (renewing the
        reviewer's claim on it); RevealCapError past the day's cap,
        ReviewConflictError when someone else holds the item.  The reveals
        the reviewer has left today."""
        if kind not in KINDS:
            raise ReviewError(f"a reveal is one of {', '.join(KINDS)}, not {kind!r}")
        cap = self.settings.review_daily_reveal_cap
        now = utcnow()
        today = now.date()
        with self.database.transaction() as session:
            item = self.items.locked(session, item_id)
            self.items.queues.check_admits(session, item.queue, reviewer)
            if item.status == "open":
                check_open_and_free(item, reviewer, now)
            session.execute(
                conflict_insert(self.database.dialect, RevealDay)
                .values(reviewer=reviewer.name, day=today, reveals=0)
                .on_conflict_do_nothing(index_elements=["reviewer", "day"])
            )
            used = session.execute(
                update(RevealDay)
                .where(
                    RevealDay.reviewer == reviewer.name,
                    RevealDay.day == today,
                    RevealDay.reveals < cap,
                )
                .values(reveals=RevealDay.reveals + 1)
                .returning(RevealDay.reveals)
            ).scalar_one_or_none()
            if used is None:
                raise RevealCapError(
                    f"you have revealed {cap} items today, the daily limit "
                    "(review_daily_reveal_cap); the limit resets at midnight UTC. "
                    "Decide from the match details, or ask an admin."
                )
            session.add(
                ReviewReveal(
                    item_id=item_id,
                    reviewer=reviewer.name,
                    kind=kind,
                    revealed_at=now,
                    seconds=seconds,
                )
            )
            audit.record(
                session,
                "review.reveal",
                f"review_item:{item_id}",
                after={"kind": kind, "seconds": seconds, "reveals_today": used},
            )
            if item.status == "open":
                self.items.hold(session, item_id, reviewer, now)
        return cap - used

    def left_today(self, reviewer: str) -> int:
        with self.database.reading() as session:
            used = session.scalar(
                select(RevealDay.reveals).where(
                    RevealDay.reviewer == reviewer, RevealDay.day == utcnow().date()
                )
            )
        return self.settings.review_daily_reveal_cap - (used or 0)

    def per_day(self, days: int = 7) -> list[dict[str, Any]]:
        """Reveals per reviewer per day for the last ``days`` days, newest day
        first: numbers only, for workload (not what was looked at)."""
        since: date = utcnow().date() - timedelta(days=days - 1)
        with self.database.reading() as session:
            rows = session.execute(
                select(RevealDay.day, RevealDay.reviewer, RevealDay.reveals)
                .where(RevealDay.day >= since, RevealDay.reveals > 0)
                .order_by(RevealDay.day.desc(), RevealDay.reviewer)
            ).all()
        return [
            {"day": day.isoformat(), "reviewer": reviewer, "reveals": int(count)}
            for day, reviewer, count in rows
        ]
