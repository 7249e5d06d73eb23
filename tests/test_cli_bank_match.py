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


def test_bank_add_says_what_the_bank_cannot_do(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("bank", "create", "known")
    flat = tmp_path / "gradient.png"
    Image.linear_gradient("L").resize((64, 64)).save(flat)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture\n")
    result = cli("bank", "add", "known", str(flat), str(notes), str(PHOTO))
    assert result.exit_code == 0, result.output
    by_name = {Path(r["input"]).name: r for r in lines(result.stdout)}
    [too_flat] = by_name["gradient.png"]["warnings"]
    assert too_flat.startswith("pdq quality ")
    assert "under 50, the least that matching uses: this pdq hash never matches" in too_flat
    assert [w.split(":")[0] for w in by_name["notes.txt"]["warnings"]] == [
        "pdq not computed",
        "vpdq not computed",
    ]
    assert by_name[PHOTO.name]["warnings"] == []
    assert all(record["content_id"] for record in by_name.values())  # banked all the same
    assert f"warning: {flat}: pdq quality " in result.stderr
    assert f"warning: {notes}: pdq not computed" in result.stderr
    named_as_image = tmp_path / "notes.jpg"
    named_as_image.write_text("not a picture either\n")
    refused = cli("bank", "add", "known", str(named_as_image))
    assert refused.exit_code == 1
    assert "notes.jpg" in refused.stderr


def test_bank_import_counts_what_is_too_flat(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("bank", "create", "known")
    hashed = tmp_path / "hashed.jsonl"
    hashed.write_text(
        json.dumps({"path": "flat.png", "signals": {"pdq": "0" * 64}, "pdq_quality": 0})
        + "\n"
        + json.dumps({"path": "photo.jpg", "signals": {"pdq": "f" * 64}, "pdq_quality": 100})
        + "\n"
    )
    result = cli("bank", "import", "known", str(hashed))
    assert lines(result.stdout) == [{"added": 2, "skipped": 0, "low_quality": 1}]
    assert "warning: 1 of the list's contents have a hash too flat" in result.stderr
    hasher_output = tmp_path / "hashes.pdq"
    hasher_output.write_text(f"{'1' * 64},10,flat.jpg\n{'2' * 64},90,photo.jpg\n")
    assert lines(cli("bank", "import", "known", str(hasher_output)).stdout) == [
        {"added": 2, "skipped": 0, "low_quality": 1}
    ]


def test_bank_content_lists_ids_a_page_at_a_time(cli) -> None:  # type: ignore[no-untyped-def]
    cli("bank", "create", "known")
    cli("bank", "create", "other")
    cli("bank", "add", "other", "--hash", "md5:" + "0" * 32)
    ids = []
    for n in range(1, 6):
        added = cli("bank", "add", "known", "--hash", f"md5:{n:032x}", "--external-id", f"x{n}")
        ids.append(lines(added.stdout)[0]["content_id"])
    first = cli("bank", "content", "known", "--limit", "3")
    assert lines(first.stdout) == [
        {"content_id": i, "external_id": f"x{n}"} for n, i in enumerate(ids[:3], start=1)
    ]
    assert f"more may follow: --after {ids[2]}" in first.stderr
    rest = cli("bank", "content", "known", "--limit", "3", "--after", str(ids[2]))
    assert [r["content_id"] for r in lines(rest.stdout)] == ids[3:]
    assert rest.stderr == ""
    exported = lines(cli("bank", "export", "known", "--format", "jsonl").stdout)
    assert [r["content_id"] for r in exported] == ids
    assert cli("bank", "content", "nope").exit_code == 2


def test_match_table_shows_what_a_person_needs(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("bank", "create", "known", "--label", "A1")
    cli("bank", "create", "safe", "--kind", "allowlist")
    cli("bank", "add", "known", str(PHOTO), "--external-id", "case-7", "--label", "beach")
    cli("bank", "add", "safe", str(PHOTO), "--external-id", "stock-photo")
    result = cli("match", "--format", "table", "--jobs", "1", str(PHOTO))
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[1]
    for column in ("bank", "content", "external id", "labels", "distance", "suppressed by"):
        assert column in header
    row = next(line for line in result.stdout.splitlines() if "case-7" in line)
    assert "A1, beach" in row
    assert "safe" in row  # suppressed by the allowlist
