"""``hashmatch hash``: JSON lines, errors per file, exit codes, progress on stderr."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashmatch.cli import app
from hashmatch.cli.reference import reference
from hashmatch.media import DecodeLimits
from hashmatch.media.video import VideoLimits
from tests.conftest import DATA, REFERENCE_IMAGES

runner = CliRunner()
PHOTO = DATA / "photos" / "nature-beach-malibu.jpg"
REFERENCE = {image.path: image for image in REFERENCE_IMAGES}


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["hash", *args])


def lines(output: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_one_file_gives_one_json_line() -> None:
    result = run(str(PHOTO))
    assert result.exit_code == 0, result.output
    [record] = lines(result.stdout)
    data = PHOTO.read_bytes()
    assert record == {
        "path": str(PHOTO),
        "signals": {
            "md5": hashlib.md5(data).hexdigest(),
            "pdq": REFERENCE[PHOTO].pdq,
            "sha256": hashlib.sha256(data).hexdigest(),
        },
        "pdq_quality": REFERENCE[PHOTO].quality,
    }


def test_dihedral() -> None:
    [record] = lines(run("--dihedral", str(PHOTO)).stdout)
    assert record["pdq_dihedral"] == list(REFERENCE[PHOTO].dihedral)
    assert record["signals"]["pdq"] == REFERENCE[PHOTO].pdq


def test_signal_selection() -> None:
    [record] = lines(run("--signal", "md5", str(PHOTO)).stdout)
    assert set(record["signals"]) == {"md5"}
    assert "pdq_quality" not in record


def test_unknown_signal_is_a_usage_error() -> None:
    result = run("--signal", "pdq,nope", str(PHOTO))
    assert result.exit_code == 2
    assert "unknown signal type 'nope'" in result.stderr


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = run(str(tmp_path / "absent.jpg"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_folder_is_walked_recursively_and_failures_reported(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    shutil.copy(PHOTO, tmp_path / "a" / "one.jpg")
    shutil.copy(PHOTO, tmp_path / "a" / "b" / "two.jpg")
    (tmp_path / "a" / "broken.jpg").write_bytes(PHOTO.read_bytes()[:3000])
    (tmp_path / "a" / "readme.txt").write_text("not a picture")
    (tmp_path / "empty.png").write_bytes(b"")
    result = run("--jobs", "2", str(tmp_path))
    assert result.exit_code == 1
    records = {Path(r["path"]).name: r for r in lines(result.stdout)}
    # A folder's own files first, sorted, then its subfolders, sorted.
    assert list(records) == ["empty.png", "broken.jpg", "one.jpg", "readme.txt", "two.jpg"]
    assert records["one.jpg"]["signals"] == records["two.jpg"]["signals"]
    assert "damaged or truncated" in records["broken.jpg"]["error"]
    assert set(records["readme.txt"]["signals"]) == {"md5", "sha256"}
    assert records["empty.png"]["error"].endswith("file is empty")
    assert "hashed 3 file(s), 2 failed" in result.stderr


def test_results_keep_input_order(tmp_path: Path) -> None:
    names = [f"{index:02d}.jpg" for index in range(12)]
    for name in names:
        shutil.copy(PHOTO, tmp_path / name)
    result = run("--jobs", "3", str(tmp_path))
    assert [Path(r["path"]).name for r in lines(result.stdout)] == names


def test_pdq_requested_on_text_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    result = run("--signal", "pdq", str(path))
    assert result.exit_code == 1
    [record] = lines(result.stdout)
    assert "not an image" in record["error"]


def test_fast_mode_stays_close() -> None:
    [record] = lines(run("--fast", "--signal", "pdq", str(PHOTO)).stdout)
    fast = int(record["signals"]["pdq"], 16)
    exact = int(REFERENCE[PHOTO].pdq, 16)
    assert (fast ^ exact).bit_count() <= 10


def test_pixel_limit_flag(tmp_path: Path) -> None:
    result = run("--max-pixels", "1000", str(PHOTO))
    assert result.exit_code == 1
    assert "over the 1000-pixel limit" in lines(result.stdout)[0]["error"]


def test_table_format() -> None:
    result = run("--format", "table", str(PHOTO))
    assert result.exit_code == 0
    assert REFERENCE[PHOTO].pdq in result.stdout
    assert "quality" in result.stdout


@pytest.mark.parametrize("command", [[], ["hash"], ["compare"], ["demo"]])
def test_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.stdout


def test_videos_get_their_frames() -> None:
    clip = DATA / "video" / "v2s.mov"
    expected = json.loads((DATA / "expected_vpdq.json").read_text())["video/v2s.mov"]
    result = run(str(clip), str(PHOTO))
    assert result.exit_code == 0, result.output
    video, photo = lines(result.stdout)
    assert video["vpdq"] == expected
    assert set(video["signals"]) == {"md5", "sha256"}
    assert video["video"]["rotation"] == 0
    assert "vpdq" not in photo
    half = lines(run(str(clip), "--seconds-per-hash", "0.5", "--signal", "vpdq").stdout)[0]
    assert len(half["vpdq"]) > len(expected)
    too_long = run(str(clip), "--max-video-seconds", "1")
    assert too_long.exit_code == 1
    assert "v2s.mov" in lines(too_long.stdout)[0]["error"]
    table = run(str(clip), "--format", "table")
    assert f"{len(expected)} frames" in table.stdout


def test_table_says_why_a_perceptual_hash_is_missing(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("words")
    result = run("--format", "table", str(notes))
    assert result.exit_code == 0
    assert "not computed" in result.stdout


def test_the_limits_help_names_the_librarys_defaults() -> None:
    """The limit options default to None (so --help imports no decoder); their
    help states the library's defaults, which this keeps true."""
    section = reference().split("## hashmatch hash\n", 1)[1].split("\n## ", 1)[0]
    limits, video = DecodeLimits(), VideoLimits()
    assert f"Pillow's bomb limit, {limits.max_pixels})" in section
    assert limits.max_file_bytes == 256 * 2**20
    assert "(default: 256 MiB;" in section
    assert f"(default: {video.max_seconds:.0f}, 4 h)" in section
