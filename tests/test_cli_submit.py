"""``hashmatch submit``, ``hashmatch submissions`` and ``hashmatch media-key``
through the CLI, on both engines."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from hashmatch.cli import app
from hashmatch.cli import submit_command as submit_module
from hashmatch.store import Database
from tests.conftest import noise_image
from tests.test_submissions import ACT_ON_KNOWN, PHOTO, make_world

runner = CliRunner()
Cli = Callable[..., Result]


@pytest.fixture
def cli(database_url: str) -> Cli:
    database = Database.open(database_url)
    make_world(database, ACT_ON_KNOWN)
    database.close()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, ["--database-url", database_url, *args])

    return invoke


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    """A folder of three uploads: the known photo, a new picture, a truncated JPEG."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    shutil.copy(PHOTO, folder / "a-known.jpg")
    noise_image(64, 48, seed=5).save(folder / "b-new.png")
    (folder / "c-broken.jpg").write_bytes(PHOTO.read_bytes()[:1500])
    return folder


def lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


@pytest.fixture
def progress(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str, bool]]:
    """The progress bars the command asked for: (total, description, shown)."""
    asked: list[tuple[int, str, bool]] = []
    tracked = submit_module.tracked

    def spy(items: Iterable[Any], total: int, description: str, *, show: bool) -> Iterator[Any]:
        asked.append((total, description, show))
        return tracked(items, total, description, show=show)

    monkeypatch.setattr(submit_module, "tracked", spy)
    return asked


def test_submit_prints_a_line_per_file_and_names_the_broken_one(
    cli: Cli, uploads: Path, progress: list[tuple[int, str, bool]]
) -> None:
    result = cli("submit", str(uploads), "--jobs", "1", "--user-ref", "backfill")
    assert result.exit_code == 1, result.output
    known, new, broken = lines(result.stdout)
    assert (known["path"], known["verdict"], known["replayed"]) == (
        str(uploads / "a-known.jpg"),
        "block",
        False,
    )
    assert [action["action"] for action in known["actions"]] == [
        "block",
        "review",
        "report",
        "webhook",
    ]
    assert (new["verdict"], new["matches"], new["actions"]) == ("allow", [], [])
    assert set(broken) == {"path", "error"}
    assert "c-broken.jpg" in broken["error"]
    assert "submitted 3 file(s): 1 block, 0 review, 1 allow, 1 failed" in result.stderr
    assert progress == [(3, "submitting", True)]

    again = cli("submit", str(uploads / "a-known.jpg"))
    assert again.exit_code == 0, again.output
    [replayed] = lines(again.stdout)
    assert replayed["replayed"] is True
    assert replayed["submission_id"] == known["submission_id"]

    listed = lines(cli("submissions", "list", "--verdict", "block").stdout)
    assert [s["submission_id"] for s in listed] == [known["submission_id"]]
    assert listed[0]["user_ref"] == "backfill"
    assert listed[0]["actor"].startswith("cli:")
    shown = json.loads(cli("submissions", "show", str(new["submission_id"])).stdout)
    assert (shown["content_ref"], shown["content_type"]) == (str(uploads / "b-new.png"), "photo")
    missing = cli("submissions", "show", "999")
    assert (missing.exit_code, missing.stderr.strip()) == (2, "error: no submission 999")


@pytest.mark.parametrize("source", ["name", "path", "sha256"])
def test_content_ref_from(cli: Cli, source: str) -> None:
    result = cli("submit", str(PHOTO), "--content-ref-from", source)
    assert result.exit_code == 0, result.output
    expected = {
        "name": PHOTO.name,
        "path": str(PHOTO),
        "sha256": hashlib.sha256(PHOTO.read_bytes()).hexdigest(),
    }[source]
    [record] = lines(cli("submissions", "list", "--content-ref", expected).stdout)
    assert record["content_ref"] == expected


def test_keeping_media_without_a_key_is_an_error_per_file(cli: Cli) -> None:
    result = cli("submit", str(PHOTO), "--keep-media")
    assert result.exit_code == 1
    [line] = lines(result.stdout)
    assert PHOTO.name in line["error"]
    assert "no media key" in line["error"]


def test_a_bad_media_key_stops_the_command(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "bad.key"
    key.write_text("not a key\n")
    monkeypatch.setenv("HASHMATCH_MEDIA_KEY_FILE", str(key))
    result = cli("submit", str(PHOTO))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: media_key_file {key} does not give a base64 key"


def test_media_key_new(tmp_path: Path) -> None:
    path = tmp_path / "media.key"
    made = runner.invoke(app, ["media-key", "new", str(path)])
    assert made.exit_code == 0, made.output
    assert path.stat().st_mode & 0o777 == 0o600
    assert f"wrote a new media key to {path}" in made.stderr
    before = path.read_bytes()
    refused = runner.invoke(app, ["media-key", "new", str(path)])
    assert refused.exit_code == 2
    assert "refusing to overwrite" in refused.stderr
    assert path.read_bytes() == before
