"""Writing many rows fast on both engines: driver-level inserts, and ids as runs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, cast

from sqlalchemy import JSON, Connection, Table


def bulk_insert(
    connection: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """executemany at the driver level, values converted as SQLAlchemy would.

    SQLAlchemy's own executemany builds a parameter dict per row and, with
    RETURNING, falls back to a statement per row; a million-row hash list
    would take minutes.  Values go through the column types' own converters
    (timestamps on SQLite) and JSON through ``json.dumps`` as SQLAlchemy's
    JSON type does, so the stored values are what the ORM writes and reads.
    """
    if not rows:
        return
    dialect = connection.dialect
    values_by_column: list[Iterable[Any]] = []
    for name, values in zip(columns, zip(*rows, strict=True), strict=True):
        column_type = table.c[name].type
        if isinstance(column_type, JSON):
            values_by_column.append(
                [json.dumps(value) if value else _EMPTY_JSON[type(value)] for value in values]
            )
            continue
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        values_by_column.append(values if process is None else map(_memoised(process), values))
    converted = zip(*values_by_column, strict=True)
    if dialect.name == "postgresql":
        # COPY streams the rows in one command: many times executemany's speed.
        driver = cast(Any, connection.connection.driver_connection)
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in converted:
                copy.write_row(row)
        return
    markers = ", ".join(["?"] * len(columns))
    connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({markers})", list(converted)
    )


_EMPTY_JSON = {dict: "{}", list: "[]", type(None): "null"}


def _memoised(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A converter that converts each distinct value once (a batch shares its timestamp)."""
    cache: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        if value not in cache:
            cache[value] = process(value)
        return cache[value]

    return convert


def runs(ids: list[int]) -> list[tuple[int, int]]:
    """Ascending ids as (first, last) runs of consecutive values."""
    runs: list[tuple[int, int]] = []
    for value in ids:
        if runs and value == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs
