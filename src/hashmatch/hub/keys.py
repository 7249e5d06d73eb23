"""Members' Ed25519 signing keys: reading, naming and making them.

A member registers a *public* key with the hub in any of three forms, all
read by :func:`parse_public_key`:

* PEM (``-----BEGIN PUBLIC KEY-----``, what ``openssl pkey -pubout`` prints);
* the raw 32 bytes in base64url (43 characters, what :func:`public_key_text`
  writes: one line, fits a form field or a JSON string);
* a JWK, ``{"kty": "OKP", "crv": "Ed25519", "x": "..."}`` (RFC 8037).

A key is named by its RFC 7638 JWK thumbprint (:func:`key_id`), the ``kid``
in every signature it makes, so the name follows from the key and two
registrations of one key always agree.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from hashmatch.errors import HubKeyError

#: Longer texts are refused before any parsing (a PEM public key is ~113).
MAX_KEY_TEXT = 4096

_RAW_KEY_BYTES = 32


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url without padding; ValueError for anything else."""
    if "=" in text or not text.isascii():
        raise ValueError("not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc
    if b64url_encode(data) != text:  # stray bits or characters outside the alphabet
        raise ValueError("not canonical base64url")
    return data


def parse_public_key(text: str) -> Ed25519PublicKey:
    """Read an Ed25519 public key from PEM, base64url raw bytes or a JWK."""
    text = text.strip()
    if not text:
        raise HubKeyError("the public key is empty")
    if len(text) > MAX_KEY_TEXT:
        raise HubKeyError(f"the public key is longer than {MAX_KEY_TEXT} characters")
    if text.startswith("-----BEGIN"):
        return _from_pem(text)
    if text.startswith("{"):
        return _from_jwk(text)
    return _from_raw(text, "the public key")


def _from_pem(text: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(text.encode("ascii", "replace"))
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise HubKeyError("the PEM text is not a public key (expected BEGIN PUBLIC KEY)") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise HubKeyError(f"the PEM key is {type(key).__name__}, not Ed25519")
    return key


def _from_jwk(text: str) -> Ed25519PublicKey:
    try:
        jwk = json.loads(text)
    except ValueError as exc:
        raise HubKeyError(f"the JWK is not JSON: {exc}") from exc
    if not isinstance(jwk, dict):
        raise HubKeyError("the JWK is not a JSON object")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise HubKeyError('the JWK is not an Ed25519 key (need "kty": "OKP", "crv": "Ed25519")')
    if "d" in jwk:
        raise HubKeyError("the JWK holds a private key (d); register the public key only")
    x = jwk.get("x")
    if not isinstance(x, str):
        raise HubKeyError('the JWK has no "x" string')
    return _from_raw(x, 'the JWK\'s "x"')


def _from_raw(text: str, what: str) -> Ed25519PublicKey:
    try:
        raw = b64url_decode(text)
    except ValueError as exc:
        raise HubKeyError(f"{what} is not PEM, a JWK or base64url of 32 bytes: {exc}") from exc
    if len(raw) != _RAW_KEY_BYTES:
        raise HubKeyError(f"{what} decodes to {len(raw)} bytes; an Ed25519 key has 32")
    return Ed25519PublicKey.from_public_bytes(raw)


def raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_text(public_key: Ed25519PublicKey) -> str:
    """The key as one line: base64url of its 32 raw bytes."""
    return b64url_encode(raw_public_bytes(public_key))


def public_key_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    return {"crv": "Ed25519", "kty": "OKP", "x": public_key_text(public_key)}


def key_id(public_key: Ed25519PublicKey) -> str:
    """RFC 7638 thumbprint: SHA-256 of the JWK's required members, sorted, no spaces."""
    members = json.dumps(public_key_jwk(public_key), sort_keys=True, separators=(",", ":"))
    return b64url_encode(hashlib.sha256(members.encode("ascii")).digest())


def generate_signing_key() -> tuple[str, str]:
    """A new key pair for a member: (private key PEM, public key text).

    The private PEM is PKCS#8 without a passphrase: keep it in a file only
    the member's hashmatch can read, and name that file in its settings.
    """
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return pem, public_key_text(private.public_key())


def parse_private_key(pem: str) -> Ed25519PrivateKey:
    """Read a member's private signing key (PKCS#8 PEM without a passphrase)."""
    try:
        key = serialization.load_pem_private_key(pem.strip().encode("ascii", "replace"), None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise HubKeyError(
            "the private key is not an unencrypted PEM private key (BEGIN PRIVATE KEY)"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise HubKeyError(f"the private key is {type(key).__name__}, not Ed25519")
    return key
