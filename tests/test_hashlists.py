"""Hash list formats: what parses, and errors that name the line."""

from __future__ import annotations

import io

import pytest

from hashmatch.errors import ImportFormatError
from hashmatch.hashlists import Entry, ListFormat, entries_text, read_entries

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


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
