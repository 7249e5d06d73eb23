"""Keyed hashes of personal identifiers, so members share accounts, not addresses.

An email address or a username is normalised exactly as its signal type
does it (``J.Doe+x@GoogleMail.com`` and ``jdoe@gmail.com`` are one address),
then HMAC-SHA256'd under the coalition's identifier key::

    HMAC-SHA256(key, "<signal type>:<normalised value>")  ->  64 hex digits

The signal type in the message keeps an email and a username that happen
to be spelled alike apart.  The hub hands the key to members; a member
hashes its own users' values the same way and matches the hashes, so the
raw values never leave the platform that holds them.  A key is named by a
short id derived from it (:attr:`IdentifierKey.key_id`), which travels
with every keyed value so that a new key can replace an old one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from hashmatch.errors import HubKeyError, InvalidHashError
from hashmatch.hub.keys import b64url_decode, b64url_encode
from hashmatch.signals import names
from hashmatch.signals.base import SignalType
from hashmatch.signals.email import EmailSignal
from hashmatch.signals.username import UsernameSignal

#: The signal types whose values are personal identifiers.
KEYED_TYPES: dict[str, SignalType] = {names.EMAIL: EmailSignal(), names.USERNAME: UsernameSignal()}
KEY_BYTES = 32
#: Characters of the key id: 96 bits of SHA-256, enough never to collide.
_KEY_ID_CHARS = 16
_KEY_ID_CONTEXT = b"hashmatch identifier key id\x00"


@dataclass(frozen=True)
class KeyedIdentifier:
    """A personal identifier as shared: its type, the key's id and the HMAC."""

    signal_type: str
    key_id: str
    digest: str


@dataclass(frozen=True, repr=False)
class IdentifierKey:
    """The coalition's secret for keyed identifiers (never printed by repr)."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise HubKeyError(f"an identifier key is {KEY_BYTES} bytes, got {len(self.secret)}")

    def __repr__(self) -> str:
        return f"IdentifierKey(key_id={self.key_id!r})"

    @classmethod
    def generate(cls) -> IdentifierKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_text(cls, text: str) -> IdentifierKey:
        """Read a key written by :meth:`text` (base64url of its 32 bytes)."""
        try:
            return cls(b64url_decode(text.strip()))
        except ValueError as exc:
            raise HubKeyError(f"the identifier key is not base64url: {exc}") from None

    def text(self) -> str:
        return b64url_encode(self.secret)

    @property
    def key_id(self) -> str:
        digest = hashlib.sha256(_KEY_ID_CONTEXT + self.secret).digest()
        return b64url_encode(digest)[:_KEY_ID_CHARS]


def keyed_identifier(key: IdentifierKey, signal_type: str, value: str) -> KeyedIdentifier:
    """The keyed hash of ``value`` (normalised first; InvalidHashError if it is not one)."""
    kind = KEYED_TYPES.get(signal_type)
    if kind is None:
        raise InvalidHashError(
            f"only {' and '.join(sorted(KEYED_TYPES))} values are shared as keyed hashes, "
            f"not {signal_type}"
        )
    message = f"{signal_type}:{kind.parse(value)}".encode()
    digest = hmac.new(key.secret, message, hashlib.sha256).hexdigest()
    return KeyedIdentifier(signal_type, key.key_id, digest)
