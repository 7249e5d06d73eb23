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

A keyed value is kept in a bank as ``hmac-sha256:<key id>:<digest>``
(:func:`keyed_value`), so no raw value can equal it; a member holding the
key (the setting ``identifier_keys``, newest first) also searches its
users' values in that form (:func:`bank_values`), under each of its keys::

    keys = parse_keys(settings.identifier_keys)
    bank_values(keys, "email", "J.Doe@Example.org")   # ["hmac-sha256:<id>:<hex>", ...]

The hub hands its current key to active members
(:meth:`hashmatch.hub.members.Members.identifier_key`, audited by its id only).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import SecretStr

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
#: What a keyed value stored as a bank signal starts with.
KEYED_PREFIX = "hmac-sha256"


def keyed_value(key_id: str, digest: str) -> str:
    """How a keyed identifier is stored as a bank signal."""
    return f"{KEYED_PREFIX}:{key_id}:{digest}"


@dataclass(frozen=True)
class KeyedIdentifier:
    """A personal identifier as shared: its type, the key's id and the HMAC."""

    signal_type: str
    key_id: str
    digest: str

    @property
    def bank_value(self) -> str:
        """How it is stored as a bank signal (:func:`keyed_value`)."""
        return keyed_value(self.key_id, self.digest)


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
            secret = b64url_decode(text.strip())
        except ValueError as exc:
            raise HubKeyError(f"the identifier key is not base64url: {exc}") from None
        return cls(secret)

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


def parse_keys(texts: Iterable[SecretStr]) -> list[IdentifierKey]:
    """The keys of the setting ``identifier_keys``, in order; HubKeyError
    naming a bad one by its place (never quoting it)."""
    keys = []
    for place, text in enumerate(texts, 1):
        try:
            keys.append(IdentifierKey.from_text(text.get_secret_value()))
        except HubKeyError as error:
            raise HubKeyError(f"key {place}: {error}") from None
    return keys


def bank_values(keys: Sequence[IdentifierKey], signal_type: str, value: str) -> list[str]:
    """The bank values ``value`` has under each key: none for a type that is
    not a personal identifier, or a value that is not one (it matches nothing)."""
    if signal_type not in KEYED_TYPES:
        return []
    try:
        return [keyed_identifier(key, signal_type, value).bank_value for key in keys]
    except InvalidHashError:
        return []
