"""Counting what leaves no row of its own (lookups) for transparency reports.

    usage = UsageCounter(database)
    usage.start()                 # flushes every FLUSH_SECONDS in a thread
    usage.add("lookups")          # per request: memory only, never the database
    usage.close()                 # at shutdown: the last flush

Counts are kept per UTC day and name in memory and added to ``daily_counts``
in one upsert per flush (``count = count + excluded.count``), so several
processes, each with its own counter, add to the same rows without losing
any.  A flush that fails puts its counts back for the next one.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Mapping
from datetime import date
from typing import Any, cast

from sqlalchemy import Table

from hashmatch.store import Database
from hashmatch.store.database import conflict_insert
from hashmatch.store.models import utcnow
from hashmatch.store.reporting_models import DailyCount

#: How often the background thread writes what was counted.
FLUSH_SECONDS = 5.0
DAILY_COUNTS = cast(Table, DailyCount.__table__)

log = logging.getLogger(__name__)


def add_counts(database: Database, counts: Mapping[tuple[date, str], int]) -> None:
    """Add ``counts`` ((day, name) -> n) to ``daily_counts`` in one statement."""
    rows = [{"day": day, "name": name, "count": n} for (day, name), n in counts.items() if n]
    if not rows:
        return
    statement: Any = conflict_insert(database.dialect, DAILY_COUNTS).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["day", "name"],
        set_={"count": DAILY_COUNTS.c.count + statement.excluded["count"]},
    )
    with database.transaction() as session:
        session.execute(statement)


def count_now(database: Database, name: str, count: int) -> None:
    """Add ``count`` of ``name`` today at once: for a command that runs to
    its end (``hashmatch match``), one write for all it counted."""
    add_counts(database, {(utcnow().date(), name): count})


class UsageCounter:
    """Thread-safe in-memory counts, flushed to ``daily_counts`` in batches."""

    def __init__(self, database: Database, *, interval: float = FLUSH_SECONDS) -> None:
        self.database = database
        self.interval = interval
        self._pending: Counter[tuple[date, str]] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hashmatch-usage", daemon=True)

    def add(self, name: str, count: int = 1) -> None:
        """Count ``count`` of ``name`` today (UTC): a dictionary update under a lock."""
        key = (utcnow().date(), name)
        with self._lock:
            self._pending[key] += count

    def pending(self) -> dict[tuple[date, str], int]:
        """What was counted and not written yet."""
        with self._lock:
            return dict(self._pending)

    def flush(self) -> None:
        """Write what was counted; on failure it stays counted, for the next flush."""
        with self._lock:
            taken, self._pending = self._pending, Counter()
        try:
            add_counts(self.database, taken)
        except Exception:
            with self._lock:
                self._pending.update(taken)
            raise

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.flush()
            except Exception:  # the database is away: keep counting, retry later
                log.exception("could not write usage counts; retrying in %s s", self.interval)

    def close(self, timeout: float | None = None) -> None:
        """Stop the thread and write what is left."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.flush()
