"""Adding one content, and following the log, read only what concerns them:
on SQLite, every statement they run finds its rows through an index, none
scans a table, so an add or a refresh costs the same in an empty bank and in
one with a million hashes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from hashmatch.banks import Banks, catalog
from hashmatch.hashlists import Entry
from hashmatch.matching import Matcher
from hashmatch.store import Database

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def statements_of(database: Database, action: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def note(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", note)
    try:
        action()
    finally:
        event.remove(database.engine, "before_cursor_execute", note)
    return seen


def assert_no_scans(database: Database, action: Any, *, reads: int) -> None:
    statements = statements_of(database, action)
    selects = [(sql, params) for sql, params in statements if sql.lstrip().startswith("SELECT")]
    assert len(selects) >= reads
    with database.engine.connect() as connection:
        for sql, params in selects:
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
            details = " | ".join(str(row[-1]) for row in plan)
            assert "SCAN" not in details, f"{sql} -> {details}"


@pytest.fixture
def banks(tmp_path: Path) -> Iterator[Banks]:
    database = Database.open(f"sqlite:///{tmp_path / 'cost.db'}")
    banks = Banks(database)
    banks.create("known")
    banks.import_entries("known", [Entry({"pdq": f"{i:064x}"}, f"id-{i}") for i in range(1, 500)])
    yield banks
    database.close()


def test_an_add_scans_no_table(banks: Banks) -> None:
    entry = Entry({"pdq": PDQ, "md5": "d41d8cd98f00b204e9800998ecf8427e"}, "new-one")
    # The bank, and the entry's own signals and external id.
    assert_no_scans(banks.database, lambda: banks.add("known", entry), reads=3)


def test_a_refresh_scans_no_table(banks: Banks) -> None:
    matcher = Matcher(banks.database)
    banks.add("known", Entry({"pdq": PDQ}))
    banks.remove_content("known", [1])
    # The log's last entry, the signals added in the window, the ids removed.
    assert_no_scans(banks.database, matcher.refresh, reads=3)
    assert matcher.seq > 0


def test_after_a_big_import_an_add_still_looks_up_by_value(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the planner must know the bank grew: with the sizes from
    before the import it read the whole bank through the index for each add."""
    monkeypatch.setattr(catalog, "STATISTICS_AFTER", 2_000)
    banks = Banks(database)
    banks.create("big")
    banks.import_entries("big", [Entry({"pdq": f"{i:064x}"}) for i in range(1, 5_001)])
    lookup = (
        "SELECT value FROM content_signals WHERE bank_id = 1 AND signal_type = 'pdq' "
        f"AND value IN ('{PDQ}', '{'0' * 64}') AND signal_type != 'vpdq'"
    )
    explain = "EXPLAIN" if database.dialect == "postgresql" else "EXPLAIN QUERY PLAN"
    with database.engine.connect() as connection:
        plan = " | ".join(str(row[-1]) for row in connection.exec_driver_sql(f"{explain} {lookup}"))
    if database.dialect == "postgresql":
        assert "Index Cond" in plan
        assert "value" in plan.split("Index Cond", 1)[1].split("|")[0], plan
    else:
        assert "value=?" in plan, plan
