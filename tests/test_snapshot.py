"""Index snapshots: mapped back in instead of rebuilt, plus later changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hashmatch.banks import Banks
from hashmatch.hashing import HashRequest, hash_file
from hashmatch.hashlists import Entry, read_file
from hashmatch.index import HammingIndex, snapshot
from hashmatch.matching import Matcher
from hashmatch.store import Database
from tests.conftest import DATA

HAYSTACK = DATA / "pdq-reference" / "reg-test-input" / "haystack.txt"
PHOTO = DATA / "photos" / "nature-beach-malibu.jpg"


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    hashes = rng.integers(0, 2**64, size=(30_000, 4), dtype=np.uint64)
    index = HammingIndex(np.arange(30_000), hashes)
    index.add(np.array([70_000]), hashes[:1])
    index.remove(np.array([3]))
    snapshot.save(tmp_path / "pdq", index, snapshot.SnapshotInfo("db-1", 9, len(index)))
    assert snapshot.read_info(tmp_path / "pdq") == snapshot.SnapshotInfo("db-1", 9, 30_000)
    loaded = snapshot.load(tmp_path / "pdq")
    assert isinstance(loaded.main[1], np.memmap)  # mapped, not rebuilt
    for row in (0, 3, 17, 29_999):
        expected = index.search(hashes[row], 31)
        found = loaded.search(hashes[row], 31)
        assert sorted(found[0].tolist()) == sorted(expected[0].tolist())
    assert 3 not in loaded.search(hashes[3], 0)[0]


def test_missing_or_foreign_snapshot_is_not_used(tmp_path: Path) -> None:
    assert snapshot.read_info(tmp_path / "nothing") is None
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "meta.json").write_text('{"version": 0}')
    assert snapshot.read_info(tmp_path / "bad") is None


def test_matcher_starts_from_its_snapshot_and_replays_later_changes(
    database: Database, tmp_path: Path
) -> None:
    banks = Banks(database)
    banks.create("known")
    banks.import_entries("known", read_file(HAYSTACK))
    first = Matcher(database, tmp_path / "index")
    assert snapshot.read_info(tmp_path / "index" / "pdq") is not None
    banks.add("known", Entry(dict(hash_file(PHOTO, HashRequest()).signals)))
    second = Matcher(database, tmp_path / "index")
    index = second.indexes.hamming_index("pdq")
    assert index is not None
    assert isinstance(index.main[1], np.memmap)
    assert second.indexes.changes_since_snapshot == 1  # the photo's PDQ
    assert second.seq > first.seq
    assert {m.signal_type for m in second.match_file(PHOTO)[1]} == {"pdq", "md5", "sha256"}
    haystack_hash = HAYSTACK.read_text().split()[5]
    assert len(second.match_hashes({"pdq": [haystack_hash]})) >= 1


def test_snapshot_of_a_wiped_database_is_rebuilt(database_url: str, tmp_path: Path) -> None:
    database = Database.open(database_url)
    banks = Banks(database)
    banks.create("known")
    banks.import_entries("known", read_file(HAYSTACK)[:10])
    Matcher(database, tmp_path / "index")
    banks.delete("known")
    database.downgrade("base")
    database.migrate()
    banks.create("known")
    banks.import_entries("known", read_file(HAYSTACK)[20:25])
    matcher = Matcher(database, tmp_path / "index")
    assert len(matcher) == 5
    database.close()


def test_a_second_writer_skips_while_one_holds_the_lock(tmp_path: Path) -> None:
    import fcntl

    index = HammingIndex(np.arange(3), np.zeros((3, 4), dtype=np.uint64))
    info = snapshot.SnapshotInfo("db", 0, 3)
    with (tmp_path / ".pdq.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert snapshot.save(tmp_path / "pdq", index, info) is False
    assert snapshot.save(tmp_path / "pdq", index, info) is True
    assert snapshot.read_info(tmp_path / "pdq") == info


def test_running_matchers_switch_to_a_newer_snapshot(database: Database, tmp_path: Path) -> None:
    """A worker maps the snapshot another wrote, and what changed around it is
    replayed: the answers stay exact."""
    banks = Banks(database)
    banks.create("known")
    hashes = HAYSTACK.read_text().split()
    first_half = [Entry({"pdq": value}) for value in hashes[:600]]
    banks.import_entries("known", first_half)
    writer = Matcher(database, tmp_path / "index")
    reader = Matcher(database, tmp_path / "index")
    assert not reader.remap_snapshot()  # nothing newer than what it maps
    banks.import_entries("known", [Entry({"pdq": value}) for value in hashes[600:1200]])
    writer.refresh()
    writer.save_snapshot()
    # Changes after the new snapshot, before the reader switches to it.
    removed = banks.existing_content("known", first_half[0])
    assert removed is not None
    banks.remove_content("known", [removed])
    banks.import_entries("known", [Entry({"pdq": value}) for value in hashes[1200:]])
    reader.refresh()
    assert reader.remap_snapshot()
    index = reader.indexes.hamming_index("pdq")
    assert index is not None
    assert isinstance(index.main[1], np.memmap)
    assert len(reader) == len(set(hashes)) - 1
    reference = Matcher(database, None)  # built from the database alone
    for value in hashes[::97]:
        expected = {(m.content_id, m.distance) for m in reference.match_hashes({"pdq": [value]})}
        found = {(m.content_id, m.distance) for m in reader.match_hashes({"pdq": [value]})}
        assert found == expected
    assert all(m.content_id != removed for m in reader.match_hashes({"pdq": [hashes[0]]}))
