"""Fresh primary keys on both engines, never handed out twice.

In-memory indexes follow the change log by signal id: an id that came back
after a delete would read "add 1, remove 1, add 1" and leave the new content
unmatchable.  PostgreSQL's sequences never go back.  SQLite's rowids do (a
plain ``INTEGER PRIMARY KEY`` takes ``max(id) + 1``), and turning on
``AUTOINCREMENT`` would mean rebuilding tables that others reference (a
rebuild cascades deletes), so on SQLite each table's last id is kept in
``id_counters`` and moved forward inside the writer's transaction, which
already holds the database's write lock (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, func, select, text


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
