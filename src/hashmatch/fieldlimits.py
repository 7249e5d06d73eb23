"""Limits on what a client may store: text the database takes, JSON of bounded
depth and size, ids that fit a 64-bit column.

    check_text("note", note, max_chars=NOTE_CHARS)
    check_json("source_metadata", metadata)
    check_content_fields(external_id=..., note=..., labels=..., source_metadata=...)

Without them, a NUL character is refused by PostgreSQL, a lone surrogate by
both engines' UTF-8 encoders, a number past 2**63 by the id columns, and JSON
nested a few hundred levels deep is stored but cannot be written into a
response: each a 500 where the client deserves a 4xx.  The API, the hash-list
reader and the bank service all check here, so the limits are the same
whichever way content arrives.  Each check raises InvalidFieldError (a
ValueError, so pydantic validators may call it) naming the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from hashmatch.errors import InvalidFieldError

#: The largest id a database id column holds (signed 64 bits).
MAX_ID = 2**63 - 1
#: Levels of objects and lists in one stored JSON value (``{"a": {}}`` is 2).
MAX_JSON_DEPTH = 32
#: Bytes of one stored JSON value, as compact UTF-8 JSON.
MAX_JSON_BYTES = 64 * 1024
#: The width of the external id column.
EXTERNAL_ID_CHARS = 200
NOTE_CHARS = 10_000
DESCRIPTION_CHARS = 10_000
#: What a one-line text may not hold: C0 control characters and DEL (a
#: regular expression: an exchange checks millions of external ids a run).
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def check_text(field: str, value: str, *, max_chars: int, one_line: bool = False) -> str:
    """``value``, if a database stores it as given; else InvalidFieldError."""
    if len(value) > max_chars:
        raise InvalidFieldError(f"{field} must be at most {max_chars} characters")
    if "\x00" in value:
        raise InvalidFieldError(f"{field} must not contain NUL characters")
    if one_line and _CONTROL.search(value):
        raise InvalidFieldError(f"{field} must not contain control characters")
    _check_encodable(field, value)
    return value


def check_json(field: str, value: Any) -> Any:
    """``value``, if it is JSON of at most MAX_JSON_DEPTH levels and
    MAX_JSON_BYTES bytes; else InvalidFieldError."""
    if deeper_than(value, MAX_JSON_DEPTH):
        raise InvalidFieldError(f"{field} is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise InvalidFieldError(f"{field} is not plain JSON: {error}") from None
    size = len(_check_encodable(field, text))
    if size > MAX_JSON_BYTES:
        raise InvalidFieldError(f"{field} is {size} bytes as JSON; at most {MAX_JSON_BYTES}")
    return value


def check_content_fields(
    *,
    external_id: str | None = None,
    note: str | None = None,
    labels: Iterable[str] | None = None,
    source_metadata: dict[str, Any] | None = None,
) -> None:
    """What is known of one content, as a bank stores it (None: not given)."""
    if external_id is not None:
        check_text("external_id", external_id, max_chars=EXTERNAL_ID_CHARS, one_line=True)
    if note is not None:
        check_text("note", note, max_chars=NOTE_CHARS)
    if labels is not None:
        check_json("labels", list(labels))
    if source_metadata is not None:
        check_json("source_metadata", source_metadata)


def _check_encodable(field: str, text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidFieldError(f"{field} is not valid Unicode (a lone surrogate)") from None


def deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests objects and lists more than ``limit`` levels deep
    (iteratively: a value nested thousands deep must not exhaust the stack)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False
