"""``hashmatch bank`` and ``hashmatch match`` through the CLI, on both engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from hashmatch.cli import app
from tests.conftest import DATA

PHOTO = DATA / "photos" / "nature-beach-malibu.jpg"
HAYSTACK = DATA / "pdq-reference" / "reg-test-input" / "haystack.txt"
runner = CliRunner()


@pytest.fixture
def cli(database_url: str):  # type: ignore[no-untyped-def]
    def invoke(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(app, ["--database-url", database_url, *args], input=input)

    return invoke


def lines(output: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_bank_lifecycle(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    created = cli("bank", "create", "known", "-l", "b2", "-t", "pdq=25", "-d", "demo")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["labels"] == ["B2"]
    assert lines(cli("bank", "import", "known", str(HAYSTACK)).stdout) == [
        {"added": 1350, "skipped": 0}
    ]
    assert lines(cli("bank", "import", "known", str(HAYSTACK)).stdout) == [
        {"added": 0, "skipped": 1350}
    ]
    [added] = lines(cli("bank", "add", "known", str(PHOTO), "--external-id", "case-1").stdout)
    assert added["skipped"] is False
    shown = json.loads(cli("bank", "show", "known").stdout)
    assert (shown["contents"], shown["thresholds"]) == (1351, {"pdq": 25})
    listed = json.loads(cli("bank", "list", "--format", "json").stdout)
    assert [bank["name"] for bank in listed] == ["known"]
    assert "known" in cli("bank", "list").stdout
    exported = tmp_path / "known.csv"
    assert cli("bank", "export", "known", "-o", str(exported)).exit_code == 0
    cli("bank", "create", "copy")
    assert lines(cli("bank", "import", "copy", str(exported)).stdout) == [
        {"added": 1351, "skipped": 0}
    ]
    jsonl = cli("bank", "export", "copy", "--format", "jsonl").stdout
    assert len(jsonl.splitlines()) == 1351
    assert cli("bank", "update", "copy", "--disable").exit_code == 0
    assert json.loads(cli("bank", "show", "copy").stdout)["enabled"] is False
    assert cli("bank", "delete", "copy", input="n\n").exit_code == 2
    assert cli("bank", "delete", "copy", "--yes").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bank", "show", "nope"], "no bank named 'nope'"),
        (["bank", "create", "bad name"], "invalid bank name"),
        (["bank", "create", "x", "-t", "pdq"], "expected TYPE=DISTANCE"),
        (["bank", "add", "nope", "--hash", "pdq:" + "0" * 64], "no bank named 'nope'"),
        (["bank", "add", "nope", "--hash", "pdq:123"], "64 hex digits"),
        (["match", "--hash", "pdq:zz"], "64 hex digits"),
        (["match", "--bank", "nope", str(PHOTO)], "no bank named 'nope'"),
        (["match"], "give files or folders"),
    ],
)
def test_usage_errors_exit_2(cli, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_duplicate_bank_and_broken_list_exit_2(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("bank", "create", "known")
    assert cli("bank", "create", "known").exit_code == 2
    broken = tmp_path / "list.csv"
    broken.write_text("signal_type,signal\npdq," + "0" * 64 + "\npdq,xyz\n")
    result = cli("bank", "import", "known", str(broken))
    assert result.exit_code == 2
    assert "list.csv:3" in result.stderr
    assert json.loads(cli("bank", "show", "known").stdout)["contents"] == 0


def test_match_files_and_hashes(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("bank", "create", "known")
    cli("bank", "add", "known", str(PHOTO))
    rotated = tmp_path / "uploads" / "rotated.jpg"
    rotated.parent.mkdir()
    with Image.open(PHOTO) as image:
        image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(rotated, quality=80)
    (tmp_path / "uploads" / "broken.jpg").write_bytes(PHOTO.read_bytes()[:2000])
    (tmp_path / "uploads" / "unrelated.jpg").write_bytes(
        (DATA / "photos" / "nature-tree.jpg").read_bytes()
    )
    result = cli("match", str(tmp_path / "uploads"))
    assert result.exit_code == 1  # one file could not be hashed
    records = {Path(r["path"]).name: r for r in lines(result.stdout)}
    assert "error" in records["broken.jpg"]
    assert records["unrelated.jpg"]["matches"] == []
    [match] = records["rotated.jpg"]["matches"]
    assert (match["bank"], match["signal_type"], match["transform"]) == ("known", "pdq", "flipy")
    assert "matched 2 file(s): 1 with matches, 1 failed" in result.stderr
    table = cli("match", "--format", "table", str(rotated))
    assert table.exit_code == 0
    assert "flipy" in table.stdout
    pdq = lines(cli("hash", "--signal", "pdq", str(PHOTO)).stdout)[0]["signals"]["pdq"]
    [by_hash] = lines(cli("match", "--hash", f"pdq:{pdq}").stdout)
    assert by_hash["matches"][0]["distance"] == 0


def test_disable_and_enable_content(cli) -> None:  # type: ignore[no-untyped-def]
    cli("bank", "create", "known")
    [added] = lines(cli("bank", "add", "known", str(PHOTO)).stdout)
    content_id = str(added["content_id"])
    assert cli("bank", "disable-content", "known", content_id).exit_code == 0
    assert lines(cli("match", str(PHOTO)).stdout)[0]["matches"] == []
    assert cli("bank", "enable-content", "known", content_id).exit_code == 0
    assert len(lines(cli("match", str(PHOTO)).stdout)[0]["matches"]) == 3
