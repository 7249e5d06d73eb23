"""Video matching: copies of a clip match it with shares and segments; unrelated
clips do not; images are found inside videos and videos by their images."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hashmatch.banks import Banks
from hashmatch.demo.clips import shot_clip
from hashmatch.hashing import BANK_CROP_VARIANTS, HashRequest, hash_file
from hashmatch.hashlists import Entry
from hashmatch.matching import Match, Matcher
from hashmatch.store import Database
from tests.conftest import DATA

PHOTOS = sorted((DATA / "photos").glob("*.jpg"))
ORIGINAL = PHOTOS[25]
UNRELATED = PHOTOS[17]


def added(banks: Banks, bank: str, path: Path, name: str) -> int:
    """As ``hashmatch bank add`` does: videos with their cropped variants."""
    result = hash_file(path, HashRequest(crop_variants=BANK_CROP_VARIANTS))
    assert result.ok, result.error
    content = banks.add(
        bank, Entry(dict(result.signals), name, frames=result.frames.get("vpdq", []))
    )
    assert content is not None
    return content


def video_matches(matcher: Matcher, path: Path) -> list[Match]:
    result = hash_file(path, HashRequest(dihedral=True))
    assert result.ok, result.error
    return [match for match in matcher.match_result(result) if match.video is not None]


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shot_clip(tmp_path_factory.mktemp("clips") / "original.mp4", ORIGINAL)


COPIES: dict[str, Callable[[Path], Path]] = {
    "re-encoded": lambda folder: shot_clip(folder / "c.avi", ORIGINAL, codec="mjpeg"),
    "low bitrate": lambda folder: shot_clip(folder / "c.mp4", ORIGINAL, bitrate=150_000),
    "scaled": lambda folder: shot_clip(folder / "c.mp4", ORIGINAL, size=(224, 168)),
    "trimmed": lambda folder: shot_clip(folder / "c.mp4", ORIGINAL, start=3.0, seconds=4.0),
    "15 fps": lambda folder: shot_clip(folder / "c.mp4", ORIGINAL, fps=15),
    "24000/1001 fps": lambda folder: shot_clip(folder / "c.mp4", ORIGINAL, fps=24000 / 1001),
    "cropped 5%": lambda folder: shot_clip(folder / "c.mp4", ORIGINAL, crop=0.05),
    "cropped 2.5%": lambda folder: shot_clip(folder / "c.mp4", ORIGINAL, crop=0.025),
    "turned a quarter": lambda folder: shot_clip(folder / "c.mp4", ORIGINAL, quarter_turns=1),
    "upside down": lambda folder: shot_clip(folder / "c.mp4", ORIGINAL, quarter_turns=2),
}


@pytest.mark.parametrize("kind", sorted(COPIES))
def test_copies_match_their_original(
    database: Database, original: Path, tmp_path: Path, kind: str
) -> None:
    banks = Banks(database)
    banks.create("videos")
    original_id = added(banks, "videos", original, "original")
    added(banks, "videos", shot_clip(tmp_path / "other.mp4", UNRELATED), "unrelated")
    matcher = Matcher(database, None)
    [match] = video_matches(matcher, COPIES[kind](tmp_path))
    assert match.content_id == original_id
    assert match.signal_type == "vpdq"
    assert match.video is not None
    assert match.video["query_share"] >= 0.8
    assert 0 < match.video["target_share"] <= 1
    segment = match.video["segments"][0]
    assert segment["target_start"] is not None
    if kind == "trimmed":  # the copy starts 3 s into the original
        assert segment["target_start"] == pytest.approx(3.0, abs=1.1)
    if kind in ("turned a quarter", "upside down"):  # found through the dihedral hashes
        assert match.transform in ("rotate90", "rotate180", "rotate270")


def test_fast_mode_copies_match_an_exact_bank(
    database: Database, original: Path, tmp_path: Path
) -> None:
    banks = Banks(database)
    banks.create("videos")
    original_id = added(banks, "videos", original, "original")
    matcher = Matcher(database, None)
    copy = shot_clip(tmp_path / "copy.mp4", ORIGINAL, fps=15, bitrate=150_000)
    result = hash_file(copy, HashRequest(fast=True))
    assert 0 < len(result.frames["vpdq"]) < 8  # keyframes only (x264 puts one at each cut)
    assert [m.content_id for m in matcher.match_result(result) if m.video] == [original_id]


def test_unrelated_clips_do_not_match(database: Database, original: Path, tmp_path: Path) -> None:
    banks = Banks(database)
    banks.create("videos")
    added(banks, "videos", original, "original")
    matcher = Matcher(database, None)
    for photo in PHOTOS[20:23]:
        assert video_matches(matcher, shot_clip(tmp_path / f"{photo.stem}.mp4", photo)) == []


def test_shares_and_the_target_threshold(
    database: Database, original: Path, tmp_path: Path
) -> None:
    banks = Banks(database)
    banks.create("videos")
    added(banks, "videos", original, "original")
    matcher = Matcher(database, None)
    short = shot_clip(tmp_path / "short.mp4", ORIGINAL, start=2.0, seconds=3.0)
    [match] = video_matches(matcher, short)
    assert match.video is not None
    assert match.video["query_share"] == 1.0
    assert match.video["target_share"] == pytest.approx(3 / 8, abs=0.13)
    banks.update("videos", thresholds={"vpdq_target_share": 60})
    matcher = Matcher(database, None)
    assert video_matches(matcher, short) == []  # too little of the bank video


def test_a_cut_makes_two_segments(database: Database) -> None:
    banks = Banks(database)
    banks.create("videos")
    added(banks, "videos", DATA / "video" / "v2.m4v", "v2")
    matcher = Matcher(database, None)
    [match] = video_matches(matcher, DATA / "video" / "v2s.mov")  # v2 with its middle cut out
    assert match.video is not None
    first, second = match.video["segments"]
    assert (first["target_start"], second["target_start"]) == (
        pytest.approx(0.0),
        pytest.approx(4.83, abs=0.01),
    )
    assert second["query_start"] < second["target_start"]


def test_images_inside_videos_and_videos_by_their_images(
    database: Database, original: Path, tmp_path: Path
) -> None:
    banks = Banks(database)
    banks.create("images")
    banks.create("videos")
    # A still from the pan at 4 s, saved as a picture.
    still = tmp_path / "still.png"
    import av

    with av.open(str(original)) as container:
        frame = next(f for n, f in enumerate(container.decode(video=0)) if n == 40)
        frame.to_image().save(still)
    image_id = added(banks, "images", still, "still")
    video_id = added(banks, "videos", original, "original")
    matcher = Matcher(database, None)
    in_video = [m for m in video_matches(matcher, original) if m.bank == "images"]
    assert [m.content_id for m in in_video] == [image_id]
    assert in_video[0].signal_type == "pdq"
    assert in_video[0].video is not None
    assert any(
        s["query_start"] <= 4.0 <= s["query_end"] + 0.5 for s in in_video[0].video["segments"]
    )
    found = [
        m
        for m in matcher.match_result(hash_file(still, HashRequest(dihedral=True)))
        if m.bank == "videos"
    ]
    assert [m.content_id for m in found] == [video_id]
    assert found[0].video is not None
    assert any(abs(t - 4.0) <= 0.5 for t in found[0].video["target_timestamps"])
