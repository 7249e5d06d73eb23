"""Hash list files: reading them into bank entries and writing banks out.

Four formats:

* **CSV** with a header ``signal_type,signal`` and optional columns
  ``external_id``, ``labels`` (separated by ``;``), ``note`` and
  ``content_id`` (written by exports, ignored by imports).  Rows that share
  an external id are one content with several signals.
* **JSON lines**: ``{"signals": {"pdq": "...", "md5": "..."}, "external_id":
  ..., "labels": [...], "note": ..., "source_metadata": {...}}`` per line;
  ``{"signal_type": "pdq", "signal": "..."}`` is accepted too, and so is
  what ``hashmatch hash`` prints (its ``pdq_quality`` is read).
  A video's frames are a ``"vpdq": [{"frame", "quality", "hash",
  "timestamp"}, ...]`` list beside (or instead of) its signals.  Exports add
  each content's ``content_id``; imports ignore it.
* **Plain PDQ lists**: one 64-digit hex hash per line (the PDQ reference
  repository's ``haystack.txt`` format), or ``hash,quality,...`` lines as
  its hasher prints them.
* **vPDQ files** (``.vpdq``): one video, a frame per line as the reference
  writes them: ``frame,quality,hash,timestamp``; a bank exported this way
  starts each video with a ``# video <external id>`` line (exact hashes and
  cropped variants are only in JSON lines).

Parsing validates everything first and names the line of the first problem,
so an import either takes the whole file or nothing; what an entry says of
its content must fit hashmatch.fieldlimits.  A CSV cell that a spreadsheet
would run as a formula (one starting with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return) is written after a single quote, as OWASP advises, and
read back without it.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from hashmatch.errors import HashmatchError, ImportFormatError, InvalidFieldError
from hashmatch.fieldlimits import check_content_fields
from hashmatch.signals import get_signal_type, names
from hashmatch.signals.base import FrameHash

CSV_COLUMNS = ("signal_type", "signal", "external_id", "labels", "note", "content_id")
#: The signal type of video frames, and their key in JSON.
FRAMES = names.VPDQ
#: In a .vpdq file of several videos, the line that starts each.
VIDEO_MARK = "# video"
#: The largest frame number (the column holds 32 bits).
MAX_FRAME = 2**31 - 1
#: How CSV cells that a spreadsheet would run as formulas begin.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ListFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"
    pdq = "pdq"
    vpdq = "vpdq"

    @classmethod
    def for_path(cls, path: Path) -> ListFormat:
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return cls.csv
        if suffix in (".jsonl", ".ndjson", ".json"):
            return cls.jsonl
        if suffix == ".vpdq":
            return cls.vpdq
        return cls.pdq


@dataclass(slots=True)
class Entry:
    """One content to put in a bank: its signals and what is known about it."""

    signals: dict[str, str]
    external_id: str | None = None
    labels: list[str] = field(default_factory=list)
    note: str = ""
    source_metadata: dict[str, Any] = field(default_factory=dict)
    #: A video's sampled frames (vPDQ), in frame order.
    frames: list[FrameHash] = field(default_factory=list)
    #: Perceptual hashes' quality where the list gives it (not stored).
    quality: dict[str, int] = field(default_factory=dict, compare=False)
    #: The bank's id for this content, in an export (an import ignores it).
    content_id: int | None = field(default=None, compare=False)
    #: An image's stored variants' hashes (crops, small rotations: see
    #: ``media/variants.py``), by signal type and variant name.  Computed
    #: from pixels when a file is added; never read from or written to a list.
    variants: dict[str, dict[str, str]] = field(default_factory=dict, compare=False)
    #: An image's local features (``hashmatch.features`` blob), stored when
    #: the bank uses the second stage.  From pixels too, never from a list.
    features: bytes | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {"signals": dict(sorted(self.signals.items()))}
        if self.content_id is not None:
            record["content_id"] = self.content_id
        if self.frames:
            record[FRAMES] = [frame.to_json() for frame in self.frames]
        if self.external_id is not None:
            record["external_id"] = self.external_id
        if self.labels:
            record["labels"] = self.labels
        if self.note:
            record["note"] = self.note
        if self.source_metadata:
            record["source_metadata"] = self.source_metadata
        return record


def _signal(where: str, signal_type: str, value: str) -> tuple[str, str]:
    if signal_type == FRAMES:
        raise ImportFormatError(
            f'{where}: vpdq frames go in a "vpdq" list of JSON lines, or in a .vpdq file'
        )
    try:
        return signal_type, get_signal_type(signal_type).parse(value)
    except HashmatchError as error:
        raise ImportFormatError(f"{where}: {error}") from None


def _checked(where: str, entry: Entry) -> Entry:
    """``entry``, if a bank can store what it says of its content."""
    try:
        check_content_fields(
            external_id=entry.external_id,
            note=entry.note,
            labels=entry.labels,
            source_metadata=entry.source_metadata,
        )
    except InvalidFieldError as error:
        raise ImportFormatError(f"{where}: {error}") from None
    return entry


def _csv_cell(value: str) -> str:
    """A cell no spreadsheet runs as a formula (a quote first, as OWASP advises;
    a value that starts with a quote gets another, so reading is exact)."""
    return "'" + value if value.startswith((*FORMULA_STARTS, "'")) else value


def _csv_value(cell: str) -> str:
    """What :func:`_csv_cell` was given."""
    escaped = cell.startswith("'") and cell[1:].startswith((*FORMULA_STARTS, "'"))
    return cell[1:] if escaped else cell


def _text(where: str, field: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise ImportFormatError(f"{where}: {field} must be a string")
    return str(value)


def _labels(where: str, value: Any) -> list[str]:
    if value in (None, ""):
        return []
    items = value.split(";") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ImportFormatError(f"{where}: labels must be a list of strings")
    return [item.strip() for item in items if item.strip()]


def read_csv(stream: IO[str], name: str) -> Iterator[Entry]:
    reader = csv.DictReader(stream)
    header = reader.fieldnames or []
    if "signal_type" not in header or "signal" not in header:
        raise ImportFormatError(f"{name}:1: the header must name signal_type and signal columns")
    unknown = set(header) - set(CSV_COLUMNS)
    if unknown:
        raise ImportFormatError(f"{name}:1: unknown columns: {', '.join(sorted(unknown))}")
    entries: list[Entry] = []
    by_external_id: dict[str, Entry] = {}
    for cells in reader:
        where = f"{name}:{reader.line_num}"
        if None in cells or any(cells.get(column) is None for column in ("signal_type", "signal")):
            raise ImportFormatError(f"{where}: expected {len(header)} fields")
        row = {column: _csv_value(cell) for column, cell in cells.items() if cell is not None}
        signal_type, value = _signal(where, row["signal_type"].strip(), row["signal"])
        external_id = (row.get("external_id") or "").strip() or None
        entry = by_external_id.get(external_id) if external_id is not None else None
        if entry is None:
            entry = Entry({}, external_id, _labels(where, row.get("labels")), row.get("note") or "")
            entries.append(_checked(where, entry))
            if external_id is not None:
                by_external_id[external_id] = entry
        if entry.signals.get(signal_type, value) != value:
            raise ImportFormatError(f"{where}: {external_id!r} has two {signal_type} signals")
        entry.signals[signal_type] = value
    yield from entries


def read_jsonl(stream: IO[str], name: str) -> Iterator[Entry]:
    for number, line in enumerate(stream, start=1):
        where = f"{name}:{number}"
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ImportFormatError(f"{where}: not JSON: {error.msg}") from None
        except RecursionError:
            raise ImportFormatError(f"{where}: nested too deeply") from None
        if not isinstance(record, dict):
            raise ImportFormatError(f"{where}: expected a JSON object")
        raw = record.get("signals")
        if raw is None and "signal_type" in record:
            raw = {_text(where, "signal_type", record["signal_type"]): record.get("signal")}
        frames = _frames(where, record.get(FRAMES))
        if raw is None and frames:
            raw = {}
        if not isinstance(raw, dict) or not (raw or frames):
            raise ImportFormatError(f'{where}: needs "signals": {{type: hash, ...}}')
        signals = dict(
            _signal(where, str(kind), value if isinstance(value, str) else "")
            for kind, value in raw.items()
        )
        metadata = record.get("source_metadata", {})
        if not isinstance(metadata, dict):
            raise ImportFormatError(f"{where}: source_metadata must be an object")
        entry = Entry(
            signals,
            _text(where, "external_id", record.get("external_id")),
            _labels(where, record.get("labels")),
            _text(where, "note", record.get("note")) or "",
            metadata,
            frames,
            {
                kind: _quality(where, record[f"{kind}_quality"])
                for kind in signals
                if f"{kind}_quality" in record
            },
        )
        yield _checked(where, entry)


def _quality(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ImportFormatError(f"{where}: a quality is a whole number from 0 to 100")
    return int(value)


def _frames(where: str, raw: Any) -> list[FrameHash]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise ImportFormatError(f'{where}: "vpdq" must be a list of frame objects')
    try:
        return [
            _frame(
                where,
                item["frame"],
                item["quality"],
                item["hash"],
                item["timestamp"],
                _text(where, "variant", item.get("variant")) or "",
            )
            for item in raw
        ]
    except KeyError as missing:
        raise ImportFormatError(f"{where}: a vpdq frame lacks {missing}") from None


def _frame(
    where: str, frame: Any, quality: Any, value: Any, timestamp: Any, variant: str = ""
) -> FrameHash:
    try:
        number, score, seconds = int(frame), int(quality), float(timestamp)
    except (TypeError, ValueError, OverflowError):
        raise ImportFormatError(f"{where}: a vpdq frame has a bad number") from None
    if not 0 <= number <= MAX_FRAME or not 0 <= score <= 100 or not 0 <= seconds < math.inf:
        raise ImportFormatError(f"{where}: a vpdq frame is out of range")
    _, parsed = _signal(where, names.PDQ, _text(where, "a vpdq frame hash", value) or "")
    if len(variant) > 16:
        raise ImportFormatError(f"{where}: a vpdq frame variant is over 16 characters")
    return FrameHash(number, score, parsed, seconds, (), variant)


def read_vpdq_lines(stream: IO[str], name: str) -> Iterator[Entry]:
    """``frame,quality,hash,timestamp`` per line: one video, as the reference
    writes it; or several, each after a ``# video <external id>`` line (what
    ``write_entries`` writes for a bank)."""
    videos: list[Entry] = []
    for number, line in enumerate(stream, start=1):
        text = line.strip()
        if text.startswith(VIDEO_MARK):
            video = Entry({}, text[len(VIDEO_MARK) :].strip() or None)
            videos.append(_checked(f"{name}:{number}", video))
            continue
        if not text or text[0] == "#":
            continue
        fields = text.split(",")
        if len(fields) != 4:
            raise ImportFormatError(f"{name}:{number}: expected frame,quality,hash,timestamp")
        if not videos:
            videos.append(Entry({}))
        frame, quality, value, timestamp = fields
        videos[-1].frames.append(_frame(f"{name}:{number}", frame, quality, value, timestamp))
    if not videos or not all(video.frames for video in videos):
        raise ImportFormatError(f"{name}: a video without frames")
    yield from videos


def _integer(text: str) -> int | None:
    """The whole number ``text`` writes, or None when it writes none."""
    try:
        return int(text)
    except ValueError:
        return None


def read_pdq_lines(stream: IO[str], name: str) -> Iterator[Entry]:
    parse = get_signal_type(names.PDQ).parse
    for number, line in enumerate(stream, start=1):
        text = line.strip()
        if not text or text[0] == "#":
            continue
        first, _, rest = text.partition(",")
        try:
            value = parse(first)
        except HashmatchError as error:
            raise ImportFormatError(f"{name}:{number}: {error}") from None
        # A second field that is a number is the hasher's quality; anything
        # else there (a label, as lists in the wild have) is ignored, as ever.
        quality = _integer(rest.partition(",")[0])
        given = {} if quality is None else {names.PDQ: _quality(f"{name}:{number}", quality)}
        yield Entry({names.PDQ: value}, quality=given)


READERS = {
    ListFormat.csv: read_csv,
    ListFormat.jsonl: read_jsonl,
    ListFormat.pdq: read_pdq_lines,
    ListFormat.vpdq: read_vpdq_lines,
}


def read_entries(stream: IO[str], list_format: ListFormat, name: str = "<input>") -> list[Entry]:
    """Every entry of a hash list, or ImportFormatError naming the first bad line."""
    try:
        return list(READERS[list_format](stream, name))
    except UnicodeDecodeError:
        raise ImportFormatError(f"{name}: not UTF-8 text") from None
    except csv.Error as error:
        raise ImportFormatError(f"{name}: {error}") from None


def read_file(path: Path, list_format: ListFormat | None = None) -> list[Entry]:
    with path.open(encoding="utf-8", newline="") as stream:
        return read_entries(stream, list_format or ListFormat.for_path(path), str(path))


def write_entries(entries: Iterable[Entry], stream: IO[str], list_format: ListFormat) -> int:
    """Write entries in a format ``read_entries`` reads back; returns how many."""
    count = 0
    if list_format is ListFormat.vpdq:
        for count, entry in enumerate(entries, start=1):  # noqa: B007 - count is the result
            stream.write(f"{VIDEO_MARK} {entry.external_id or ''}\n")
            for frame in entry.frames:
                if not frame.variant:  # the reference's own frames only
                    stream.write(f"{frame.frame},{frame.quality},{frame.hash},{frame.timestamp}\n")
        return count
    if list_format is ListFormat.csv:
        writer = csv.writer(stream, lineterminator="\n")
        # Python 3.11 leaves a field with a carriage return (but no newline)
        # unquoted, and no reader reads that back: such rows are quoted whole.
        quoting_writer = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writerow(CSV_COLUMNS)
        for count, entry in enumerate(entries, start=1):  # noqa: B007 - count is the result
            if entry.frames:
                raise ImportFormatError(
                    f"content {entry.external_id or ''} is a video: export as jsonl to keep "
                    "its frames"
                )
            for signal_type, value in sorted(entry.signals.items()):
                cells = (
                    signal_type,
                    value,
                    entry.external_id or "",
                    ";".join(entry.labels),
                    entry.note,
                    "" if entry.content_id is None else str(entry.content_id),
                )
                row = [_csv_cell(cell) for cell in cells]
                (quoting_writer if any("\r" in cell for cell in row) else writer).writerow(row)
        return count
    for count, entry in enumerate(entries, start=1):  # noqa: B007
        if list_format is ListFormat.jsonl:
            stream.write(json.dumps(entry.to_json()) + "\n")
        elif names.PDQ in entry.signals:
            stream.write(entry.signals[names.PDQ] + "\n")
    return count


def entries_text(entries: Iterable[Entry], list_format: ListFormat) -> str:
    buffer = io.StringIO()
    write_entries(entries, buffer, list_format)
    return buffer.getvalue()
