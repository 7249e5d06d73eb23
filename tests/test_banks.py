"""Banks on both engines: CRUD, all-or-nothing idempotent imports, export."""

from __future__ import annotations

import io
import multiprocessing
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from hashmatch.banks import Banks, writes
from hashmatch.errors import BankError, BankExistsError, ImportFormatError, UnknownBankError
from hashmatch.hashlists import Entry, ListFormat, read_entries, read_file
from hashmatch.store import Change, ContentSignal, Database
from tests.conftest import DATA

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
HAYSTACK = DATA / "pdq-reference" / "reg-test-input" / "haystack.txt"


@pytest.fixture
def banks(database: Database) -> Banks:
    return Banks(database)


def counts(database: Database) -> tuple[int, int]:
    with database.reading() as session:
        return (
            session.scalar(select(func.count()).select_from(ContentSignal)) or 0,
            session.scalar(select(func.count()).select_from(Change)) or 0,
        )


def test_create_show_list_update_delete(banks: Banks) -> None:
    created = banks.create(
        "known", description="d", labels=["a1", "tag", "A1"], thresholds={"pdq": 20}
    )
    assert (created.name, created.labels, created.thresholds, created.contents) == (
        "known",
        ["A1", "tag"],
        {"pdq": 20},
        0,
    )
    banks.create("allow", kind="allowlist")
    assert [info.name for info in banks.all()] == ["allow", "known"]
    updated = banks.update("known", new_name="renamed", enabled=False, thresholds={"pdq": 25})
    assert (updated.name, updated.enabled, updated.thresholds) == ("renamed", False, {"pdq": 25})
    assert banks.get("renamed").description == "d"
    banks.delete("renamed")
    with pytest.raises(UnknownBankError, match="no bank named 'renamed'"):
        banks.get("renamed")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "bad name"}, "invalid bank name"),
        ({"name": "x", "kind": "blocklist"}, "bank kind must be one of"),
        ({"name": "x", "labels": ["a,b"]}, "invalid label"),
        ({"name": "x", "thresholds": {"md5": 3}}, "exact hash"),
        ({"name": "x", "thresholds": {"pdq": -1}}, "whole number"),
    ],
)
def test_invalid_banks_are_refused(banks: Banks, kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(BankError, match=message):
        banks.create(**kwargs)
    assert banks.all() == []


def test_duplicate_name(banks: Banks) -> None:
    banks.create("known")
    with pytest.raises(BankExistsError):
        banks.create("known")


def test_import_is_idempotent_and_logged(banks: Banks, database: Database) -> None:
    banks.create("known")
    entries = read_file(HAYSTACK)
    assert banks.import_entries("known", entries).to_json() == {"added": 1350, "skipped": 0}
    assert banks.import_entries("known", entries).to_json() == {"added": 0, "skipped": 1350}
    assert counts(database) == (1350, 1)  # one change-log row for the whole import
    with database.reading() as session:
        change = session.scalars(select(Change)).one()
        signal_ids = sorted(session.scalars(select(ContentSignal.id)))
    assert (change.op, change.signal_id, change.last_signal_id) == (
        "add",
        signal_ids[0],
        signal_ids[-1],
    )
    assert banks.get("known").contents == 1350


def test_duplicates_within_one_list_are_added_once(banks: Banks) -> None:
    banks.create("known")
    result = banks.import_entries("known", [Entry({"pdq": PDQ}), Entry({"pdq": PDQ})])
    assert result.to_json() == {"added": 1, "skipped": 1}


def test_a_broken_line_writes_nothing(banks: Banks, database: Database) -> None:
    banks.create("known")
    text = "signal_type,signal\n" + f"pdq,{PDQ}\n" * 3 + "pdq,nothex\n"
    with pytest.raises(ImportFormatError, match=r"list\.csv:5"):
        banks.import_entries("known", read_entries(io.StringIO(text), ListFormat.csv, "list.csv"))
    assert counts(database) == (0, 0)


def test_a_failing_write_rolls_back(
    banks: Banks, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    banks.create("known")
    entries = read_file(HAYSTACK)
    original = writes._insert
    calls = 0

    def fail_on_second_batch(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(writes, "INSERT_BATCH", 500)
    monkeypatch.setattr(writes, "_insert", fail_on_second_batch)
    with pytest.raises(RuntimeError):
        banks.import_entries("known", entries)
    assert counts(database) == (0, 0)


def test_unknown_bank(banks: Banks) -> None:
    with pytest.raises(UnknownBankError):
        banks.import_entries("nope", [Entry({"pdq": PDQ})])


def test_export_round_trip(banks: Banks) -> None:
    banks.create("known")
    entries = [
        Entry({"pdq": PDQ, "md5": "d41d8cd98f00b204e9800998ecf8427e"}, "c1", ["A1"], "n", {"k": 1}),
        Entry({"pdq": "0" * 64}),
    ]
    banks.import_entries("known", entries)
    assert list(banks.export("known")) == entries


def test_external_id_identifies_content(banks: Banks) -> None:
    banks.create("known")
    assert banks.add("known", Entry({"pdq": PDQ}, "case-9")) is not None
    assert banks.add("known", Entry({"pdq": "0" * 64}, "case-9")) is None


def test_disable_and_enable_content(banks: Banks) -> None:
    banks.create("known")
    content_id = banks.add("known", Entry({"pdq": PDQ}))
    assert content_id is not None
    assert banks.set_disabled("known", [content_id], datetime(2030, 1, 1, tzinfo=UTC)) == 1
    assert banks.set_disabled("known", [content_id], None) == 1
    with pytest.raises(BankError, match="no content"):
        banks.set_disabled("known", [content_id + 100], None)


def test_deleting_a_bank_logs_removals(banks: Banks, database: Database) -> None:
    banks.create("known")
    banks.import_entries("known", read_file(HAYSTACK)[:10])
    banks.delete("known")
    with database.reading() as session:
        rows = session.execute(select(Change.op, Change.signal_id, Change.last_signal_id)).all()
    covered = {
        op: {i for o, first, last in rows if o == op for i in range(first, last + 1)}
        for op in ("add", "remove")
    }
    assert len(covered["add"]) == 10
    assert covered["remove"] == covered["add"]  # logged as runs of ids, every one
    assert counts(database)[0] == 0


def _import_in_another_process(url: str, start: int) -> None:
    database = Database.open(url)
    Banks(database).import_entries("known", read_file(HAYSTACK)[start : start + 900])
    database.close()


def test_two_processes_importing_at_once(database: Database, database_url: str) -> None:
    """Overlapping lists, imported concurrently: every hash once, no error."""
    Banks(database).create("known")
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_import_in_another_process, args=(database_url, start))
        for start in (0, 450)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert Banks(database).get("known").contents == 1350


def test_listing_after_the_largest_possible_id_is_empty(banks: Banks) -> None:
    banks.create("known")
    banks.add("known", Entry({"pdq": PDQ}))
    assert [content for content, _ in banks.content_ids("known")] == [1]
    assert banks.content_ids("known", after=2**64) == []


def test_a_banks_size_follows_changes_made_elsewhere(banks: Banks, database: Database) -> None:
    """Sizes are counted again only when the change log moved: a change by
    another process (another Banks here) is seen at once all the same."""
    banks.create("known")
    assert banks.get("known").contents == 0
    elsewhere = Banks(database)
    first = elsewhere.add("known", Entry({"pdq": PDQ}))
    assert first is not None
    assert banks.get("known").contents == 1
    assert [bank.contents for bank in banks.all()] == [1]
    elsewhere.add("known", Entry({"pdq": "0" * 64}))
    assert [bank.contents for bank in banks.all()] == [2]
    elsewhere.remove_content("known", [first])
    assert banks.get("known").contents == 1
