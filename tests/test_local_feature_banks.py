"""The second stage wired into banks and matching: the per-bank setting, the
features stored with an image's signals, matches by local features under
the banks' rules, and matchers in other processes following the change log,
on both engines."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from hashmatch.banks import Banks
from hashmatch.banks import catalog as catalog_module
from hashmatch.banks.writes import delete_signals, log_removed
from hashmatch.errors import BankError
from hashmatch.hashlists import Entry
from hashmatch.match_policy import Match
from hashmatch.matching import Matcher
from hashmatch.store import ContentSignal, Database
from hashmatch.store.models import ContentFeatures, utcnow
from tests.feature_copies import (
    BANKED,
    EDITS,
    OTHER,
    caption_over_picture,
    entry_with_features,
    fresh,
    off_centre_crop,
    saved,
)
from tests.interleaving import PATIENCE, PausedInside, run_together, started

PHOTO = BANKED[0]


def feature_rows(database: Database) -> int:
    with database.reading() as session:
        return int(session.scalar(select(func.count()).select_from(ContentFeatures)) or 0)


def matched(matcher: Matcher, path: Path) -> list[Match]:
    return matcher.match_file(path)[1]


def found(matcher: Matcher, path: Path) -> set[tuple[str, int, str]]:
    """(bank, content, stage) of each unsuppressed match."""
    return {
        (match.bank, match.content_id, match.to_json()["stage"])
        for match in matched(matcher, path)
        if not match.suppressed
    }


@pytest.fixture
def edited(tmp_path: Path) -> dict[str, Path]:
    """Each edit of the first banked photo, saved as a JPEG."""
    return {
        name: saved(edit(Image.open(PHOTO)), tmp_path / f"{index}.jpg")
        for index, (name, edit) in enumerate(EDITS.items())
    }


@pytest.fixture
def banked(database: Database) -> tuple[Banks, dict[Path, int]]:
    """A match bank using local features, holding the banked photos."""
    banks = Banks(database)
    banks.create("known", local_features=True, labels=["A1"])
    ids = {path: banks.add("known", fresh(entry_with_features(path))) for path in BANKED}
    return banks, {path: content_id for path, content_id in ids.items() if content_id}


# -- the setting ----------------------------------------------------------------


def test_the_setting_is_off_by_default_and_bounded(database: Database) -> None:
    banks = Banks(database)
    plain = banks.create("plain")
    assert (plain.local_features, plain.min_inliers, plain.feature_images) == (False, None, 0)
    on = banks.update("plain", local_features=True, min_inliers=40)
    assert (on.local_features, on.min_inliers) == (True, 40)
    assert banks.update("plain", min_inliers=0).min_inliers is None  # back to the default
    for wrong in (7, 201, -1):
        with pytest.raises(BankError, match="min_inliers"):
            banks.update("plain", min_inliers=wrong)
    with pytest.raises(BankError, match="min_inliers"):
        banks.create("low", local_features=True, min_inliers=3)


def test_features_are_stored_only_where_the_bank_uses_them(database: Database) -> None:
    banks = Banks(database)
    banks.create("plain")
    banks.create("known", local_features=True)
    assert banks.add("plain", fresh(entry_with_features(PHOTO))) is not None
    assert feature_rows(database) == 0
    content_id = banks.add("known", fresh(entry_with_features(PHOTO)))
    info = banks.get("known")
    assert (info.feature_images, feature_rows(database)) == (1, 1)
    assert 0 < info.feature_bytes <= 8 * 1024  # the budget per bank image
    # A hash given without pixels has no features: nothing stored, no error.
    banks.add("known", Entry({"pdq": "f" * 64}))
    assert feature_rows(database) == 1
    banks.remove_content("known", [content_id or 0])
    assert feature_rows(database) == 0  # gone with its content


# -- matching ---------------------------------------------------------------------


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_copy_pdq_misses_is_found_by_local_features(
    banked: tuple[Banks, dict[Path, int]], edited: dict[str, Path], edit: str
) -> None:
    banks, ids = banked
    matcher = Matcher(banks.database)
    matches = matched(matcher, edited[edit])
    assert [match.content_id for match in matches] == [ids[PHOTO]]
    [match] = matches
    record = match.to_json()
    assert record["stage"] == "local_features"
    assert record["inliers"] >= 24
    assert record["distance"] > 31  # PDQ alone does not see it
    assert (record["bank"], record["labels"]) == ("known", ["A1"])


def test_pdq_matches_say_their_stage_and_win_over_the_second(
    banked: tuple[Banks, dict[Path, int]],
) -> None:
    banks, ids = banked
    records = [match.to_json() for match in matched(Matcher(banks.database), PHOTO)]
    assert {(record["content_id"], record["stage"]) for record in records} == {
        (ids[PHOTO], "pdq"),
        (ids[PHOTO], "md5"),
        (ids[PHOTO], "sha256"),
    }
    assert not any("inliers" in record for record in records)


def test_a_bank_with_the_setting_off_runs_no_second_stage(
    banked: tuple[Banks, dict[Path, int]], edited: dict[str, Path]
) -> None:
    banks, _ = banked
    banks.update("known", local_features=False)
    matcher = Matcher(banks.database)
    assert not matcher.features
    result, matches = matcher.match_file(edited["off-centre crop"])
    assert (matches, result.feature_pixels) == ([], None)


def test_unrelated_photos_match_nothing(banked: tuple[Banks, dict[Path, int]]) -> None:
    banks, _ = banked
    assert matched(Matcher(banks.database), OTHER) == []


def test_disabled_content_and_banks_do_not_match(
    banked: tuple[Banks, dict[Path, int]], edited: dict[str, Path]
) -> None:
    banks, ids = banked
    matcher = Matcher(banks.database)
    query = edited["rotated 7 degrees"]
    banks.set_disabled("known", [ids[PHOTO]], utcnow().replace(year=2999))
    assert matched(matcher, query) == []
    banks.set_disabled("known", [ids[PHOTO]], None)
    banks.update("known", enabled=False)
    assert matched(matcher, query) == []
    banks.update("known", enabled=True)
    assert found(matcher, query) == {("known", ids[PHOTO], "local_features")}


def test_min_inliers_is_the_banks_own_and_needs_no_reload(
    banked: tuple[Banks, dict[Path, int]], edited: dict[str, Path]
) -> None:
    banks, _ids = banked
    matcher = Matcher(banks.database)
    query = edited["caption over the picture"]
    [match] = matched(matcher, query)
    banks.update("known", min_inliers=min(200, (match.inliers or 0) + 1))
    assert matched(matcher, query) == []
    banks.update("known", min_inliers=match.inliers)
    assert [m.inliers for m in matched(matcher, query)] == [match.inliers]


def test_an_allowlist_suppresses_second_stage_matches(database: Database, tmp_path: Path) -> None:
    """The photo is allowlisted by its hashes; a bank holds an off-centre
    crop of it, which PDQ does not see: the photo matches the bank by local
    features, and the allowlist suppresses that match."""
    banks = Banks(database)
    banks.create("known", local_features=True)
    banks.create("ok", kind="allowlist")
    crop = saved(off_centre_crop(Image.open(PHOTO)), tmp_path / "crop.jpg")
    [crop_id] = [banks.add("known", fresh(entry_with_features(crop)))]
    matcher = Matcher(database)
    [match] = matched(matcher, PHOTO)
    assert (match.content_id, match.stage, match.suppressed) == (crop_id, "local_features", False)
    banks.add("ok", fresh(entry_with_features(PHOTO)))
    matcher.refresh()
    [match] = matched(matcher, PHOTO)
    assert (match.suppressed, match.suppressed_by) == (True, ["ok"])


def test_an_allowlist_using_local_features_suppresses_by_them(
    banked: tuple[Banks, dict[Path, int]], tmp_path: Path
) -> None:
    banks, ids = banked
    banks.create("ok", kind="allowlist", local_features=True)
    banks.add("ok", fresh(entry_with_features(PHOTO)))
    query = saved(caption_over_picture(Image.open(PHOTO)), tmp_path / "caption.jpg")
    [match] = matched(Matcher(banks.database), query)
    assert (match.content_id, match.suppressed_by) == (ids[PHOTO], ["ok"])


def test_a_lookup_in_named_banks_leaves_the_others_out(
    banked: tuple[Banks, dict[Path, int]], edited: dict[str, Path]
) -> None:
    banks, _ = banked
    banks.create("other", local_features=True)
    matcher = Matcher(banks.database)
    result, _ = matcher.match_file(edited["off-centre crop"])
    assert matcher.match_result(result, banks=["other"]) == []
    assert len(matcher.match_result(result, banks=["known"])) == 1


# -- following the change log -------------------------------------------------------


def test_a_second_process_follows_adds_removals_and_the_setting(
    database: Database, edited: dict[str, Path]
) -> None:
    """``elsewhere`` stands for another API process on the same database: it
    learns everything from the database, never from this process."""
    banks = Banks(database)
    banks.create("known", local_features=True)
    elsewhere = Matcher(database)
    query = edited["off-centre crop"]
    assert matched(elsewhere, query) == []
    content_id = banks.add("known", fresh(entry_with_features(PHOTO)))
    assert matched(elsewhere, query) == []  # not refreshed yet
    assert elsewhere.refresh() > 0
    assert found(elsewhere, query) == {("known", content_id or 0, "local_features")}
    banks.update("known", local_features=False)
    elsewhere.refresh()
    assert not elsewhere.features
    assert matched(elsewhere, query) == []
    banks.update("known", local_features=True)  # loaded again from the stored rows
    elsewhere.refresh()
    assert elsewhere.features.status()["known"]["images"] == 1
    assert len(matched(elsewhere, query)) == 1
    banks.update("known", new_name="renamed")
    elsewhere.refresh()
    assert [match.bank for match in matched(elsewhere, query)] == ["renamed"]
    banks.remove_content("renamed", [content_id or 0])
    elsewhere.refresh()
    assert elsewhere.features.status()["renamed"]["images"] == 0
    assert matched(elsewhere, query) == []
    banks.delete("renamed")
    elsewhere.refresh()
    assert elsewhere.features.status() == {}


def test_a_refresh_during_an_add_sees_it_only_once_committed(
    database: Database, edited: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The add is paused after writing its change-log entry, before its
    commit: a refresh then sees neither the entry nor the features row (and
    queries go on), the next one after the commit sees both."""
    banks = Banks(database)
    banks.create("known", local_features=True)
    elsewhere = Matcher(database)
    query = edited["rotated 7 degrees"]
    paused = PausedInside(monkeypatch, catalog_module, "log_added")
    results: dict[str, Any] = {}
    adding = started(lambda: banks.add("known", fresh(entry_with_features(PHOTO))), "add", results)
    assert paused.reached.wait(PATIENCE)
    try:
        assert elsewhere.features.refresh() == 0
        assert matched(elsewhere, query) == []
    finally:
        paused.release()
    adding.join(PATIENCE)
    content_id = results["add"]
    assert isinstance(content_id, int)
    assert elsewhere.refresh() > 0
    assert found(elsewhere, query) == {("known", content_id, "local_features")}


def test_adds_racing_queries_and_refreshes(database: Database, tmp_path: Path) -> None:
    """Adds of every banked photo from two threads while a third refreshes
    and queries: no error, no match of an image not yet added, and after
    the last refresh each photo's copy finds its own image."""
    banks = Banks(database)
    banks.create("known", local_features=True)
    elsewhere = Matcher(database)
    queries = {
        path: saved(off_centre_crop(Image.open(path)), tmp_path / f"{index}.jpg")
        for index, path in enumerate(BANKED)
    }
    adding: set[Path] = set()
    added: dict[Path, int] = {}
    done = threading.Event()

    def work(name: str) -> None:
        if name == "query":
            rounds = 0
            while (not done.is_set() or rounds < 2) and rounds < 100:
                elsewhere.refresh()
                for path, query in queries.items():
                    for match in matched(elsewhere, query):
                        assert path in adding  # never an image not yet added
                        assert added.get(path, match.content_id) == match.content_id
                rounds += 1
            return
        for path in BANKED[int(name) :: 2]:
            adding.add(path)
            content_id = banks.add("known", fresh(entry_with_features(path)))
            assert content_id is not None
            added[path] = content_id
        if len(added) == len(BANKED):
            done.set()

    run_together(work, ["0", "1", "query"])
    elsewhere.refresh()
    for path, query in queries.items():
        assert found(elsewhere, query) == {("known", added[path], "local_features")}


def test_a_removed_signal_of_content_still_there_keeps_its_image(
    database: Database, edited: dict[str, Path]
) -> None:
    """Content is removed whole today; were one of its signals removed alone
    (the one the matcher knows it by), the image stays matchable, and its
    removal later is still followed."""
    banks = Banks(database)
    banks.create("known", local_features=True)
    content_id = banks.add("known", fresh(entry_with_features(PHOTO))) or 0
    elsewhere = Matcher(database)
    with database.transaction() as session:
        first = session.scalar(
            select(func.min(ContentSignal.id)).where(ContentSignal.content_id == content_id)
        )
        log_removed(session, delete_signals(session, ContentSignal.id == first))
    elsewhere.refresh()
    query = edited["off-centre crop"]
    assert found(elsewhere, query) == {("known", content_id, "local_features")}
    banks.remove_content("known", [content_id])
    elsewhere.refresh()
    assert matched(elsewhere, query) == []
