"""The audit log: every change by a person or a key, append-only and hash-chained.

    with acting_as(Actor("key:curation", request_id="3f2a...", client="10.0.0.7")):
        with database.transaction() as session:
            ...                                   # the change itself
            record(session, "bank.create", "bank:known", after={"name": "known"})

    with database.reading() as session:
        check = verify(session)                   # check.ok, check.head, check.problems
        page = find(session, target="content:known/*", since=parse_time("2026-11-01T00:00:00Z"))

:func:`record` writes in the caller's transaction, so a change and its entry
commit together or not at all.  Each entry's ``hash`` is the SHA-256 of its
fields and the previous entry's ``hash``, and ``seq`` counts 1, 2, 3 ...
without gaps: :func:`verify` finds an entry that was edited, deleted or
inserted out of turn.  (Deleting the newest entries leaves a shorter chain
that still holds: keep :func:`verify`'s ``head`` and pass it back as
``expect_head`` later.)

Who is acting travels in a context variable: the API sets it once a key is
admitted (``api/auth.py``; FastAPI's thread pool copies the context into
plain ``def`` routes), the CLI for the length of a command
(``cli/context.py``).  Work done for someone on another thread carries the
actor along: the group commit of adds (``banks/add_queue.py``) captures each
caller's actor and records each add with it (:func:`record_all`).

Writers of the log take turns: on PostgreSQL :func:`record` locks the table
(``EXCLUSIVE``: readers go on) until the transaction ends; SQLite writers
already hold the database's write lock.  So record late in a transaction,
and before ``store.changelog.record`` (always in that order: two writers
never wait for each other's lock the other way round).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from hashmatch.errors import InvalidFieldError
from hashmatch.store.bulk import bulk_insert
from hashmatch.store.models import AuditEntry, as_utc, utcnow

#: The first entry's ``prev_hash``.
GENESIS = "0" * 64
#: Most entries :func:`find` returns at once.
MAX_PAGE = 1000
AUDIT_LOG = cast(Table, AuditEntry.__table__)
# max() finds the newest entry through the primary key; ORDER BY seq DESC
# LIMIT 1 is planned by SQLite as a scan (tests/test_add_cost.py).  Built
# once, so SQLAlchemy compiles it once.
_NEWEST = select(AuditEntry.seq, AuditEntry.hash).where(
    AuditEntry.seq == select(func.max(AuditEntry.seq)).scalar_subquery()
)


@dataclass(frozen=True)
class Actor:
    """Who makes a change: ``key:<name>``, ``user:<name>``, ``cli:<os user>``
    or ``system``, and, through the API, the request id and client address."""

    name: str
    request_id: str | None = None
    client: str | None = None


SYSTEM = Actor("system")
_current: ContextVar[Actor] = ContextVar("hashmatch_actor", default=SYSTEM)


def current_actor() -> Actor:
    return _current.get()


def set_actor(actor: Actor) -> None:
    """Make ``actor`` the current actor for the rest of this context: for a
    context that ends with the work, such as an API request's task (where
    :func:`acting_as` would have to wrap the whole request)."""
    _current.set(actor)


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    """Changes made in this block (this thread or task) are ``actor``'s."""
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


@contextmanager
def acting_named(name: str) -> Iterator[Actor]:
    """Changes made in this block are ``name``'s, keeping the current
    request's id and client (a service method told who acts, called from a
    request or a command)."""
    current = current_actor()
    with acting_as(Actor(name, current.request_id, current.client)) as actor:
        yield actor


def entry_hash(fields: dict[str, Any], prev_hash: str) -> str:
    """The chain's link: SHA-256 over the entry's fields, canonical JSON, and
    the previous entry's hash."""
    canonical = json.dumps(
        [prev_hash, fields], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _fields(entry: AuditEntry | _Row) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": as_utc(entry.at).astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "before": entry.before,
        "after": entry.after,
        "request_id": entry.request_id,
        "client": entry.client,
    }


@dataclass(frozen=True)
class Event:
    """One change for :func:`record_all`: what was done to what, the target's
    state around it, and who did it (None: the current actor)."""

    action: str
    target: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    actor: Actor | None = None


def record(
    session: Session,
    action: str,
    target: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor: Actor | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append an entry in the session's transaction (the current actor's,
    unless ``actor`` is given).  ``before``/``after``: the target's state
    around the change (None where it did not exist), secrets left out.
    The entry written comes back (not attached to the session)."""
    [row] = _append(session, [Event(action, target, before, after, actor)], at)
    return AuditEntry(**row._asdict())


def record_all(session: Session, events: Iterable[Event], *, at: datetime | None = None) -> None:
    """Append an entry per event, in order, in the session's transaction:
    the log's lock and its newest entry are read once for all of them."""
    _append(session, list(events), at)


class _Row(NamedTuple):
    """An entry as it is written: the columns of ``audit_log``, in order."""

    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    client: str | None
    prev_hash: str
    hash: str


def _append(session: Session, events: list[Event], at: datetime | None) -> list[_Row]:
    if not events:
        return []
    session.flush()  # what the session holds is written before the entries
    connection = session.connection()  # Core statements: no ORM execution path
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("LOCK TABLE audit_log IN EXCLUSIVE MODE")
    last = connection.execute(_NEWEST).first()
    seq, prev_hash = (last[0], last[1]) if last is not None else (0, GENESIS)
    when = (at or utcnow()).astimezone(UTC)
    rows = []
    for event in events:
        who = event.actor or current_actor()
        seq += 1
        row = _Row(
            seq,
            when,
            who.name,
            event.action,
            event.target,
            event.before,
            event.after,
            who.request_id,
            who.client,
            prev_hash,
            "",
        )
        prev_hash = entry_hash(_fields(row), prev_hash)
        rows.append(row._replace(hash=prev_hash))
    # Plain rows, at the driver level: building and flushing an ORM object
    # per entry cost as much as the rest of an add.
    bulk_insert(connection, AUDIT_LOG, _Row._fields, [*rows])
    return rows


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    """An entry as the API and the CLI show it: its fields and both hashes."""
    return {**_fields(entry), "prev_hash": entry.prev_hash, "hash": entry.hash}


@dataclass(frozen=True)
class Query:
    """What ``hashmatch audit list`` and ``GET /v1/audit`` ask for (see :func:`find`)."""

    actor: str | None = None
    target: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def page(
        self,
        session: Session,
        *,
        after_seq: int = 0,
        before_seq: int | None = None,
        newest_first: bool = False,
        limit: int,
    ) -> list[dict[str, Any]]:
        """The entries after ``after_seq`` (and before ``before_seq``), at most
        ``limit``, as :func:`entry_json` shows them; ``newest_first``: the
        newest of them, newest first (the web UI's pages)."""
        found = find(
            session,
            actor=self.actor,
            target=self.target,
            action=self.action,
            since=self.since,
            until=self.until,
            after_seq=after_seq,
            before_seq=before_seq,
            newest_first=newest_first,
            limit=limit,
        )
        return [entry_json(entry) for entry in found]


def parse_time(text: str, field: str = "since") -> datetime:
    """An RFC 3339 time (``2026-11-26T16:00:00Z``), in UTC; InvalidFieldError
    for anything else, a time without its offset included."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidFieldError(
            f"{field} must be an RFC 3339 time with an offset, such as "
            f"2026-11-26T16:00:00Z; got {text!r}"
        )
    return moment.astimezone(UTC)


def find(
    session: Session,
    *,
    actor: str | None = None,
    target: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: int = 0,
    before_seq: int | None = None,
    newest_first: bool = False,
    limit: int = 100,
) -> list[AuditEntry]:
    """Entries after ``after_seq`` (and before ``before_seq``) in order, at
    most ``limit`` (up to ``MAX_PAGE``); ``newest_first``: the newest of them,
    in reverse.  ``actor``, ``target`` and ``action`` match exactly, or,
    ending in ``*``, as a prefix (``content:known/*``); ``since``: written
    at or after that time; ``until``: written before it."""
    conditions = [AuditEntry.seq > after_seq]
    if before_seq is not None:
        conditions.append(AuditEntry.seq < before_seq)
    for column, pattern in (
        (AuditEntry.actor, actor),
        (AuditEntry.target, target),
        (AuditEntry.action, action),
    ):
        if pattern is not None:
            conditions.append(_matching(column, pattern))
    if since is not None:
        # UTC, as it is stored: SQLite compares the text of naive times.
        conditions.append(AuditEntry.at >= since.astimezone(UTC))
    if until is not None:
        conditions.append(AuditEntry.at < until.astimezone(UTC))
    order = AuditEntry.seq.desc() if newest_first else AuditEntry.seq
    query = select(AuditEntry).where(*conditions).order_by(order).limit(min(limit, MAX_PAGE))
    return list(session.scalars(query))


def _matching(column: InstrumentedAttribute[str], pattern: str) -> ColumnElement[bool]:
    if not pattern.endswith("*"):
        return column == pattern
    prefix = pattern[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(f"{prefix}%", escape="\\")


@dataclass(frozen=True)
class ChainCheck:
    """What :func:`verify` found: the entries read, the newest entry's hash
    (keep it: a later check can tell the newest entries were not removed),
    and each problem, naming the entry."""

    entries: int
    head: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": self.head,
            "problems": self.problems,
        }


def verify(session: Session, *, expect_head: str | None = None, batch: int = 5000) -> ChainCheck:
    """Walk the whole chain in order and report every break.  ``expect_head``:
    a head kept from an earlier check, which must still be in the chain (if
    it is not, entries were removed from its end, or replaced)."""
    problems: list[str] = []
    expected_seq, prev_hash, count = 1, GENESIS, 0
    head_seen = expect_head in (None, GENESIS)
    after = 0
    while True:
        rows = list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.seq > after)
                .order_by(AuditEntry.seq)
                .limit(batch)
            )
        )
        if not rows:
            break
        for entry in rows:
            count += 1
            if entry.seq != expected_seq:
                problems.append(
                    f"entries {expected_seq}..{entry.seq - 1} are missing (deleted?)"
                    if entry.seq > expected_seq
                    else f"entry {entry.seq} is out of order"
                )
            if entry.prev_hash != prev_hash:
                problems.append(f"entry {entry.seq} does not follow the entry before it")
            if entry_hash(_fields(entry), entry.prev_hash) != entry.hash:
                problems.append(f"entry {entry.seq} was changed after it was written")
            head_seen = head_seen or entry.hash == expect_head
            expected_seq, prev_hash = entry.seq + 1, entry.hash
        after = rows[-1].seq
        session.expunge_all()
    if not head_seen:
        problems.append(
            f"no entry has the expected head hash {expect_head}: "
            "the newest entries were removed or replaced"
        )
    return ChainCheck(count, prev_hash, problems)
