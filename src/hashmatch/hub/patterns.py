"""STIX 2.1 patterns for hashmatch's signals, written and read back.

Each shared signal is one observation expression of one or two equality
comparisons (``pattern_type: stix``)::

    md5       [file:hashes.MD5 = '<32 hex>']
    sha256    [file:hashes.'SHA-256' = '<64 hex>']
    pdq       [file:hashes.PDQ = '<64 hex>']
    vpdq      [file:hashes.vPDQ = '["<pdq hex>,<quality>,<seconds>", ...]']
    url       [url:value = '<normalised URL>']
    email     [email-addr:value = '<normalised address>']
    username  [user-account:account_type = '<platform>' AND user-account:account_login = '<handle>']
    keyword   [x-hashmatch-keyword:value = '<phrase>']

MD5 and SHA-256 are STIX's own ``hash-algorithm-ov`` names.  PDQ and vPDQ
are not in that vocabulary; STIX 2.1 allows other hash names in a
``hashes`` dictionary (the ``stix2`` library takes them with
``allow_custom``), so they are custom hash names, spelled as Meta names the
algorithms.  vPDQ's value is threatexchange's compact frame list
(:mod:`hashmatch.signals.vpdq_compact`).  A keyword has no STIX
observable, so it is a custom one, ``x-hashmatch-keyword``.

Email addresses and usernames shared as keyed hashes
(:mod:`hashmatch.hub.identifiers`) put the key's id in the path::

    [email-addr:x_hashmatch_hmac_sha256.'<key id>' = '<64 hex>']
    [user-account:x_hashmatch_hmac_sha256.'<key id>' = '<64 hex>']

:func:`parse_pattern` reads exactly these shapes and nothing else; every
value is checked (and put in canonical form) by its signal type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hashmatch.errors import HashmatchError, StixError
from hashmatch.signals import names
from hashmatch.signals.base import SignalType
from hashmatch.signals.email import EmailSignal
from hashmatch.signals.exact import Md5Signal, Sha256Signal
from hashmatch.signals.keyword import KeywordSignal
from hashmatch.signals.pdq import PdqSignal
from hashmatch.signals.url import UrlSignal
from hashmatch.signals.username import UsernameSignal
from hashmatch.signals.vpdq_compact import compact_frames, frames_from_compact

#: A vPDQ pattern of 10,000 frames is ~750,000 characters; refuse more.
MAX_PATTERN_CHARS = 1_000_000
KEYED_PROPERTY = "x_hashmatch_hmac_sha256"
KEYWORD_OBJECT = "x-hashmatch-keyword"

#: (object type, property, dictionary key) each single-comparison type tests.
_PATHS: dict[str, tuple[str, str, str | None]] = {
    names.MD5: ("file", "hashes", "MD5"),
    names.SHA256: ("file", "hashes", "SHA-256"),
    names.PDQ: ("file", "hashes", "PDQ"),
    names.VPDQ: ("file", "hashes", "vPDQ"),
    names.URL: ("url", "value", None),
    names.EMAIL: ("email-addr", "value", None),
    names.KEYWORD: (KEYWORD_OBJECT, "value", None),
}
_BY_PATH = {path: signal_type for signal_type, path in _PATHS.items()}
#: The observable a keyed hash of each personal identifier type is about.
_KEYED_OBJECTS = {names.EMAIL: "email-addr", names.USERNAME: "user-account"}
_KEYED_BY_OBJECT = {obj: signal_type for signal_type, obj in _KEYED_OBJECTS.items()}
_USERNAME_PROPERTIES = ("account_type", "account_login")
_SIGNAL_TYPES: dict[str, SignalType] = {
    kind.name: kind
    for kind in (
        Md5Signal(),
        Sha256Signal(),
        PdqSignal(),
        UrlSignal(),
        EmailSignal(),
        UsernameSignal(),
        KeywordSignal(),
    )
}
#: The signal types a pattern can carry.
SHARED_TYPES = tuple(sorted([*_PATHS, names.USERNAME]))

_COMPARISON = re.compile(
    r"\s*(?P<object>[a-z][a-z0-9-]*):(?P<property>[a-z][a-z0-9_]*)"
    r"(?:\.(?:(?P<key>[A-Za-z0-9_]+)|'(?P<quoted>[A-Za-z0-9_-]+)'))?"
    r"\s*=\s*'(?P<value>[^'\\]*(?:\\['\\][^'\\]*)*)'\s*"
)
_AND = re.compile(r"AND(?=[\s])")
_ESCAPED = re.compile(r"\\(['\\])")
_HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class PatternSignal:
    """What a pattern says: a signal type and its canonical value, or, for a
    keyed personal identifier, the HMAC's hex digest and the key's id."""

    signal_type: str
    value: str
    key_id: str | None = None


def canonical_value(signal_type: str, value: str) -> str:
    """``value`` checked and normalised by its signal type, or StixError."""
    if signal_type != names.VPDQ and signal_type not in _SIGNAL_TYPES:
        raise StixError(
            f"signal type {signal_type!r} is not shared as STIX; shared: {', '.join(SHARED_TYPES)}"
        )
    try:
        if signal_type == names.VPDQ:
            return compact_frames(frames_from_compact(value))
        return _SIGNAL_TYPES[signal_type].parse(value)
    except (HashmatchError, ValueError) as exc:
        raise StixError(f"not a valid {signal_type} value: {exc}") from None


def build_pattern(signal: PatternSignal) -> str:
    """The STIX pattern for ``signal`` (its value checked first)."""
    if signal.key_id is not None:
        return _keyed_pattern(signal)
    value = canonical_value(signal.signal_type, signal.value)
    if signal.signal_type == names.USERNAME:
        platform, _, handle = value.partition(":")
        user = _KEYED_OBJECTS[names.USERNAME]
        return (
            f"[{user}:account_type = {_quoted(platform)} "
            f"AND {user}:account_login = {_quoted(handle)}]"
        )
    object_type, prop, key = _PATHS[signal.signal_type]
    return f"[{object_type}:{_path(prop, key)} = {_quoted(value)}]"


def _keyed_pattern(signal: PatternSignal) -> str:
    object_type = _KEYED_OBJECTS.get(signal.signal_type)
    if object_type is None:
        raise StixError(f"{signal.signal_type} values are not shared as keyed hashes")
    digest, key_id = _keyed_parts(signal.value, signal.key_id or "")
    return f"[{object_type}:{KEYED_PROPERTY}.'{key_id}' = '{digest}']"


def parse_pattern(pattern: str) -> PatternSignal:
    """The signal a pattern of one of the shapes above tests for, or StixError."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise StixError(f"the pattern is longer than {MAX_PATTERN_CHARS} characters")
    stripped = pattern.strip()
    if not (stripped.startswith("[") and stripped.endswith("]")):
        raise StixError("the pattern is not one observation expression in [ ]")
    comparisons = _comparisons(stripped[1:-1])
    if len(comparisons) == 1:
        (object_type, prop, key, value), *_ = comparisons
        if prop == KEYED_PROPERTY and object_type in _KEYED_BY_OBJECT and key is not None:
            digest, key_id = _keyed_parts(value, key)
            return PatternSignal(_KEYED_BY_OBJECT[object_type], digest, key_id)
        signal_type = _BY_PATH.get((object_type, prop, key))
        if signal_type is not None:
            return PatternSignal(signal_type, canonical_value(signal_type, value))
    elif len(comparisons) == 2:
        paths = {(object_type, prop, key): value for object_type, prop, key, value in comparisons}
        user = _KEYED_OBJECTS[names.USERNAME]
        platform, handle = (paths.get((user, name, None)) for name in _USERNAME_PROPERTIES)
        if platform is not None and handle is not None:
            if ":" in platform:
                raise StixError(f"a platform name cannot hold ':': {platform[:80]!r}")
            value = canonical_value(names.USERNAME, f"{platform}:{handle}")
            return PatternSignal(names.USERNAME, value)
    described = " AND ".join(f"{o}:{_path(p, k)}" for o, p, k, _ in comparisons)
    raise StixError(f"the pattern tests {described}, which is not a signal hashmatch shares")


def _comparisons(body: str) -> list[tuple[str, str, str | None, str]]:
    """(object type, property, key, unescaped value) of each comparison joined by AND."""
    found = []
    position = 0
    while True:
        match = _COMPARISON.match(body, position)
        if match is None:
            raise StixError(
                f"the pattern is not 'object:path = 'value'' comparisons joined by AND "
                f"(at character {position + 1})"
            )
        key = match["key"] if match["key"] is not None else match["quoted"]
        found.append((match["object"], match["property"], key, _ESCAPED.sub(r"\1", match["value"])))
        position = match.end()
        if position == len(body):
            return found
        joiner = _AND.match(body, position)
        if joiner is None:
            raise StixError("the pattern joins its comparisons with something other than AND")
        if len(found) == 2:
            raise StixError("the pattern has more than two comparisons")
        position = joiner.end()


def _keyed_parts(digest: str, key_id: str) -> tuple[str, str]:
    if not _HEX_DIGEST.match(digest):
        raise StixError("a keyed identifier is an HMAC-SHA256: 64 lower-case hex digits")
    if not _KEY_ID.match(key_id):
        raise StixError("a keyed identifier's key id is 1-64 base64url characters")
    return digest, key_id


def _path(prop: str, key: str | None) -> str:
    if key is None:
        return prop
    return f"{prop}.{key}" if key.isalnum() else f"{prop}.'{key}'"


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
