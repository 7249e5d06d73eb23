"""``hashmatch eval``: the transforms' geometry, the reports, resuming, and
clean errors for bad transforms and folders."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from hashmatch.cli import app
from hashmatch.evaluation.report import COLUMNS
from hashmatch.evaluation.run import RESULTS_FILE, read_records
from hashmatch.evaluation.scenes import SIZES, scene
from hashmatch.evaluation.transforms import TRANSFORMS
from tests.conftest import DATA

runner = CliRunner()
PHOTOS = sorted((DATA / "photos").glob("*.jpg"))

#: Each transform's output size for a 200 x 100 picture (rotations apart:
#: their size depends on the angle, checked below).
EXPECTED_SIZES = {
    "jpeg_q40": (200, 100),
    "jpeg_q30": (200, 100),
    "resize_50": (100, 50),
    "blur": (200, 100),
    "mirror": (200, 100),
    "rotate_90": (100, 200),
    "rotate_180": (200, 100),
    "rotate_270": (100, 200),
    "crop_each_5": (180, 90),
    "crop_each_15": (140, 70),
    "crop_side_10": (180, 100),
    "window_85_offset": (170, 85),
    "border_white_10": (240, 120),
    "border_black_10": (240, 120),
    "border_colour_10": (240, 120),
    "caption_bottom_12": (200, 100),
    "sticker": (200, 100),
    "watermark": (200, 100),
    "screenshot": (200, 100),
}
SMALL_ROTATIONS = {"rotate_1": 1, "rotate_3": 3, "rotate_5": 5, "rotate_10": 10}


def _picture() -> Image.Image:
    """A 200 x 100 picture of bright, varied pixels (no pixel near black, so
    a fill colour showing after a rotation would be seen)."""
    rng = np.random.default_rng(5)
    return Image.fromarray(rng.integers(120, 256, size=(100, 200, 3), dtype=np.uint8))


def test_every_transform_is_listed_with_its_geometry() -> None:
    assert set(TRANSFORMS) == set(EXPECTED_SIZES) | set(SMALL_ROTATIONS)


@pytest.mark.parametrize("name", sorted(EXPECTED_SIZES))
def test_transform_geometry(name: str) -> None:
    picture = _picture()
    before = picture.tobytes()
    edited = TRANSFORMS[name].apply(picture)
    assert edited.size == EXPECTED_SIZES[name]
    assert picture.tobytes() == before, "the input must be left as it was"
    assert TRANSFORMS[name].apply(picture).tobytes() == edited.tobytes(), "deterministic"
    if edited.size == picture.size:
        assert edited.convert("RGB").tobytes() != before, "the edit changed nothing"


def test_transform_pixels_where_they_should_be() -> None:
    picture = _picture()
    pixels = np.asarray(picture)
    assert np.array_equal(np.asarray(TRANSFORMS["mirror"].apply(picture)), pixels[:, ::-1])
    assert np.array_equal(
        np.asarray(TRANSFORMS["crop_each_5"].apply(picture)), pixels[5:95, 10:190]
    )
    assert np.array_equal(np.asarray(TRANSFORMS["crop_side_10"].apply(picture)), pixels[:, :180])
    # The off-centre window starts 1/5 across and 4/5 down the 30 x 15 slack.
    assert np.array_equal(
        np.asarray(TRANSFORMS["window_85_offset"].apply(picture)), pixels[12:97, 6:176]
    )
    bordered = np.asarray(TRANSFORMS["border_black_10"].apply(picture))
    assert bordered[:10].max() == 0
    assert bordered[:, :20].max() == 0
    assert np.array_equal(bordered[10:110, 20:220], pixels)
    captioned = np.asarray(TRANSFORMS["caption_bottom_12"].apply(picture))
    assert np.array_equal(captioned[:88], pixels[:88])
    assert (captioned[88:] == 255).mean() > 0.5, "a white band"
    assert (captioned[88:] < 64).any(), "text on it"


@pytest.mark.parametrize("name", sorted(SMALL_ROTATIONS))
def test_small_rotation_is_cropped_upright(name: str) -> None:
    picture = _picture()
    edited = np.asarray(TRANSFORMS[name].apply(picture))
    height, width = edited.shape[:2]
    radians = np.radians(SMALL_ROTATIONS[name])
    assert width < 200
    assert height < 100
    # The largest upright rectangle loses about w*sin for the height (and h*sin for the width).
    assert height >= 100 - 200 * np.sin(radians) - 4
    assert width >= 200 - 100 * np.sin(radians) - 4
    assert edited.min() > 60, "no fill colour from outside the picture"


def test_scenes_are_deterministic_and_photo_sized() -> None:
    first = scene(11)
    assert first.size in SIZES
    assert first.mode == "RGB"
    assert first.tobytes() == scene(11).tobytes()
    assert first.tobytes() != scene(12).tobytes()


def _sets(tmp_path: Path) -> tuple[Path, Path]:
    bank, distractors = tmp_path / "bank", tmp_path / "distractors"
    for folder, photos in ((bank / "photos", PHOTOS[:3]), (distractors / "others", PHOTOS[40:42])):
        folder.mkdir(parents=True)
        for photo in photos:
            shutil.copy(photo, folder / photo.name)
    return bank, distractors


def _eval(bank: Path, distractors: Path, out: Path, *extra: str):  # type: ignore[no-untyped-def]
    return runner.invoke(
        app,
        [
            "eval",
            "--bank-images",
            str(bank),
            "--distractors",
            str(distractors),
            "--out",
            str(out),
            "--jobs",
            "1",
            *extra,
        ],
    )


def test_run_writes_the_three_tables_and_the_plots(tmp_path: Path) -> None:
    bank, distractors = _sets(tmp_path)
    out = tmp_path / "out"
    result = _eval(bank, distractors, out, "--transforms", "mirror,crop_each_15,jpeg_q30")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "| " + " | ".join(COLUMNS) + " |"
    with (out / "eval.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == COLUMNS
    assert [row["transform"] for row in rows] == [
        "mirror",
        "crop_each_15",
        "jpeg_q30",
        "distractor",
    ]
    table = json.loads((out / "eval.json").read_text())
    by_name = {row["transform"]: row for row in table}
    assert by_name["mirror"]["queries"] == 3
    assert by_name["mirror"]["recall"] == 1.0
    assert by_name["jpeg_q30"]["recall"] == 1.0
    # PDQ alone finds the mirrored copies; the crops only through what the
    # matcher adds (stored variants and later stages), never fewer.
    assert by_name["mirror"]["pdq_alone_recall"] == 1.0
    assert by_name["crop_each_15"]["pdq_alone_recall"] <= by_name["crop_each_15"]["recall"]
    assert by_name["distractor"]["queries"] == 2
    assert by_name["distractor"]["false_matches"] == 0
    assert by_name["distractor"]["recall"] is None
    # The distances behind the plots: a mirrored copy is its own picture turned.
    records = read_records(out / RESULTS_FILE)
    assert all(r["own_distance"] <= 31 for r in records if r["transform"] == "mirror")
    assert all(r["closest_other"] > 31 for r in records if r["transform"] == "distractor")
    assert (out / "eval.md").read_text() == result.stdout
    assert (out / "recall_vs_threshold.svg").read_text().lstrip().startswith("<?xml")
    assert (out / "recall_vs_threshold.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_resumes_without_querying_again(tmp_path: Path) -> None:
    bank, distractors = _sets(tmp_path)
    out = tmp_path / "out"
    first = _eval(bank, distractors, out, "--transforms", "mirror,blur", "--limit", "4", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["queried_now"] == 4
    done = (out / RESULTS_FILE).read_text()
    # An interrupted run leaves a line cut short: it is dropped, not misread.
    with (out / RESULTS_FILE).open("a") as handle:
        handle.write('{"query": "photos/x.jpg", "transf')
    # ... and, killed, its edited copies.
    (out / "queries-killed").mkdir()
    (out / "queries-killed" / "mirror-1.bmp").write_bytes(b"BM")
    second = _eval(bank, distractors, out, "--transforms", "mirror,blur", "--json")
    assert second.exit_code == 0, second.output
    summary = json.loads(second.stdout)
    assert summary["queried_now"] == 3 * 2 + 2 - 4
    assert summary["remaining"] == 0
    assert not list(out.glob("queries-*")), "edited copies are not left behind"
    assert (out / RESULTS_FILE).read_text().startswith(done), (
        "earlier records are kept as they were"
    )
    records = read_records(out / RESULTS_FILE)
    keys = [(r["query"], r["transform"]) for r in records]
    assert len(keys) == len(set(keys)) == 8
    banked = read_records(out / "banked.jsonl")
    assert len(banked) == 3, "bank images are banked once"
    third = _eval(bank, distractors, out, "--transforms", "mirror,blur", "--json")
    assert json.loads(third.stdout)["queried_now"] == 0


def test_unknown_transform_is_a_clear_error(tmp_path: Path) -> None:
    bank, distractors = _sets(tmp_path)
    result = _eval(bank, distractors, tmp_path / "out", "--transforms", "mirror,swirl")
    assert result.exit_code == 2
    assert "unknown transform(s): swirl" in result.output
    assert "Traceback" not in result.output


def test_empty_folder_is_a_clear_error_naming_it(tmp_path: Path) -> None:
    bank, _ = _sets(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no pictures here")
    result = _eval(bank, empty, tmp_path / "out")
    assert result.exit_code == 2
    assert f"{empty}: no pictures in this folder" in result.output


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_unreadable_folder_is_a_clear_error_naming_it(tmp_path: Path, kind: str) -> None:
    _, distractors = _sets(tmp_path)
    bad = tmp_path / "bank-images"
    if kind == "file":
        bad.write_text("not a folder")
    result = _eval(bad, distractors, tmp_path / "out")
    assert result.exit_code == 2
    assert f"{bad}: not a folder" in result.output


def test_distractors_from_the_banks_source_are_left_out(tmp_path: Path) -> None:
    bank, distractors = _sets(tmp_path)
    shutil.copytree(distractors / "others", bank / "others")
    result = _eval(bank, distractors, tmp_path / "out", "--transforms", "mirror")
    assert result.exit_code == 2
    assert "every picture comes from a source the bank uses" in result.output
