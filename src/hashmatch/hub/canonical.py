"""RFC 8785 (JCS) canonical JSON: the exact bytes a hub signature covers.

Two members who hold the same object must produce the same bytes, whatever
their JSON library did to key order, spacing, escapes or number spelling.
The ``rfc8785`` package writes them; here a value it cannot write (NaN,
infinities, integers outside I-JSON's +-(2**53 - 1), lone surrogates,
non-string keys, nesting too deep to recurse into) becomes one clear
:class:`~hashmatch.errors.CanonicalJsonError`.

:func:`parse_json` is the matching reader for JSON from a peer: it refuses
what a canonical form could hide (a repeated key, whose first value one
reader keeps and another drops) as well as NaN and Infinity literals, and
nesting past :data:`MAX_DEPTH`.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from hashmatch.errors import CanonicalJsonError
from hashmatch.fieldlimits import MAX_JSON_DEPTH, deeper_than

#: Levels of objects and lists in one signed object (a STIX indicator has 3).
MAX_DEPTH = MAX_JSON_DEPTH


def canonical_json(value: Any) -> bytes:
    """``value`` as RFC 8785 canonical UTF-8 JSON."""
    try:
        return rfc8785.dumps(value)
    except RecursionError:
        raise CanonicalJsonError("the JSON is nested too deeply to canonicalise") from None
    except rfc8785.IntegerDomainError as exc:
        raise CanonicalJsonError(
            f"the JSON has an integer outside +-(2**53 - 1), which RFC 8785 cannot write "
            f"exactly ({exc}); send it as a string"
        ) from None
    except rfc8785.FloatDomainError as exc:
        raise CanonicalJsonError(f"the JSON has a number RFC 8785 cannot write: {exc}") from None
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as exc:
        raise CanonicalJsonError(f"the value is not canonical JSON: {exc}") from None


def parse_json(data: str | bytes) -> Any:
    """Strict JSON from a peer: no repeated keys, no NaN or Infinity, no deep nesting."""
    try:
        value = json.loads(data, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError:
        raise CanonicalJsonError(f"the JSON is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        if isinstance(exc, CanonicalJsonError):
            raise
        raise CanonicalJsonError(f"not JSON: {exc}") from None
    if deeper_than(value, MAX_DEPTH):
        raise CanonicalJsonError(f"the JSON is nested deeper than {MAX_DEPTH} levels")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        keys = [key for key, _ in pairs]
        repeated = next(key for key in keys if keys.count(key) > 1)
        raise CanonicalJsonError(f"the JSON repeats the key {repeated!r}")
    return value


def _no_constant(name: str) -> Any:
    raise CanonicalJsonError(f"the JSON has {name}, which is not JSON")
