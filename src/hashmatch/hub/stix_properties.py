"""What every STIX 2.1 object the hub reads shares: ids, timestamps, the
common properties, and the standard ones another producer may add; each
checked, each failure a :class:`~hashmatch.errors.StixError` naming the
property.  The object kinds themselves are in :mod:`hashmatch.hub.stix`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from hashmatch.errors import InvalidFieldError, StixError
from hashmatch.fieldlimits import check_text
from hashmatch.hub.signing import SIGNATURE_PROPERTY

SPEC_VERSION = "2.1"
_COMMON = frozenset(
    {"type", "spec_version", "id", "created", "modified", "created_by_ref", "revoked"}
)
#: Standard properties another producer may add: they change no match, so
#: they are not read, only checked for their STIX type (the signature is
#: signing.py's to check).
_IGNORED: dict[str, Callable[[Any], bool]] = {
    SIGNATURE_PROPERTY: lambda value: isinstance(value, str),
    "description": lambda value: isinstance(value, str),
    "lang": lambda value: isinstance(value, str),
    "confidence": lambda value: type(value) is int and 0 <= value <= 100,
    "indicator_types": lambda value: _list_of(value, str),
    "object_marking_refs": lambda value: _list_of(value, str),
    "external_references": lambda value: _list_of(value, dict),
    "granular_markings": lambda value: _list_of(value, dict),
}
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$")


def stix_timestamp(moment: datetime, *, trimmed: bool = False) -> str:
    """``moment`` in STIX's form, to the millisecond: ``2026-11-27T09:00:00.000Z``.

    ``trimmed`` drops trailing zeros of the fraction (``...09:00:00Z``), as
    the ``stix2`` library writes timestamps without a precision (valid_from,
    valid_until), so that its round trip leaves a signed object unchanged.
    """
    if moment.tzinfo is None:
        raise StixError("a STIX timestamp needs a time zone (use UTC)")
    utc = moment.astimezone(UTC)
    fraction = f"{utc.microsecond // 1000:03d}"
    if trimmed:
        fraction = fraction.rstrip("0")
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


class Version(NamedTuple):
    """Which version of an object this is."""

    created: datetime
    modified: datetime
    revoked: bool


def check_properties(obj: Any, kind: str, required: set[str], optional: set[str]) -> Version:
    """The properties every object shares, and no unknown ones."""
    if not isinstance(obj, dict):
        raise StixError(f"a STIX {kind} must be a JSON object")
    if obj.get("type") != kind:
        raise StixError(f"expected a STIX {kind}, got type {str(obj.get('type'))[:40]!r}")
    missing = sorted(({"spec_version", "id", "created", "modified"} | required) - set(obj))
    if missing:
        raise StixError(f"the {kind} lacks {', '.join(missing)}")
    unknown = sorted(set(obj) - _COMMON - set(_IGNORED) - required - optional)
    if unknown:
        names = ", ".join(str(name)[:40] for name in unknown[:5])
        raise StixError(f"the {kind} has properties hashmatch does not read: {names}")
    for name, valid in _IGNORED.items():
        if name in obj and not valid(obj[name]):
            raise StixError(f"{name} is not of its STIX type")
    if obj["spec_version"] != SPEC_VERSION:
        raise StixError(f"spec_version must be {SPEC_VERSION}")
    reference(obj["id"], kind, "id")
    if "created_by_ref" in obj:
        reference(obj["created_by_ref"], "identity", "created_by_ref")
    version = Version(timestamp(obj, "created"), timestamp(obj, "modified"), _revoked(obj))
    if version.modified < version.created:
        raise StixError("modified must not be earlier than created")
    return version


def _list_of(value: Any, item: type) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, item) for v in value)


def reference(value: Any, kind: str, field: str) -> str:
    """``value``, if it is the id of a ``kind`` object (``kind--<uuid>``)."""
    if not isinstance(value, str) or not re.fullmatch(f"{kind}--{_UUID}", value):
        raise StixError(f"{field} must be an id of the form {kind}--<uuid>")
    return value


def uuid_of(ref: str) -> uuid.UUID:
    """The UUID part of a STIX id."""
    return uuid.UUID(ref.partition("--")[2])


def timestamp(obj: Mapping[str, Any], field: str) -> datetime:
    """``obj[field]`` read as a STIX timestamp (UTC)."""
    return read_timestamp(field, obj.get(field))


def read_timestamp(field: str, value: Any) -> datetime:
    match = _TIMESTAMP.match(value) if isinstance(value, str) else None
    if match is None:
        raise StixError(f"{field} must be a STIX timestamp like 2026-11-27T09:00:00.000Z")
    fraction = (match[2] or "").ljust(6, "0")[:6]
    try:
        moment = datetime.fromisoformat(f"{match[1]}.{fraction}")
    except ValueError:
        raise StixError(f"{field} is not a real date and time") from None
    return moment.replace(tzinfo=UTC)


def _revoked(obj: Mapping[str, Any]) -> bool:
    """``obj``'s ``revoked``, false when absent."""
    revoked = obj.get("revoked", False)
    if not isinstance(revoked, bool):
        raise StixError("revoked must be true or false")
    return revoked


def text(obj: Mapping[str, Any], field: str, max_chars: int, *, one_line: bool = False) -> str:
    """``obj[field]``, if it is non-empty text a database can store."""
    value = obj[field]
    if not isinstance(value, str) or not value.strip():
        raise StixError(f"{field} must be a non-empty string")
    try:
        return check_text(field, value, max_chars=max_chars, one_line=one_line)
    except InvalidFieldError as exc:
        raise StixError(str(exc)) from None
