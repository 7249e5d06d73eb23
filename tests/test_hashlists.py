"""Hash list formats: what parses, and errors that name the line."""

from __future__ import annotations

import csv
import io
import re

import pytest

from hashmatch.errors import ImportFormatError
from hashmatch.hashlists import Entry, ListFormat, entries_text, read_entries

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
DEEP_40 = '{"a":' * 39 + "{}" + "}" * 39


def read(text: str, list_format: ListFormat) -> list[Entry]:
    return read_entries(io.StringIO(text), list_format, "list")


def test_csv_groups_rows_by_external_id() -> None:
    entries = read(
        "signal_type,signal,external_id,labels,note\n"
        f"pdq,{PDQ},case-1,A1;tag,first\n"
        f"md5,{MD5},case-1,,\n"
        f"pdq,{'0' * 64},,,\n",
        ListFormat.csv,
    )
    assert entries == [
        Entry({"pdq": PDQ, "md5": MD5}, "case-1", ["A1", "tag"], "first"),
        Entry({"pdq": "0" * 64}),
    ]


def test_minimal_csv_header() -> None:
    assert read(f"signal_type,signal\npdq,{PDQ.upper()}\n", ListFormat.csv) == [Entry({"pdq": PDQ})]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("signal,value\n", "list:1: the header must name signal_type and signal"),
        ("signal_type,signal,colour\n", "list:1: unknown columns: colour"),
        (f"signal_type,signal\npdq,{PDQ}\npdq,{PDQ[:-1]}\n", "list:3: a PDQ hash is 64 hex digits"),
        (f"signal_type,signal\nsha1,{MD5}\n", "list:2: unknown signal type 'sha1'"),
        (f"signal_type,signal\npdq,{PDQ},extra\n", "list:2: expected 2 fields"),
        (
            f"signal_type,signal,external_id\npdq,{PDQ},x\npdq,{'0' * 64},x\n",
            "list:3: 'x' has two pdq",
        ),
    ],
)
def test_csv_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ImportFormatError, match=message):
        read(text, ListFormat.csv)


def test_jsonl() -> None:
    entries = read(
        f'{{"signals": {{"pdq": "{PDQ}"}}, "external_id": 7, "source_metadata": {{"case": 1}}}}\n'
        "\n"
        f'{{"signal_type": "md5", "signal": "{MD5}"}}\n',
        ListFormat.jsonl,
    )
    assert entries == [Entry({"pdq": PDQ}, "7", source_metadata={"case": 1}), Entry({"md5": MD5})]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json\n", "list:1: not JSON"),
        ("[1, 2]\n", "list:1: expected a JSON object"),
        ('{"signals": {}}\n', "list:1: needs"),
        (f'{{"signals": {{"pdq": "{PDQ}"}}}}\n{{"signals": {{"pdq": 5}}}}\n', "list:2: a PDQ hash"),
    ],
)
def test_jsonl_errors(text: str, message: str) -> None:
    with pytest.raises(ImportFormatError, match=message):
        read(text, ListFormat.jsonl)


def test_plain_pdq_lines() -> None:
    assert read(f"# a comment\n{PDQ}\n\n{'0' * 64}\n", ListFormat.pdq) == [
        Entry({"pdq": PDQ}),
        Entry({"pdq": "0" * 64}),
    ]
    with pytest.raises(ImportFormatError, match="list:2:"):
        read(f"{PDQ}\nnot-a-hash\n", ListFormat.pdq)


@pytest.mark.parametrize("list_format", [ListFormat.csv, ListFormat.jsonl])
def test_written_lists_read_back(list_format: ListFormat) -> None:
    entries = [
        Entry({"pdq": PDQ, "md5": MD5}, "case-1", ["A1"], "note"),
        Entry({"pdq": "0" * 64}),
    ]
    assert read(entries_text(entries, list_format), list_format) == entries


@pytest.mark.parametrize(
    "text",
    ['=HYPERLINK("http://x")', "+1", "-1", "@SUM(A1)", "\tx", "\rx", "'quoted", "'=x", "''"],
)
def test_csv_cells_that_would_run_as_formulas_are_escaped_and_read_back(text: str) -> None:
    entry = Entry({"pdq": PDQ}, text.strip() or "id", [text.strip("\t\r") or "label"], text)
    if "\t" in text or "\r" in text:
        entry.external_id = "id"  # control characters never make an external id
    written = entries_text([entry], ListFormat.csv)
    for row in csv.reader(io.StringIO(written, newline="")):
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row), row
    assert read(written, ListFormat.csv) == [entry]


def test_a_hand_written_csv_cell_starting_with_a_quote_is_kept() -> None:
    text = f"signal_type,signal,note\npdq,{PDQ},'tis so\n"
    assert read(text, ListFormat.csv) == [Entry({"pdq": PDQ}, note="'tis so")]


@pytest.mark.parametrize(
    ("text", "list_format", "message"),
    [
        (
            f'{{"signals": {{"pdq": "{PDQ}"}}, "source_metadata": {DEEP_40}}}\n',
            ListFormat.jsonl,
            "list:1: source_metadata is nested deeper than 32 levels",
        ),
        ('{"a":' * 5000 + "{}" + "}" * 5000 + "\n", ListFormat.jsonl, "list:1: nested too deeply"),
        (
            f'{{"signals": {{"pdq": "{PDQ}"}}, "external_id": [[1]]}}\n',
            ListFormat.jsonl,
            "list:1: external_id must be a string",
        ),
        (
            f'{{"signal_type": ["pdq"], "signal": "{PDQ}"}}\n',
            ListFormat.jsonl,
            "list:1: signal_type must be a string",
        ),
        (
            f'{{"signals": {{"pdq": "{PDQ}"}}, "note": "a\\u0000b"}}\n',
            ListFormat.jsonl,
            "list:1: note must not contain NUL characters",
        ),
        (
            f'{{"vpdq": [{{"frame": 1e999, "quality": 100, "hash": "{PDQ}", "timestamp": 0}}]}}\n',
            ListFormat.jsonl,
            "list:1: a vpdq frame has a bad number",
        ),
        (
            f'{{"vpdq": [{{"frame": 0, "quality": 100, "hash": "{PDQ}", "timestamp": NaN}}]}}\n',
            ListFormat.jsonl,
            "list:1: a vpdq frame is out of range",
        ),
        (f"0,100,{PDQ},inf\n", ListFormat.vpdq, "list:1: a vpdq frame is out of range"),
        (f"{2**31},100,{PDQ},0\n", ListFormat.vpdq, "list:1: a vpdq frame is out of range"),
        (
            f"signal_type,signal,external_id\npdq,{PDQ},{'x' * 201}\n",
            ListFormat.csv,
            "list:2: external_id must be at most 200 characters",
        ),
        (
            f"signal_type,signal,external_id\npdq,{PDQ},a\x00b\n",
            ListFormat.csv,
            "list:2: external_id must not contain NUL characters",
        ),
        (
            f"# video a\x00b\n0,100,{PDQ},0\n",
            ListFormat.vpdq,
            "list:1: external_id must not contain NUL characters",
        ),
    ],
)
def test_hostile_lines_are_refused_by_line(
    text: str, list_format: ListFormat, message: str
) -> None:
    with pytest.raises(ImportFormatError, match=re.escape(message)):
        read(text, list_format)


def test_lists_that_give_a_quality_keep_it() -> None:
    """``hashmatch hash`` output and the PDQ hasher's ``hash,quality,name`` lines."""
    hashed = (
        f'{{"path": "a.jpg", "signals": {{"pdq": "{PDQ}", "md5": "{MD5}"}}, "pdq_quality": 7}}\n'
    )
    [from_hash] = read(hashed, ListFormat.jsonl)
    assert (from_hash.signals, from_hash.quality) == ({"pdq": PDQ, "md5": MD5}, {"pdq": 7})
    [from_hasher, bare] = read(f"{PDQ},93,photo.jpg\n{'0' * 64}\n", ListFormat.pdq)
    assert (from_hasher.quality, bare.quality) == ({"pdq": 93}, {})
    with pytest.raises(
        ImportFormatError, match="list:1: a quality is a whole number from 0 to 100"
    ):
        read(f'{{"signals": {{"pdq": "{PDQ}"}}, "pdq_quality": "high"}}\n', ListFormat.jsonl)


@pytest.mark.parametrize("quality", ["-1", "101", "99999999999999999999"])
def test_a_pdq_line_quality_out_of_range_names_the_line(quality: str) -> None:
    with pytest.raises(ImportFormatError, match="list:2: a quality is a whole number"):
        read(f"{'0' * 64}\n{PDQ},{quality},photo.jpg\n", ListFormat.pdq)


def test_a_pdq_line_label_is_not_a_quality() -> None:
    """Lists in the wild put a label after the hash: it was ignored, and is."""
    [entry] = read(f"{PDQ},beach photo\n", ListFormat.pdq)
    assert (entry.signals, entry.quality) == ({"pdq": PDQ}, {})


@pytest.mark.parametrize("list_format", [ListFormat.csv, ListFormat.jsonl])
def test_exports_name_the_content_id_and_imports_ignore_it(list_format: ListFormat) -> None:
    exported = entries_text([Entry({"pdq": PDQ}, "case-1", content_id=42)], list_format)
    assert "42" in exported
    [entry] = read(exported, list_format)
    assert (entry, entry.content_id) == (Entry({"pdq": PDQ}, "case-1"), None)
