"""Videos in banks: vPDQ lists in and out, frames in the index, the CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashmatch.banks import Banks
from hashmatch.cli import app
from hashmatch.errors import ImportFormatError
from hashmatch.hashlists import ListFormat, entries_text, read_entries, read_file
from hashmatch.matching import Matcher
from hashmatch.store import Database
from tests.conftest import DATA

EXPECTED = json.loads((DATA / "expected_vpdq.json").read_text())
V1 = EXPECTED["video/v1.m4v"]


def vpdq_text(features: list[dict[str, object]]) -> str:
    return "".join(f"{f['frame']},{f['quality']},{f['hash']},{f['timestamp']}\n" for f in features)


def test_vpdq_files_in_and_jsonl_out_and_back(database: Database, tmp_path: Path) -> None:
    listing = tmp_path / "v1.vpdq"
    listing.write_text("# made by vpdq\n" + vpdq_text(V1))
    banks = Banks(database)
    banks.create("videos")
    assert banks.import_entries("videos", read_file(listing)).to_json() == {
        "added": 1,
        "skipped": 0,
    }
    [entry] = list(banks.export("videos"))
    assert [frame.to_json() for frame in entry.frames] == V1
    exported = entries_text(banks.export("videos"), ListFormat.jsonl)
    assert json.loads(exported)["vpdq"] == V1
    banks.create("copy")
    again = read_entries(io.StringIO(exported), ListFormat.jsonl)
    assert banks.import_entries("copy", again).added == 1
    [copied] = list(banks.export("copy"))
    assert copied.frames == entry.frames
    with pytest.raises(ImportFormatError, match="export as jsonl"):
        entries_text(banks.export("videos"), ListFormat.csv)
    # vpdq text out and in again: one "# video" block per video.
    banks.import_entries("copy", read_file(listing.with_name("v1.vpdq")))
    text = entries_text(banks.export("videos"), ListFormat.vpdq)
    assert text.startswith("# video \n0,100,")
    back = read_entries(io.StringIO(text), ListFormat.vpdq)
    assert [frame.to_json() for frame in back[0].frames] == V1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0,100,zz,0.0\n", "v.vpdq:1"),
        ("0,100\n", "expected frame,quality,hash,timestamp"),
        ("0,101," + "0" * 64 + ",0.0\n", "out of range"),
        ("", "a video without frames"),
        ("# video a\n# video b\n0,100," + "0" * 64 + ",0.0\n", "a video without frames"),
    ],
)
def test_bad_vpdq_files(tmp_path: Path, text: str, message: str) -> None:
    listing = tmp_path / "v.vpdq"
    listing.write_text(text)
    with pytest.raises(ImportFormatError, match=message):
        read_file(listing)


def test_frames_belong_in_frame_lists(tmp_path: Path) -> None:
    csv_list = tmp_path / "l.csv"
    csv_list.write_text("signal_type,signal\nvpdq," + "0" * 64 + "\n")
    with pytest.raises(ImportFormatError, match=r"l\.csv:2: vpdq frames go in"):
        read_file(csv_list)
    jsonl = tmp_path / "l.jsonl"
    jsonl.write_text(json.dumps({"vpdq": [{"frame": 0}]}) + "\n")
    with pytest.raises(ImportFormatError, match="lacks 'quality'"):
        read_file(jsonl)


def test_frames_are_matchable_and_leave_with_their_content(database: Database) -> None:
    banks = Banks(database)
    banks.create("videos")
    text = vpdq_text(V1)
    banks.import_entries("videos", read_entries(io.StringIO(text), ListFormat.vpdq))
    matcher = Matcher(database, None)
    [match] = matcher.match_hashes({"pdq": [V1[2]["hash"]]})
    assert match.signal_type == "vpdq"
    assert match.video == {"target_timestamps": [V1[2]["timestamp"]]}
    [content_id] = [match.content_id]
    assert len(banks.content("videos", content_id).frames) == len(V1)
    banks.remove_content("videos", [content_id])
    matcher.refresh()
    assert matcher.match_hashes({"pdq": [V1[2]["hash"]]}) == []


def test_cli_add_and_match_videos(database_url: str) -> None:
    runner = CliRunner()

    def cli(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, ["--database-url", database_url, *args])

    assert cli("bank", "create", "videos").exit_code == 0
    added = cli("bank", "add", "videos", str(DATA / "video" / "v2.m4v"))
    assert added.exit_code == 0, added.output
    found = cli("match", str(DATA / "video" / "v2s.mov"))
    assert found.exit_code == 0, found.output
    [record] = [json.loads(line) for line in found.stdout.splitlines()]
    [video] = [m for m in record["matches"] if m["signal_type"] == "vpdq"]
    assert video["video"]["query_share"] == 1.0
    assert len(video["video"]["segments"]) == 2


def test_vpdq_export_of_several_videos(database: Database) -> None:
    banks = Banks(database)
    banks.create("videos")
    text = "".join(
        f"# video {name}\n" + vpdq_text(EXPECTED[f"video/{name}"]) for name in ("v1.m4v", "v2.m4v")
    )
    assert (
        banks.import_entries("videos", read_entries(io.StringIO(text), ListFormat.vpdq)).added == 2
    )
    exported = entries_text(banks.export("videos"), ListFormat.vpdq)
    again = read_entries(io.StringIO(exported), ListFormat.vpdq)
    assert [entry.external_id for entry in again] == ["v1.m4v", "v2.m4v"]
    assert [frame.to_json() for frame in again[1].frames] == EXPECTED["video/v2.m4v"]
