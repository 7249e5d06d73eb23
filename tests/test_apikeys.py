"""API keys on both engines: a key check never waits for the write lock, and
the last use is still written; revoked keys stay refused."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from hashmatch.apikeys import ApiKeys, KeyInfo
from hashmatch.store import ApiKey, Database


@pytest.fixture
def keys(database: Database) -> Iterator[ApiKeys]:
    api_keys = ApiKeys(database)
    yield api_keys
    api_keys.close()


def _last_used(keys: ApiKeys, name: str) -> object:
    return {info.name: info.last_used_at for info in keys.all()}[name]


def test_a_key_check_does_not_wait_for_the_write_lock(keys: ApiKeys, database: Database) -> None:
    secret, _ = keys.create("uploads", ["match"])
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        # SQLite: the write lock (BEGIN IMMEDIATE); PostgreSQL: the key's row.
        with database.transaction() as session:
            session.execute(select(ApiKey).with_for_update()).all()
            locked.set()
            release.wait(60)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    checked: list[KeyInfo | None] = []
    try:
        assert locked.wait(30)
        checker = threading.Thread(target=lambda: checked.append(keys.authenticate(secret)))
        checker.start()
        checker.join(10)  # the lock is still held: a check that wrote would wait
        assert not checker.is_alive(), "the key check waited for the write lock"
    finally:
        release.set()
        holder.join(60)
    assert [info.name for info in checked if info] == ["uploads"]
    deadline = time.monotonic() + 30
    while _last_used(keys, "uploads") is None and time.monotonic() < deadline:
        time.sleep(0.05)  # written by the key-use thread once the lock is free
    assert _last_used(keys, "uploads") is not None


def test_close_writes_the_last_uses_noted(database: Database) -> None:
    keys = ApiKeys(database)
    secret, _ = keys.create("uploads", ["match"])
    assert keys.authenticate(secret) is not None
    keys.close()
    assert _last_used(ApiKeys(database), "uploads") is not None


def test_revoked_and_wrong_keys_are_refused(keys: ApiKeys) -> None:
    secret, _ = keys.create("uploads", ["match"])
    assert keys.authenticate(secret) is not None
    keys.revoke("uploads")
    assert keys.authenticate(secret) is None
    assert keys.authenticate(secret[:-1] + ("a" if secret[-1] != "a" else "b")) is None
    assert keys.authenticate("hm_nonsense") is None


def test_a_remembered_key_needs_no_database(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = ApiKeys(database, cache_seconds=60)
    try:
        secret, _ = keys.create("uploads", ["match"])
        assert keys.remembered(secret) is None  # not verified yet
        assert keys.authenticate(secret) is not None

        def no_reads() -> None:
            raise AssertionError("remembered() read the database")

        monkeypatch.setattr(database, "reading", no_reads)
        remembered = keys.remembered(secret)
        assert remembered is not None
        assert remembered.name == "uploads"
    finally:
        monkeypatch.undo()
        keys.close()
