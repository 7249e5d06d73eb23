"""The schema comes from migrations, on both engines."""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from hashmatch.errors import ConfigurationError
from hashmatch.store import Database
from hashmatch.store.database import normalise_url
from hashmatch.store.models import ApiKey

TABLES = {"alembic_version", "banks", "changes", "content_signals", "contents", "instance"}


def test_migrations_create_the_schema_from_empty(database: Database) -> None:
    assert set(inspect(database.engine).get_table_names()) >= TABLES


def test_migrating_again_changes_nothing(database_url: str) -> None:
    first = Database.open(database_url)
    first.close()
    second = Database.open(database_url)
    assert set(inspect(second.engine).get_table_names()) >= TABLES
    second.close()


def test_downgrade_and_upgrade_round_trip(database: Database) -> None:
    database.downgrade("base")
    assert not ({"banks", "contents"} & set(inspect(database.engine).get_table_names()))
    database.migrate("head")
    assert set(inspect(database.engine).get_table_names()) >= TABLES


def test_video_frames_migration_keeps_existing_content(database: Database) -> None:
    """0002 -> 0003 keeps every row, then lets frames repeat a hash in a bank
    while other signal types still may not."""
    database.downgrade("0002")
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO banks (id, name, description, kind, labels, thresholds, enabled, "
            "created_at, updated_at) "
            "VALUES (1, 'b', '', 'match', '[]', '{}', true, '2026-01-01', '2026-01-01')"
        )
        connection.exec_driver_sql(
            "INSERT INTO contents (id, bank_id, created_at) VALUES (1, 1, '2026-01-01')"
        )
        connection.exec_driver_sql(
            "INSERT INTO content_signals (id, content_id, bank_id, signal_type, value) "
            "VALUES (1, 1, 1, 'pdq', 'aa')"
        )
    database.migrate("head")
    insert = (
        "INSERT INTO content_signals (id, content_id, bank_id, signal_type, value, frame) "
        "VALUES ({}, 1, 1, '{}', 'bb', {})"
    )
    with database.engine.begin() as connection:
        assert connection.exec_driver_sql("SELECT value FROM content_signals").scalar() == "aa"
        connection.exec_driver_sql(insert.format(2, "vpdq", 0))
        connection.exec_driver_sql(insert.format(3, "vpdq", 30))  # the same frame hash again
    with pytest.raises(IntegrityError), database.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO content_signals (id, content_id, bank_id, signal_type, value) "
            "VALUES (4, 1, 1, 'pdq', 'aa')"
        )
    database.downgrade("0002")  # and back: frames go, the rest stays
    with database.engine.begin() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM content_signals").scalar() == 1
    database.migrate("head")


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://localhost/test", "postgresql+psycopg"),
        ("postgres://localhost/test", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_url_normalisation(url: str, driver: str) -> None:
    assert normalise_url(url).drivername == driver


@pytest.mark.parametrize("url", ["mysql://localhost/x", "not a url", "oracle://x"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError):
        normalise_url(url)


def test_each_database_has_its_own_instance_id(database: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    other = Database.open(f"sqlite:///{tmp_path / 'other.db'}")
    assert len(database.instance_id()) == 36
    assert database.instance_id() != other.instance_id()
    other.close()


def test_sqlite_writers_wait_their_turn_on_the_file_lock(tmp_path: Path) -> None:
    """A writer whose turn has not come (another process holds the file lock)
    does not start its transaction; it starts as soon as the lock is free."""
    database = Database.open(f"sqlite:///{tmp_path / 'turns.db'}")
    started, done = threading.Event(), threading.Event()

    def write() -> None:
        with database.transaction():
            started.set()
        done.set()

    with open(f"{tmp_path / 'turns.db'}.write-lock", "w") as other_process:
        fcntl.flock(other_process, fcntl.LOCK_EX)
        writer = threading.Thread(target=write)
        writer.start()
        assert not started.wait(0.3)  # the lock's holder goes first
    writer.join(30)  # closing the file released the lock
    assert done.is_set()
    database.close()


def test_an_orm_row_never_takes_the_id_of_a_deleted_newest_row(database: Database) -> None:
    """SQLite's rowid would hand out max(id) + 1 again; ids people were given
    (of keys, appeals, review items ...) must not come back."""

    def new_key(name: str) -> int:
        with database.transaction() as session:
            row = ApiKey(name=name, prefix=name, secret_hash="x" * 64, scopes=["match"])
            session.add(row)
            session.flush()
            return row.id

    first = new_key("first")
    newest = new_key("second")
    with database.transaction() as session:
        session.delete(session.get(ApiKey, newest))
    again = new_key("third")
    assert again > newest > first
