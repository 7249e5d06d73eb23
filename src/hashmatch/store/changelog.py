"""The change log: which signals were added and removed, read back in order.

    record(connection, "add", signal_ids)        # inside the writer's transaction
    upto = latest_seq(session)
    added, removed = changes_between(session, after, upto)

Readers follow the log by sequence number: everything after the last entry
they applied.  That is only exact if an entry can never become visible after
a later one, and on PostgreSQL a sequence value is taken at insert, not at
commit: a writer to bank A takes entry N, a writer to bank B takes N + 1 and
commits first, a reader moves past N + 1, and A's entry is never read.

We serialise the writers of the log until they commit: :func:`record` locks
the ``changes`` table (``EXCLUSIVE``: other writers of the log wait, readers
do not) before taking sequence values, and the lock is held until the
transaction ends, so entries commit in sequence order and what a reader sees
is always a prefix of the log.  Writers record their changes last, so the
lock is held only for the moments between writing the log and committing.
SQLite needs nothing more: a writer holds the database's write lock for its
whole transaction (``BEGIN IMMEDIATE``).

The alternatives were readers that re-read a window behind transactions
still in flight (each reader must then know which transactions are in
flight, and apply some entries twice) and a log ordered by commit (a
commit timestamp or ``pg_current_xact_id`` order that PostgreSQL does not
give cheaply).  One short lock per write is simpler to prove.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal, cast

from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.orm import Session

from hashmatch.store.bulk import bulk_insert, runs
from hashmatch.store.ids import reserve_ids
from hashmatch.store.models import Change, utcnow

CHANGES = cast(Table, Change.__table__)
#: Set on a connection whose transaction wrote to the log (see
#: ``Database.transaction``, which counts such commits).
LOG_WRITTEN = "hashmatch.log_written"


def record(connection: Connection, op: Literal["add", "remove"], signal_ids: Iterable[int]) -> None:
    """Log ``op`` for ``signal_ids`` (as runs of consecutive ids), holding the
    log's lock until the transaction ends: call it last in a transaction."""
    # Ids come ascending from the writers (reserved in order): sorting them
    # again is a pass over the list, not a long hold of the GIL.
    id_runs = runs(sorted(set(signal_ids)))
    if not id_runs:
        return
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("LOCK TABLE changes IN EXCLUSIVE MODE")
    connection.info[LOG_WRITTEN] = True  # Database.transaction counts the commit
    seqs = reserve_ids(connection, CHANGES, len(id_runs))
    now = utcnow()
    bulk_insert(
        connection,
        CHANGES,
        ("seq", "op", "signal_id", "last_signal_id", "created_at"),
        [(seq, op, first, last, now) for seq, (first, last) in zip(seqs, id_runs, strict=True)],
    )


def latest_seq(session: Session) -> int:
    """The last entry of the log (0 when it is empty)."""
    return int(session.scalar(select(func.max(Change.seq))) or 0)


def changes_between(session: Session, after: int, upto: int) -> tuple[Sequence[Any], list[int]]:
    """Signals added (rows of id, type, value) and removed (ids) by the
    entries after ``after`` up to ``upto``.  A signal added and removed again
    is gone from ``content_signals``, so it is in neither list, or only in
    the removed one; ids are never reused (``store/ids.py``)."""
    window = (Change.seq > after) & (Change.seq <= upto)
    added = session.execute(_ADDED, {"after": after, "upto": upto}).all()
    removed = [
        signal_id
        for first, last in session.execute(
            select(Change.signal_id, Change.last_signal_id).where(window, Change.op == "remove")
        )
        for signal_id in range(first, last + 1)
    ]
    return added, removed


# CROSS JOIN makes SQLite read the few log entries first and look their ids
# up in content_signals' primary key; left to itself it scanned the whole
# table for every refresh (133 ms at 200k signals).  PostgreSQL plans it as
# any inner join.
_ADDED = text(
    "SELECT s.id, s.signal_type, s.value FROM changes AS c CROSS JOIN content_signals AS s "
    "WHERE c.seq > :after AND c.seq <= :upto AND c.op = 'add' "
    "AND s.id BETWEEN c.signal_id AND c.last_signal_id"
)
