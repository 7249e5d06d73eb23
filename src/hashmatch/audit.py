"""The audit log: every change by a person or a key, append-only and hash-chained.

    with acting_as(Actor("key:curation", request_id="3f2a...", client="10.0.0.7")):
        with database.transaction() as session:
            ...                                   # the change itself
            record(session, "bank.create", "bank:known", after={"name": "known"})

:func:`record` writes in the caller's transaction, so a change and its entry
commit together or not at all.  Each entry's ``hash`` is the SHA-256 of its
fields and the previous entry's ``hash``, and ``seq`` counts 1, 2, 3 ...
without gaps: :func:`verify` finds an entry that was edited, deleted or
inserted out of turn.  (Deleting the newest entries leaves a shorter chain
that still holds: compare :func:`verify`'s ``head`` with one you kept.)

Writers of the log take turns: on PostgreSQL :func:`record` locks the table
(``EXCLUSIVE``: readers go on) until the transaction ends; SQLite writers
already hold the database's write lock.  So record late in a transaction,
and before ``store.changelog.record`` (always in that order: two writers
never wait for each other's lock the other way round).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashmatch.store.models import AuditEntry, as_utc, utcnow

#: The first entry's ``prev_hash``.
GENESIS = "0" * 64


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


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    """Changes made in this block (this thread or task) are ``actor``'s."""
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def entry_hash(fields: dict[str, Any], prev_hash: str) -> str:
    """The chain's link: SHA-256 over the entry's fields, canonical JSON, and
    the previous entry's hash."""
    canonical = json.dumps(
        [prev_hash, fields], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _fields(entry: AuditEntry) -> dict[str, Any]:
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
    around the change (None where it did not exist), secrets left out."""
    who = actor or current_actor()
    if session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql("LOCK TABLE audit_log IN EXCLUSIVE MODE")
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (last[0] + 1, last[1]) if last is not None else (1, GENESIS)
    entry = AuditEntry(
        seq=seq,
        at=(at or utcnow()).astimezone(UTC),
        actor=who.name,
        action=action,
        target=target,
        before=before,
        after=after,
        request_id=who.request_id,
        client=who.client,
        prev_hash=prev_hash,
    )
    entry.hash = entry_hash(_fields(entry), prev_hash)
    session.add(entry)
    session.flush()
    return entry


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


def verify(session: Session, *, batch: int = 5000) -> ChainCheck:
    """Walk the whole chain in order and report every break."""
    problems: list[str] = []
    expected_seq, prev_hash, count = 1, GENESIS, 0
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
            expected_seq, prev_hash = entry.seq + 1, entry.hash
        after = rows[-1].seq
        session.expunge_all()
    return ChainCheck(count, prev_hash, problems)
