"""Lookups counted in memory and added to daily_counts in batches
(hashmatch.reporting.transparency.usage)."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import select

from hashmatch.reporting.transparency import usage
from hashmatch.reporting.transparency.usage import UsageCounter, add_counts
from hashmatch.store import Database
from hashmatch.store.models import utcnow
from hashmatch.store.reporting_models import DailyCount


def counted(database: Database) -> dict[tuple[date, str], int]:
    with database.reading() as session:
        rows = session.execute(select(DailyCount.day, DailyCount.name, DailyCount.count))
        return {(day, name): count for day, name, count in rows}


def test_add_counts_adds_to_existing_rows(database: Database) -> None:
    day = date(2026, 7, 1)
    add_counts(database, {(day, "lookups"): 3})
    add_counts(database, {(day, "lookups"): 4, (day, "other"): 1, (date(2026, 7, 2), "x"): 0})
    assert counted(database) == {(day, "lookups"): 7, (day, "other"): 1}


def test_nothing_is_written_until_a_flush(database: Database) -> None:
    counter = UsageCounter(database, interval=3600)
    counter.add("lookups")
    counter.add("lookups", 2)
    assert counted(database) == {}
    counter.flush()
    assert counted(database) == {(utcnow().date(), "lookups"): 3}
    assert counter.pending() == {}


def test_concurrent_flushes_from_two_counters_lose_nothing(database_url: str) -> None:
    """Two processes' counters (two Database objects), each added to and
    flushed from several threads at once: every count arrives."""
    databases = [Database.open(database_url), Database.open(database_url, migrate=False)]
    counters = [UsageCounter(db, interval=3600) for db in databases]
    rounds, threads_per_counter = 40, 3
    start = threading.Barrier(len(counters) * threads_per_counter)

    def work(counter: UsageCounter) -> None:
        start.wait()
        for _ in range(rounds):
            counter.add("lookups")
            counter.add("lookups", 2)
            counter.flush()

    threads = [
        threading.Thread(target=work, args=(counter,))
        for counter in counters
        for _ in range(threads_per_counter)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for counter in counters:
            counter.close()
        expected = len(threads) * rounds * 3
        assert counted(databases[0]) == {(utcnow().date(), "lookups"): expected}
    finally:
        for db in databases:
            db.close()


def test_a_failed_flush_keeps_its_counts(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = UsageCounter(database, interval=3600)
    counter.add("lookups", 5)

    def away(*_: object) -> None:
        raise ConnectionError("database away")

    monkeypatch.setattr(usage, "add_counts", away)
    with pytest.raises(ConnectionError):
        counter.flush()
    counter.add("lookups")
    monkeypatch.undo()
    counter.flush()
    assert counted(database) == {(utcnow().date(), "lookups"): 6}


def test_the_thread_flushes_and_close_writes_the_rest(database: Database) -> None:
    counter = UsageCounter(database, interval=0.01)
    counter.start()
    counter.add("lookups", 2)
    counter.close(timeout=10)
    assert counted(database) == {(utcnow().date(), "lookups"): 2}
