"""Writing an interleaving out: one thread paused inside its transaction,
another let in and watched while it waits (or does not) for the first.

    paused = PausedInside(monkeypatch, items_module, "note_activity")
    watcher = SecondWriter(database, monkeypatch)
    one = started(lambda: claim("a"), "first", results)
    assert paused.reached.wait(PATIENCE)
    two = started(lambda: claim("b"), "second", results)
    watcher.wait_until_blocked(two)      # SQLite; PostgreSQL may pass a locked row by
    paused.release()
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import text

from hashmatch.store import Database

#: Long enough never to be reached when the code is right.
PATIENCE = 60


class PausedInside:
    """Replaces ``module.name`` (called inside a transaction) so that the
    first thread to call it stops there until :meth:`release`;
    :attr:`reached` says it got there."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
        self.reached, self._release = threading.Event(), threading.Event()
        first = threading.Lock()
        original = getattr(module, name)

        def paused(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            if first.acquire(blocking=False):
                self.reached.set()
                if not self._release.wait(PATIENCE):
                    raise AssertionError("the paused transaction was never released")
            return result

        monkeypatch.setattr(module, name, paused)

    def release(self) -> None:
        self._release.set()


class SecondWriter:
    """Watches the thread named ``second`` start its transaction; on
    PostgreSQL, notes its server process to see it wait for a lock."""

    def __init__(self, database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
        self.database = database
        self.entered, self.connected = threading.Event(), threading.Event()
        self.pid: int | None = None
        original = database.transaction

        @contextmanager
        def transaction() -> Iterator[Any]:
            second = threading.current_thread().name == "second"
            if second:
                self.entered.set()  # SQLite: the wait for the write lock comes next
            with original() as session:
                if second and database.dialect == "postgresql":
                    self.pid = session.scalar(text("SELECT pg_backend_pid()"))
                    self.connected.set()
                yield session

        monkeypatch.setattr(database, "transaction", transaction)

    def is_waiting_for_a_lock(self) -> bool:
        with self.database.reading() as session:
            waiting = session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE pid = :pid AND wait_event_type = 'Lock'"
                ),
                {"pid": self.pid},
            )
        return bool(waiting)

    def wait_until_blocked(self, thread: threading.Thread) -> None:
        """Until ``thread`` waits on the first writer (PostgreSQL: for a row
        lock; SQLite: it entered, and has not got past the write lock)."""
        assert self.entered.wait(PATIENCE)
        if self.database.dialect == "postgresql":
            assert self.connected.wait(PATIENCE)
            for _ in range(PATIENCE * 100):
                if self.is_waiting_for_a_lock():
                    return
                threading.Event().wait(0.01)
            raise AssertionError("the second writer never waited for the first")
        thread.join(0.2)  # were there no lock, it would finish now
        assert thread.is_alive(), "the second writer did not wait for the first"


def started(target: Callable[[], Any], name: str, results: dict[str, Any]) -> threading.Thread:
    """A thread running ``target``, its result or exception in ``results[name]``."""

    def run() -> None:
        try:
            results[name] = target()
        except Exception as error:  # noqa: BLE001 - the test looks at what was raised
            results[name] = error

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def run_together(work: Callable[[str], Any], names: list[str]) -> None:
    """``work(name)`` on one thread per name, all at once; the first
    exception any raised is raised here once all have ended."""
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            work(name)
        except BaseException as error:  # noqa: BLE001 - raised below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(name,), name=name) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE)
    assert not any(thread.is_alive() for thread in threads), "a worker never finished"
    if errors:
        raise errors[0]
