"""Matching on both engines: transforms, thresholds, disabled content, allowlists."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import update

from hashmatch.banks import Banks
from hashmatch.hashing import HashRequest, hash_file
from hashmatch.hashlists import Entry
from hashmatch.matching import Matcher
from hashmatch.store import Content, Database
from tests.conftest import DATA

PHOTO = DATA / "photos" / "nature-beach-malibu.jpg"
OTHER = DATA / "photos" / "outdoors-castle.jpg"


def entry_for(path: Path) -> Entry:
    return Entry(dict(hash_file(path, HashRequest()).signals))


@pytest.fixture
def banks(database: Database) -> Banks:
    banks = Banks(database)
    banks.create("known", labels=["A1"])
    banks.add("known", entry_for(PHOTO))
    return banks


@pytest.fixture
def rotated(tmp_path: Path) -> Path:
    path = tmp_path / "rotated.jpg"
    with Image.open(PHOTO) as image:
        image.transpose(Image.Transpose.ROTATE_90).save(path, quality=85)
    return path


def test_rotated_copy_matches_with_its_transform(
    banks: Banks, database: Database, rotated: Path
) -> None:
    _, matches = Matcher(database).match_file(rotated)
    [match] = matches
    assert (match.bank, match.signal_type, match.transform, match.bank_labels) == (
        "known",
        "pdq",
        "rotate270",
        ["A1"],
    )
    assert match.distance <= 31
    assert not match.suppressed


def test_identical_file_matches_every_signal(banks: Banks, database: Database) -> None:
    _, matches = Matcher(database).match_file(PHOTO)
    assert {(m.signal_type, m.distance) for m in matches} == {("md5", 0), ("sha256", 0), ("pdq", 0)}


def test_unrelated_photo_matches_nothing(banks: Banks, database: Database) -> None:
    assert Matcher(database).match_file(OTHER)[1] == []


def test_bank_threshold_applies(banks: Banks, database: Database, rotated: Path) -> None:
    distance = Matcher(database).match_file(rotated)[1][0].distance
    banks.update("known", thresholds={"pdq": distance - 1})
    assert Matcher(database).match_file(rotated)[1] == []


def test_disabled_bank_and_content(banks: Banks, database: Database, rotated: Path) -> None:
    banks.update("known", enabled=False)
    assert Matcher(database).match_file(rotated)[1] == []
    banks.update("known", enabled=True)
    banks.set_disabled("known", [1], datetime(2999, 1, 1, tzinfo=UTC))
    assert Matcher(database).match_file(rotated)[1] == []
    banks.set_disabled("known", [1], datetime(2000, 1, 1, tzinfo=UTC))  # already over
    assert len(Matcher(database).match_file(rotated)[1]) == 1


def test_allowlist_suppresses(banks: Banks, database: Database, rotated: Path) -> None:
    banks.create("safe", kind="allowlist")
    banks.add("safe", entry_for(PHOTO))
    [match] = Matcher(database).match_file(rotated)[1]
    assert match.suppressed
    assert match.suppressed_by == ["safe"]


def test_low_quality_pdq_does_not_match(database: Database, tmp_path: Path) -> None:
    flat = tmp_path / "flat.png"
    Image.new("RGB", (200, 200), (120, 120, 120)).save(flat)
    banks = Banks(database)
    banks.create("known")
    banks.add("known", Entry({"pdq": hash_file(flat, HashRequest()).signals["pdq"]}))
    result, matches = Matcher(database).match_file(flat)
    assert result.quality["pdq"] < 50
    assert matches == []


def test_bank_filter(banks: Banks, database: Database) -> None:
    banks.create("other")
    banks.add("other", entry_for(PHOTO))
    matcher = Matcher(database)
    result = hash_file(PHOTO, HashRequest(dihedral=True))
    assert {m.bank for m in matcher.match_result(result)} == {"known", "other"}
    assert {m.bank for m in matcher.match_result(result, banks=["other"])} == {"other"}


def test_new_content_is_matchable_after_refresh(database: Database, rotated: Path) -> None:
    banks = Banks(database)
    banks.create("known")
    matcher = Matcher(database)
    assert matcher.match_file(rotated)[1] == []
    banks.add("known", entry_for(PHOTO))
    assert matcher.refresh() == 3  # pdq, md5, sha256
    assert len(matcher.match_file(rotated)[1]) == 1
    banks.delete("known")
    assert matcher.refresh() == 3
    assert matcher.match_file(rotated)[1] == []


def test_match_by_hash(banks: Banks, database: Database) -> None:
    pdq = hash_file(PHOTO, HashRequest()).signals["pdq"]
    [match] = Matcher(database).match_hashes({"pdq": [pdq]})
    assert (match.distance, match.transform) == (0, "original")
    assert match.to_json()["labels"] == ["A1"]


def test_match_many_equals_one_lookup_per_hash(banks: Banks, database: Database) -> None:
    signals = hash_file(PHOTO, HashRequest()).signals
    queries = [("pdq", signals["pdq"]), ("md5", "0" * 32), ("sha256", signals["sha256"])]
    matcher = Matcher(database)
    assert matcher.match_many(queries) == [matcher.match_hashes({k: [v]}) for k, v in queries]
    assert [len(found) for found in matcher.match_many(queries)] == [1, 0, 1]


def test_metadata_stored_before_the_limits_is_served_as_a_note(
    banks: Banks, database: Database
) -> None:
    """Content whose metadata is nested deeper than may be stored now (written
    before the limits) still matches, with a note in place of the metadata."""
    deep: dict[str, object] = {}
    for _ in range(300):
        deep = {"d": deep}
    with database.transaction() as session:
        session.execute(update(Content).values(source_metadata=deep))
    _, matches = Matcher(database).match_file(PHOTO)
    assert matches
    for match in matches:
        assert "nested deeper" in match.source_metadata["hashmatch_unservable"]
        json.dumps(match.to_json())
