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

from typing import cast

from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hashmatch.store.models import IdCounter


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
    counters = cast(Table, IdCounter.__table__)
    last_given = connection.scalar(select(counters.c.last_id).where(counters.c.name == table.name))
    # Rows written without a reserved id (the ORM's own inserts) count too.
    highest = connection.scalar(select(func.max(key)))
    start = max(last_given or 0, highest or 0) + 1
    last = start + count - 1
    upsert = sqlite_insert(counters).values(name=table.name, last_id=last)
    connection.execute(
        upsert.on_conflict_do_update(index_elements=["name"], set_={"last_id": last})
    )
    return list(range(start, last + 1))
