"""Signing webhook deliveries, and checking them on the receiving side.

A receiver written in Python::

    from hashmatch.webhooks import verify, SignatureError

    try:
        event = verify(secret, request.headers, request.body)   # the raw bytes
    except SignatureError as error:
        return 400, str(error)

Every delivery carries ``Hashmatch-Event-Id`` and ``Hashmatch-Signature:
t=<unix seconds>,v1=<hex>``, where the hex is HMAC-SHA256 with the webhook's
secret of ``"<t>.<body>"``.  While a rotated secret's grace period lasts,
the header carries one ``v1=`` per valid secret; a receiver accepts the
delivery if any of them is right.  A ``t`` further than ``tolerance``
seconds from the receiver's clock is refused, so a captured delivery cannot
be replayed later.  docs/webhooks.md gives the same recipe for other languages.

This module imports nothing but the standard library: receivers can use it
without the server's dependencies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

SIGNATURE_HEADER = "Hashmatch-Signature"
EVENT_ID_HEADER = "Hashmatch-Event-Id"
DEFAULT_TOLERANCE = 300


class SignatureError(ValueError):
    """A delivery whose signature is missing, wrong, or too old (or too new)."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` with ``secret``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets: Iterable[str], body: bytes, *, timestamp: int | None = None) -> str:
    """The ``Hashmatch-Signature`` value for ``body``: one ``v1=`` per secret."""
    moment = int(time.time()) if timestamp is None else timestamp
    return ",".join(
        [f"t={moment}", *(f"v1={signature(secret, moment, body)}" for secret in secrets)]
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """The delivered event, once its signature is checked; raises
    :class:`SignatureError` when it is not signed with ``secret``, when its
    timestamp is more than ``tolerance`` seconds off, or when the event id
    header does not match the body."""
    value = _header(headers, SIGNATURE_HEADER)
    if not value:
        raise SignatureError(f"no {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in value.split(","):
        key, _, item = part.strip().partition("=")
        if key == "t" and item.isdigit():
            timestamp = int(item)
        elif key == "v1":
            candidates.append(item)
    if timestamp is None or not candidates:
        raise SignatureError(f"malformed {SIGNATURE_HEADER} header: expected t=...,v1=...")
    clock = time.time() if now is None else now
    if abs(clock - timestamp) > tolerance:
        raise SignatureError(
            f"signature timestamp {timestamp} is more than {tolerance} s from now (a replay?)"
        )
    expected = signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureError("signature does not match the body")
    try:
        event = json.loads(body)
    except ValueError:
        raise SignatureError("the body is not JSON") from None
    if not isinstance(event, dict):
        raise SignatureError("the body is not a JSON object")
    event_id = _header(headers, EVENT_ID_HEADER)
    if event_id is not None and event_id != event.get("event_id"):
        raise SignatureError(f"{EVENT_ID_HEADER} does not match the body's event_id")
    return event
