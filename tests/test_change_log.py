"""The change log never loses a change: ids are never reused, and entries
become visible in sequence order, whatever order writers commit in.

Each test is an interleaving that broke a running matcher before; a running
matcher must then answer exactly as a fresh one does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select, text

from hashmatch.banks import Banks, writes
from hashmatch.hashlists import Entry
from hashmatch.matching import Matcher
from hashmatch.store import Change, Content, ContentSignal, Database

PDQ_A = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PDQ_B = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"
PDQ_C = "123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"


def answers(matcher: Matcher, hashes: list[str]) -> list[list[tuple[str, int, int]]]:
    return [
        sorted((m.bank, m.content_id, m.distance) for m in matcher.match_hashes({"pdq": [h]}))
        for h in hashes
    ]


def assert_exact(running: Matcher, database: Database, hashes: list[str]) -> None:
    running.refresh()
    assert answers(running, hashes) == answers(Matcher(database), hashes)


def highest(database: Database) -> tuple[int, int, int]:
    with database.reading() as session:
        return (
            int(session.scalar(select(func.max(Content.id))) or 0),
            int(session.scalar(select(func.max(ContentSignal.id))) or 0),
            int(session.scalar(select(func.max(Change.seq))) or 0),
        )


def test_ids_are_never_reused(database: Database) -> None:
    banks = Banks(database)
    banks.create("known")
    first = banks.add("known", Entry({"pdq": PDQ_A}))
    assert first is not None
    before = highest(database)
    banks.remove_content("known", [first])  # the highest content, signal and...
    second = banks.add("known", Entry({"pdq": PDQ_A}))
    assert second is not None
    assert second > first
    after = highest(database)
    assert all(now > then for now, then in zip(after, before, strict=True))


def test_add_remove_add_is_seen_by_a_running_matcher(database: Database) -> None:
    """Content added, removed, and new content added between two refreshes."""
    banks = Banks(database)
    banks.create("known")
    running = Matcher(database)
    content = banks.add("known", Entry({"pdq": PDQ_A}))
    running.refresh()
    banks.remove_content("known", [content or 0])
    banks.add("known", Entry({"pdq": PDQ_B}))
    assert_exact(running, database, [PDQ_A, PDQ_B])
    assert [m.bank for m in running.match_hashes({"pdq": [PDQ_B]})] == ["known"]


def test_remove_then_add_in_one_window(database: Database) -> None:
    banks = Banks(database)
    banks.create("known")
    running = Matcher(database)
    content = banks.add("known", Entry({"pdq": PDQ_A}))
    banks.remove_content("known", [content or 0])
    banks.add("known", Entry({"pdq": PDQ_A}))
    assert_exact(running, database, [PDQ_A])
    assert len(running.match_hashes({"pdq": [PDQ_A]})) == 1


def _waiting_on_the_log(database: Database) -> bool:
    """Whether some session waits for the change log's lock, or the audit
    log's that a writer takes just before it (PostgreSQL)."""
    with database.engine.connect() as connection:
        waiting = connection.scalar(
            text(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname IN ('changes', 'audit_log') AND NOT l.granted"
            )
        )
    return bool(waiting)


def _until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_later_write_committing_first_is_never_skipped(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writer A logs its change and has not committed; writer B, on another
    bank, tries to log and commit; a matcher refreshes in between; then A
    commits.  The matcher must end up with both, as a fresh one does."""
    banks = Banks(database)
    banks.create("a")
    banks.create("b")
    running = Matcher(database)
    a_logged, release_a = threading.Event(), threading.Event()
    original = writes.record

    def record_then_pause(connection: Any, op: Any, ids: Any) -> None:
        original(connection, op, ids)
        if threading.current_thread().name == "writer-a":
            a_logged.set()
            release_a.wait(30)

    monkeypatch.setattr(writes, "record", record_then_pause)
    writer_a = threading.Thread(
        target=banks.add, args=("a", Entry({"pdq": PDQ_A})), name="writer-a"
    )
    writer_b = threading.Thread(
        target=banks.add, args=("b", Entry({"pdq": PDQ_C})), name="writer-b"
    )
    writer_a.start()
    assert a_logged.wait(30)
    writer_b.start()
    if database.dialect == "postgresql":
        # B either waits for A on the log (as designed) or, were the log not
        # serialised, commits first: the interleaving that lost A's change.
        assert _until(lambda: _waiting_on_the_log(database) or not writer_b.is_alive(), 30)
    else:
        writer_b.join(0.5)  # SQLite: B waits for the write lock A holds
    assert_exact(running, database, [PDQ_A, PDQ_C])
    release_a.set()
    writer_a.join(30)
    running.refresh()  # B may commit at any moment now, A has
    assert [m.bank for m in running.match_hashes({"pdq": [PDQ_A]})] == ["a"]
    writer_b.join(30)
    assert_exact(running, database, [PDQ_A, PDQ_C])
    assert [m.bank for m in running.match_hashes({"pdq": [PDQ_A]})] == ["a"]
    assert [m.bank for m in running.match_hashes({"pdq": [PDQ_C]})] == ["b"]
