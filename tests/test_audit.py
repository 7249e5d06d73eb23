"""The audit log's chain, on both engines: what verify finds, what the log
holds when writers append at once, and ``hashmatch audit``."""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, insert, text, update
from typer.testing import CliRunner

from hashmatch import audit
from hashmatch.audit import GENESIS, Actor, acting_as, entry_hash
from hashmatch.cli import app
from hashmatch.errors import InvalidFieldError
from hashmatch.store import Database
from hashmatch.store.models import AuditEntry

runner = CliRunner()


def append(database: Database, count: int, *, target: str = "bank:known") -> None:
    """``count`` entries, each in a transaction of its own."""
    for number in range(count):
        with database.transaction() as session:
            audit.record(session, "bank.update", target, before={"n": number}, after={"n": 1})


def check(database: Database, expect_head: str | None = None) -> audit.ChainCheck:
    with database.reading() as session:
        return audit.verify(session, expect_head=expect_head)


def seqs(database: Database) -> list[int]:
    with database.reading() as session:
        return [entry.seq for entry in audit.find(session, limit=audit.MAX_PAGE)]


def tamper(database: Database, statement: Any) -> None:
    with database.engine.begin() as connection:
        connection.execute(statement)


def test_an_untouched_chain_verifies(database: Database) -> None:
    assert check(database).to_json() == {"ok": True, "entries": 0, "head": GENESIS, "problems": []}
    with acting_as(Actor("key:curator", request_id="r-1", client="10.0.0.7")):
        append(database, 3)
    result = check(database)
    assert (result.ok, result.entries) == (True, 3)
    with database.reading() as session:
        entries = audit.find(session)
    assert [entry.seq for entry in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS
    assert [entry.prev_hash for entry in entries[1:]] == [entry.hash for entry in entries[:-1]]
    assert result.head == entries[-1].hash
    assert {(e.actor, e.request_id, e.client) for e in entries} == {
        ("key:curator", "r-1", "10.0.0.7")
    }


EDITS: list[tuple[str, Any]] = [
    ("at", datetime(2020, 1, 1, tzinfo=UTC)),
    ("actor", "key:someone-else"),
    ("action", "bank.create"),
    ("target", "bank:other"),
    ("before", {"n": 99}),
    ("after", None),
    ("request_id", "forged"),
    ("client", "192.0.2.1"),
    ("prev_hash", "1" * 64),
    ("hash", "2" * 64),
]


@pytest.mark.parametrize(("field", "value"), EDITS, ids=[field for field, _ in EDITS])
def test_an_edited_entry_is_found(database: Database, field: str, value: Any) -> None:
    append(database, 4)
    tamper(database, update(AuditEntry).where(AuditEntry.seq == 2).values({field: value}))
    result = check(database)
    assert not result.ok
    assert any(problem.startswith("entry 2 ") for problem in result.problems), result.problems


def test_a_renumbered_entry_is_found(database: Database) -> None:
    append(database, 4)
    tamper(database, update(AuditEntry).where(AuditEntry.seq == 2).values(seq=9))
    assert "entries 2..2 are missing (deleted?)" in check(database).problems


def test_a_deleted_entry_is_found(database: Database) -> None:
    append(database, 5)
    tamper(database, delete(AuditEntry).where(AuditEntry.seq == 3))
    problems = check(database).problems
    assert "entries 3..3 are missing (deleted?)" in problems
    assert "entry 4 does not follow the entry before it" in problems


def _forged(seq: int, prev_hash: str) -> dict[str, Any]:
    """An entry whose own hash is right (its forger knows the recipe)."""
    fields = {
        "seq": seq,
        "at": datetime.now(UTC),
        "actor": "key:forger",
        "action": "bank.delete",
        "target": "bank:known",
        "before": None,
        "after": None,
        "request_id": None,
        "client": None,
    }
    canonical = {**fields, "at": fields["at"].isoformat(timespec="microseconds")}
    return {**fields, "prev_hash": prev_hash, "hash": entry_hash(canonical, prev_hash)}


def test_an_entry_put_in_out_of_turn_is_found(database: Database) -> None:
    """One replaced in the middle (its own hash recomputed), one added at the
    end that does not follow the newest."""
    append(database, 4)
    with database.reading() as session:
        second = audit.find(session, limit=2)[1]
    tamper(database, delete(AuditEntry).where(AuditEntry.seq == 3))
    tamper(database, insert(AuditEntry).values(_forged(3, second.hash)))
    tamper(database, insert(AuditEntry).values(_forged(5, "3" * 64)))
    assert check(database).problems == [
        "entry 4 does not follow the entry before it",
        "entry 5 does not follow the entry before it",
    ]


def test_a_kept_head_catches_the_newest_entries_removed(database: Database) -> None:
    append(database, 3)
    head = check(database).head
    append(database, 2)  # the log goes on: the kept head is still in it
    assert check(database, expect_head=head).ok
    tamper(database, delete(AuditEntry).where(AuditEntry.seq >= 3))
    assert check(database).ok  # a shorter chain still holds ...
    result = check(database, expect_head=head)  # ... but the kept head is gone
    assert result.problems == [
        f"no entry has the expected head hash {head}: the newest entries were removed or replaced"
    ]


def test_find_filters_and_pages(database: Database) -> None:
    with acting_as(Actor("key:a")):
        append(database, 2, target="content:known/1")
    with acting_as(Actor("cli:b")):
        append(database, 2, target="content:known_x/2")
    with database.reading() as session:

        def found(**filters: Any) -> list[int]:
            return [entry.seq for entry in audit.find(session, **filters)]

        assert found(actor="key:a") == [1, 2]
        assert found(actor="cli:*") == [3, 4]
        # "_" and "%" in a prefix are themselves, not LIKE's wildcards.
        assert found(target="content:known/*") == [1, 2]
        assert found(target="content:known_*") == [3, 4]
        assert found(action="bank.update", after_seq=1, limit=2) == [2, 3]
        assert found(since=datetime.now(UTC)) == []
        assert found(since=audit.parse_time("2000-01-01T00:00:00+02:00")) == [1, 2, 3, 4]


@pytest.mark.parametrize("given", ["yesterday", "2026-11-26T16:00:00", "2026-13-01T00:00:00Z"])
def test_a_time_must_be_rfc_3339_with_an_offset(given: str) -> None:
    with pytest.raises(InvalidFieldError, match="RFC 3339"):
        audit.parse_time(given)


# -- writers at once ---------------------------------------------------------------


def _until(condition: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def _waiting_on_the_audit_log(database: Database) -> bool:
    with database.engine.connect() as connection:
        waiting = connection.scalar(
            text(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = 'audit_log' AND NOT l.granted"
            )
        )
    return bool(waiting)


def test_a_second_writer_waits_for_the_first_to_commit(database: Database) -> None:
    """A records and pauses inside its transaction; B, recording meanwhile,
    must wait (reading the same newest entry, both would write seq 1), and
    then follows A in the chain."""
    a_recorded, release_a, b_recorded = threading.Event(), threading.Event(), threading.Event()

    def writer_a() -> None:
        with acting_as(Actor("key:a")), database.transaction() as session:
            audit.record(session, "bank.create", "bank:a")
            a_recorded.set()
            release_a.wait(30)

    def writer_b() -> None:
        with acting_as(Actor("key:b")), database.transaction() as session:
            audit.record(session, "bank.create", "bank:b")
            b_recorded.set()

    first = threading.Thread(target=writer_a)
    second = threading.Thread(target=writer_b)
    first.start()
    assert a_recorded.wait(30)
    second.start()
    if database.dialect == "postgresql":
        assert _until(lambda: _waiting_on_the_audit_log(database) or b_recorded.is_set())
    else:
        second.join(0.3)  # SQLite: B waits for the write lock A holds
    assert not b_recorded.is_set()
    release_a.set()
    first.join(30)
    second.join(30)
    assert b_recorded.is_set()
    with database.reading() as session:
        entries = audit.find(session)
    assert [(entry.seq, entry.actor) for entry in entries] == [(1, "key:a"), (2, "key:b")]
    assert check(database).ok


THREADS, PROCESSES, EACH = 4, 2, 15


def append_in_a_process(database_url: str, name: str) -> None:
    """A writer in a process of its own (run by multiprocessing)."""
    database = Database.open(database_url, migrate=False)
    try:
        with acting_as(Actor(name)):
            append(database, EACH)
    finally:
        database.close()


def test_writers_in_threads_and_processes_keep_the_chain(
    database: Database, database_url: str
) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=append_in_a_process, args=(database_url, f"process:{number}"))
        for number in range(PROCESSES)
    ]

    def thread_writer(number: int) -> None:
        with acting_as(Actor(f"thread:{number}")):
            append(database, EACH)

    for process in processes:
        process.start()
    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(thread_writer, number) for number in range(THREADS)]:
            future.result(timeout=120)  # a writer's error fails the test here
    for process in processes:
        process.join(120)
    assert [process.exitcode for process in processes] == [0] * PROCESSES
    total = (THREADS + PROCESSES) * EACH
    assert seqs(database) == list(range(1, total + 1))
    result = check(database)
    assert (result.ok, result.entries) == (True, total), result.problems
    with database.reading() as session:
        by_actor: dict[str, int] = {}
        for entry in audit.find(session, limit=audit.MAX_PAGE):
            by_actor[entry.actor] = by_actor.get(entry.actor, 0) + 1
    assert set(by_actor.values()) == {EACH}
    assert len(by_actor) == THREADS + PROCESSES


# -- the CLI -------------------------------------------------------------------------


def test_cli_lists_and_verifies(
    database: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cli(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, ["--database-url", database_url, "audit", *args])

    with acting_as(Actor("key:a")):
        append(database, 2, target="bank:one")
    with acting_as(Actor("key:b")):
        append(database, 1, target="bank:two")
    listed = [json.loads(line) for line in cli("list").stdout.splitlines()]
    assert [entry["seq"] for entry in listed] == [1, 2, 3]
    assert set(listed[0]) == {
        "seq", "at", "actor", "action", "target", "before", "after",
        "request_id", "client", "prev_hash", "hash",
    }  # fmt: skip
    chosen = cli("list", "--actor", "key:a", "--target", "bank:*", "--action", "bank.update")
    assert [json.loads(line)["seq"] for line in chosen.stdout.splitlines()] == [1, 2]
    assert len(cli("list", "--limit", "2").stdout.splitlines()) == 2
    monkeypatch.setattr(audit, "MAX_PAGE", 2)  # the command reads the log a page at a time
    assert [json.loads(line) for line in cli("list").stdout.splitlines()] == listed
    assert len(cli("list", "--limit", "3").stdout.splitlines()) == 3
    assert cli("list", "--since", "2999-01-01T00:00:00Z").stdout == ""
    bad = cli("list", "--since", "last week")
    assert bad.exit_code == 2
    assert "RFC 3339" in bad.stderr

    verified = cli("verify")
    assert verified.exit_code == 0, verified.output
    result = json.loads(verified.stdout)
    assert (result["ok"], result["entries"], result["head"]) == (True, 3, listed[-1]["hash"])

    tamper(database, delete(AuditEntry).where(AuditEntry.seq == 3))
    assert cli("verify").exit_code == 0  # the newest entry removed: a shorter chain holds
    removed = cli("verify", "--expect-head", result["head"])
    assert removed.exit_code == 1
    assert f"broken: no entry has the expected head hash {result['head']}" in removed.stderr
    tamper(database, update(AuditEntry).where(AuditEntry.seq == 1).values(actor="key:c"))
    edited = cli("verify")
    assert edited.exit_code == 1
    assert "broken: entry 1 was changed after it was written" in edited.stderr
    assert json.loads(edited.stdout)["ok"] is False
