"""Fresh primary keys on both engines, never handed out twice.

In-memory indexes follow the change log by signal id: an id that came back
after a delete would read "add 1, remove 1, add 1" and leave the new content
unmatchable.  PostgreSQL's sequences never go back.  SQLite's rowids do (a
plain ``INTEGER PRIMARY KEY`` takes ``max(id) + 1``), and turning on
``AUTOINCREMENT`` would mean rebuilding tables that others reference (a
rebuild cascades deletes), so on SQLite each table's last id is kept in
``id_counters`` and moved forward inside the writer's transaction, which
already holds the database's write lock (``BEGIN IMMEDIATE``).

The same goes for rows people and platforms refer to by id: a submission,
review item, appeal or report erased or purged must never lend its id to the
next one (a platform appealing "submission 7" would reach someone else's).
:func:`give_fresh_ids` does that for every row the ORM inserts on SQLite; the
few Core inserts of such rows call :func:`reserve_ids` themselves.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, Integer, Table, func, inspect, select, text
from sqlalchemy.orm import Session


def reserve_ids(connection: Connection, table: Table, count: int) -> list[int]:
    """``count`` primary keys for ``table`` that it has never used, ascending."""
    if count == 0:
        return []
    [key] = table.primary_key.columns
    if connection.dialect.name == "postgresql":
        query = text(
            "SELECT nextval(pg_get_serial_sequence(:table, :column)) FROM generate_series(1, :n)"
        )
        return list(
            connection.scalars(query, {"table": table.name, "column": key.name, "n": count})
        )
    # One statement moves the counter and says where it stands.  Every
    # counted table has its row from migration 0004; a table without one
    # starts after its highest id.
    last = connection.execute(_ADVANCE, {"name": table.name, "count": count}).scalar()
    if last is None:
        highest = connection.scalar(select(func.max(key))) or 0
        last = highest + count
        connection.execute(_START, {"name": table.name, "last": last})
    return list(range(last - count + 1, last + 1))


_ADVANCE = text(
    "UPDATE id_counters SET last_id = last_id + :count WHERE name = :name RETURNING last_id"
)
_START = text("INSERT INTO id_counters (name, last_id) VALUES (:name, :last)")


def give_fresh_ids(session: Session, _context: Any, _instances: Any) -> None:
    """``before_flush`` on SQLite: new ORM rows with an integer key and no id
    take theirs from :func:`reserve_ids`, one counter move per table."""
    waiting: defaultdict[Table, list[tuple[Any, str]]] = defaultdict(list)
    for row in session.new:
        mapper = inspect(row).mapper
        if len(mapper.primary_key) != 1:
            continue
        [key] = mapper.primary_key
        if not isinstance(key.type, Integer) or key.autoincrement is False:
            continue
        attribute = mapper.get_property_by_column(key).key
        if getattr(row, attribute) is None:
            waiting[mapper.local_table].append((row, attribute))
    if not waiting:
        return
    connection = session.connection()
    for table, rows in waiting.items():
        for (row, attribute), fresh in zip(
            rows, reserve_ids(connection, table, len(rows)), strict=True
        ):
            setattr(row, attribute, fresh)
