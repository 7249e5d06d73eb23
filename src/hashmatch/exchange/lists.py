"""Hash lists as exchanges: a file, a URL, or another hashmatch's bank export.

    hashmatch exchange add known --type file --bank known --option path=/srv/lists/known.jsonl
    hashmatch exchange add peer --type hashmatch --bank shared \\
        --option base_url=https://hub.example --option bank=shared --credentials-env PEER_KEY

The list is read in hashmatch's own formats (``hashmatch.hashlists``: CSV,
JSON lines, plain PDQ, ``.vpdq``) and applied a page (``page_size`` records)
at a time; the checkpoint is the list's SHA-256 and how far into it the
bank is, so an unchanged list is not applied again, and a changed one is
applied from its start (records already there cost a lookup).  JSON lines
and PDQ lists are read line by line: a bad line is a malformed record,
skipped; a CSV or ``.vpdq`` list is read whole, and a bad one fails the
fetch.  A JSON line ``{"external_id": "...", "deleted": true}`` removes that
content.  A record without an external id is known by its hash
(``pdq:<hex>``).
"""

from __future__ import annotations

import hashlib
import io
import json
from abc import abstractmethod
from pathlib import Path
from urllib.parse import quote, urlsplit

from hashmatch.errors import HashmatchError
from hashmatch.exchange.base import (
    Checkpoint,
    ExchangeSource,
    Malformed,
    Option,
    Page,
    PageError,
    Record,
    SourceConfig,
)
from hashmatch.exchange.http import PageClient
from hashmatch.hashlists import Entry, ListFormat, read_entries, read_jsonl, read_pdq_lines

PAGE_SIZE = "10000"
_SAMPLE = 200


def entry_record(entry: Entry) -> Record:
    """A list's entry as a record, known by its external id, else by its first hash."""
    external_id = entry.external_id
    if external_id is None:
        if entry.signals:
            kind, value = min(entry.signals.items())
            external_id = f"{kind}:{value}"
        else:
            digest = hashlib.sha256("".join(f.hash for f in entry.frames).encode()).hexdigest()
            external_id = f"vpdq:{digest[:32]}"
    return Record(external_id, entry.signals, entry.labels, entry.source_metadata, entry.frames)


def parse_list(text: str, list_format: ListFormat, name: str) -> list[Record | Malformed]:
    """Every record of a list: line by line for JSON lines and PDQ lists (a
    bad line is Malformed), whole for the other formats (PageError if bad)."""
    if list_format is ListFormat.jsonl:
        return _jsonl_items(text)
    if list_format is ListFormat.pdq:
        items: list[Record | Malformed] = []
        for line in text.splitlines():
            try:
                items += [entry_record(entry) for entry in read_pdq_lines(io.StringIO(line), name)]
            except HashmatchError as error:
                items.append(Malformed(str(error), line[:_SAMPLE]))
        return items
    try:
        return [entry_record(entry) for entry in read_entries(io.StringIO(text), list_format, name)]
    except HashmatchError as error:
        raise PageError(f"{name}: {error}", retry=False) from None


def _jsonl_items(text: str) -> list[Record | Malformed]:
    """JSON lines, read in one pass of ``read_jsonl`` until a line fails; that
    line is a deletion or a malformed record, and reading goes on after it."""
    items: list[Record | Malformed] = []
    stream = io.StringIO(text)
    while True:
        good = stream.tell()  # where the line after the last good record starts
        try:
            for entry in read_jsonl(stream, "list"):
                items.append(entry_record(entry))
                good = stream.tell()
            return items
        except HashmatchError as error:
            line = text[good : stream.tell()].strip()
            number = text.count("\n", 0, good) + 1 + text[good : stream.tell()].rstrip().count("\n")
            why = str(error).partition(": ")[2]
            items.append(_deletion(line) or Malformed(f"line {number}: {why}", line[:_SAMPLE]))


def _deletion(line: str) -> Record | None:
    """The record a ``{"external_id": ..., "deleted": true}`` line is, else None."""
    try:
        raw = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(raw, dict) or raw.get("deleted") is not True:
        return None
    external_id = raw.get("external_id")
    return (
        Record(external_id, deleted=True) if isinstance(external_id, str) and external_id else None
    )


class ListSource(ExchangeSource):
    """A whole list, read once per run and applied a page at a time."""

    def __init__(self, config: SourceConfig, http: PageClient) -> None:
        super().__init__(config, http)
        self._parsed: tuple[str, list[Record | Malformed]] | None = None

    @abstractmethod
    def read(self) -> tuple[bytes, str, ListFormat]:
        """The list's bytes, a name for messages, and its format."""

    def fetch_page(self, checkpoint: Checkpoint) -> Page:
        digest, items = self._items()
        done = 0
        if checkpoint is not None and checkpoint.get("sha256") == digest:
            if checkpoint.get("complete"):
                return Page([], checkpoint, more=False)
            done = int(checkpoint.get("position", 0))
        size = int(float(self.config.option("page_size") or PAGE_SIZE))
        end = min(done + size, len(items))
        complete = end >= len(items)
        return Page(
            items[done:end], {"sha256": digest, "position": end, "complete": complete}, not complete
        )

    def _items(self) -> tuple[str, list[Record | Malformed]]:
        if self._parsed is None:
            data, name, list_format = self.read()
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise PageError(f"{name}: not UTF-8 text", retry=False) from None
            self._parsed = hashlib.sha256(data).hexdigest(), parse_list(text, list_format, name)
        return self._parsed


def _format(given: str, path: str) -> ListFormat:
    if given:
        try:
            return ListFormat(given)
        except ValueError:
            raise PageError(f"format must be one of {', '.join(ListFormat)}", retry=False) from None
    return ListFormat.for_path(Path(path))


_FORMAT = Option("format", "csv, jsonl, pdq or vpdq (default: from the name's suffix).")
_PAGE_SIZE = Option("page_size", "Records written per transaction.", PAGE_SIZE)


class FileSource(ListSource):
    name = "file"
    description = "A hash list file on this machine, in hashmatch's list formats."
    options = (Option("path", "The list's path.", required=True), _FORMAT, _PAGE_SIZE)

    def read(self) -> tuple[bytes, str, ListFormat]:
        path = self.config.option("path")
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise PageError(f"{path}: {error.strerror}", retry=False) from None
        return data, path, _format(self.config.option("format"), path)


class UrlSource(ListSource):
    name = "url"
    description = "A hash list at an http(s) URL, in hashmatch's list formats."
    options = (
        Option("base_url", "The list's URL.", required=True),
        _FORMAT,
        _PAGE_SIZE,
    )

    def read(self) -> tuple[bytes, str, ListFormat]:
        url = self.config.option("base_url")
        return self.http.get(url), url, _format(self.config.option("format"), urlsplit(url).path)


class HashmatchSource(ListSource):
    name = "hashmatch"
    description = "A bank of another hashmatch instance, read through its export (JSON lines)."
    options = (
        Option("base_url", "The other instance's address (https://hub.example).", required=True),
        Option("bank", "The bank to read there.", required=True),
        _PAGE_SIZE,
    )
    credentials_help = "an API key of the other instance with the curate scope"

    def read(self) -> tuple[bytes, str, ListFormat]:
        base = self.config.option("base_url").rstrip("/")
        url = f"{base}/v1/banks/{quote(self.config.option('bank'), safe='')}/export?format=jsonl"
        headers = {"Authorization": f"Bearer {self.config.credentials or ''}"}
        return self.http.get(url, headers), url, ListFormat.jsonl
