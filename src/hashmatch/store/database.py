"""Connecting to the database, migrating it, and transactions.

    db = Database.open("sqlite:////var/lib/hashmatch/hashmatch.db")
    with db.transaction() as session:
        session.add(...)

The schema is brought up to date on open (Alembic, ``upgrade head``), so a
fresh data directory just works.  Every write goes through
:meth:`Database.transaction`: it commits whole or not at all.  On SQLite the
transaction takes the write lock at its start (``BEGIN IMMEDIATE``) and waits
for another writer instead of failing halfway.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from hashmatch.errors import ConfigurationError
from hashmatch.store.changelog import LOG_WRITTEN
from hashmatch.store.ids import give_fresh_ids
from hashmatch.store.models import Instance

#: How long a SQLite writer waits for another one to finish.
SQLITE_BUSY_SECONDS = 60


def normalise_url(url: str) -> URL:
    """Accept ``postgresql://`` (psycopg 3 is the driver) and ``sqlite:///path``."""
    try:
        parsed = make_url(url)
    except Exception as error:  # noqa: BLE001 - SQLAlchemy raises several types
        raise ConfigurationError(f"not a database URL: {url!r} ({error})") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"unsupported database {parsed.drivername!r}: use sqlite or postgresql"
        )
    return parsed


#: Execution option of the connections ``Database.reading`` hands out.
READ_ONLY = "hashmatch_read_only"


def _sqlite_engine(url: URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    # A connection for each of the server's threads, kept: a new one costs
    # its PRAGMAs, and the default pool (5, plus 10 closed after use) made
    # busy servers reconnect on most requests.
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_SECONDS}, pool_size=64, max_overflow=64
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below decide
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        # With WAL, NORMAL keeps the database consistent through a crash; only
        # the last transactions before a power cut may be lost.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA cache_size = -65536")  # 64 MiB
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_SECONDS * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front, so two of them queue rather
        # than deadlock on an upgrade; readers never wait for one another.
        options = connection.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return  # each statement is its own transaction
        connection.exec_driver_sql("BEGIN" if options.get(READ_ONLY) else "BEGIN IMMEDIATE")

    return engine


def conflict_insert(dialect: str, table: Any) -> Any:
    """An INSERT into ``table`` in ``dialect``'s own form ("postgresql" or
    "sqlite"), which can say ``ON CONFLICT``: upserts in one statement."""
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


class Database:
    """An engine, a session factory, and the migrated schema."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        database = engine.url.database
        #: Writers' turns on a SQLite file (None: PostgreSQL, or in memory).
        self._write_lock_path = (
            f"{database}.write-lock"
            if engine.dialect.name == "sqlite" and database and database != ":memory:"
            else None
        )
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        if engine.dialect.name == "sqlite":
            event.listen(self._sessions, "before_flush", give_fresh_ids)
        self._read_sessions = sessionmaker(
            engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )
        self._statement_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._kept = threading.local()
        self._kept_connections: list[Connection] = []
        self._kept_lock = threading.Lock()
        #: Transactions committed through this object that wrote to the change
        #: log: a reader in the same process that sees it move knows to look
        #: at the log now (other commits, a submission's, leave it be).
        self.commits = 0

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Database:
        parsed = normalise_url(url)
        if parsed.get_backend_name() == "sqlite":
            engine = _sqlite_engine(parsed)
        else:
            engine = create_engine(parsed, pool_pre_ping=True)
        database = cls(engine)
        if migrate:
            database.migrate()
        return database

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema up to ``revision`` (Alembic), in one transaction."""
        self._alembic(command.upgrade, revision)

    def downgrade(self, revision: str) -> None:
        """Take the schema back to ``revision`` ("base": nothing), in one transaction."""
        self._alembic(command.downgrade, revision)

    def _alembic(self, action: Any, revision: str) -> None:
        config = Config()
        location = resources.files("hashmatch.store") / "migrations"
        config.set_main_option("script_location", str(location))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            action(config, revision)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits at the end of the block, or not at all."""
        with self._writer_turn(), self._sessions() as session:
            with session.begin():
                info = session.connection().info
                info.pop(LOG_WRITTEN, None)  # left by a transaction that failed
                yield session
                logged = info.pop(LOG_WRITTEN, False)
            if logged:
                self.commits += 1

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        """On a SQLite file, wait for the writers before us on a file lock.

        SQLite's own busy handler polls, sleeping longer and longer (up to
        100 ms a try), so with several processes writing, most of their time
        went to sleeping past the moment the lock came free.  ``flock`` wakes
        the next writer as soon as the last one is done; SQLite's lock is
        still what protects the data.
        """
        if self._write_lock_path is None:
            yield
            return
        descriptor = os.open(self._write_lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # releases the lock

    @contextmanager
    def reading(self, *, consistent: bool = False) -> Iterator[Session]:
        """A session for reads (nothing it does is committed).  ``consistent``:
        every statement sees the database as of the first one (SQLite's read
        transactions always do; PostgreSQL needs REPEATABLE READ for it)."""
        with self._read_sessions() as session:
            if consistent and self.dialect == "postgresql":
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield session

    @contextmanager
    def single_statement(self) -> Iterator[Connection]:
        """A connection for one read statement on a hot path: kept open for
        the calling thread (no pool checkout, no session), each statement its
        own transaction.  A connection that fails is dropped, not reused."""
        connection = getattr(self._kept, "connection", None)
        if connection is None:
            connection = self._statement_engine.connect()
            self._kept.connection = connection
            with self._kept_lock:
                self._kept_connections.append(connection)
        try:
            yield connection
        except DBAPIError:
            self._kept.connection = None
            connection.invalidate()
            raise

    def refresh_statistics(self) -> None:
        """After a bulk write, let PostgreSQL's planner know the tables' sizes
        now, rather than when autovacuum next gets to them: with the sizes of
        before a million-row import, it read the whole bank through the index
        for every add's lookup (75 adds/s instead of 1,150).  SQLite's planner
        keeps no such statistics unless asked, so there is nothing to do."""
        if self.dialect != "postgresql":
            return
        with self._statement_engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE contents, content_signals, changes")

    def instance_id(self) -> str:
        """The random id this database was given when its schema was created."""
        with self.reading() as session:
            return str(session.scalar(select(Instance.id)))

    def close(self) -> None:
        with self._kept_lock:
            for connection in self._kept_connections:
                connection.close()
            self._kept_connections.clear()
        self.engine.dispose()
