"""Members' signatures on STIX objects: Ed25519 detached JWS over RFC 8785 JSON.

A signed object carries one extra property, ``x_hashmatch_signature``: a
JWS (RFC 7515) in compact serialisation with the payload left out
(``header..signature``, RFC 7515 appendix F).  The payload is the RFC 8785
canonical JSON of the object *without* that property, base64url-encoded as
in any JWS (``b64`` stays true: RFC 7797's unencoded payloads would put
raw JSON, with its dots, into the signing input, and few libraries accept
them), so any JWS library verifies it after putting the payload back.

The protected header is canonical JSON too::

    {"alg":"EdDSA","kid":"<RFC 7638 thumbprint>","x_hashmatch_sha256":"<b64url>"}

``x_hashmatch_sha256`` is the SHA-256 of the payload.  It is signed, so it
adds no trust, but it lets a verifier tell an object changed after signing
(:class:`~hashmatch.errors.AlteredObjectError`) from a signature that is
itself wrong (:class:`~hashmatch.errors.BadSignatureError`).

The signature is a custom property rather than a STIX extension because
``stix2.parse(..., allow_custom=True)`` and TAXII servers keep custom
properties byte for byte, while an extension needs its extension-definition
object published and resolved first.  A key signs only for its own member:
the object's ``created_by_ref`` (an Identity's own ``id``) must be the
publisher the key was registered for.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from hashmatch.errors import (
    AlteredObjectError,
    BadSignatureError,
    CanonicalJsonError,
    MalformedSignatureError,
    RevokedSigningKeyError,
    UnknownSigningKeyError,
    UnsupportedAlgorithmError,
    WrongPublisherError,
)
from hashmatch.hub.canonical import canonical_json
from hashmatch.hub.keys import b64url_decode, b64url_encode, key_id

SIGNATURE_PROPERTY = "x_hashmatch_signature"
ALGORITHM = "EdDSA"
DIGEST_HEADER = "x_hashmatch_sha256"
_HEADER_NAMES = frozenset({"alg", "kid", DIGEST_HEADER})
_SIGNATURE_BYTES = 64
#: A compact header of ours is ~130 characters; anything far longer is garbage.
_MAX_SIGNATURE_CHARS = 1024


@dataclass(frozen=True)
class TrustedKey:
    """A member's registered public key, and the Identity it may sign for."""

    public_key: Ed25519PublicKey
    #: The STIX Identity id (``identity--...``) of the member.
    publisher: str
    revoked: bool = False

    @property
    def kid(self) -> str:
        return key_id(self.public_key)


@dataclass(frozen=True)
class Verified:
    """An object whose signature checked out, and who signed it."""

    object: dict[str, Any]
    kid: str
    publisher: str


def key_ring(keys: Iterable[TrustedKey]) -> dict[str, TrustedKey]:
    """The keys by their ``kid``, as :func:`verify` looks them up."""
    return {key.kid: key for key in keys}


def publisher_of(obj: Mapping[str, Any]) -> str | None:
    """Who published ``obj``: its ``created_by_ref``, or an Identity itself."""
    creator = obj.get("created_by_ref")
    if creator is None and obj.get("type") == "identity":
        creator = obj.get("id")
    return creator if isinstance(creator, str) else None


def sign(obj: Mapping[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """A copy of ``obj`` with its signature property set (any old one replaced)."""
    unsigned = {name: value for name, value in obj.items() if name != SIGNATURE_PROPERTY}
    payload = canonical_json(unsigned)
    header = canonical_json(
        {
            "alg": ALGORITHM,
            "kid": key_id(private_key.public_key()),
            DIGEST_HEADER: b64url_encode(hashlib.sha256(payload).digest()),
        }
    )
    protected = b64url_encode(header)
    signature = private_key.sign(f"{protected}.{b64url_encode(payload)}".encode("ascii"))
    return {**unsigned, SIGNATURE_PROPERTY: f"{protected}..{b64url_encode(signature)}"}


def verify(obj: Mapping[str, Any], keys_by_kid: Mapping[str, TrustedKey]) -> Verified:
    """Check ``obj``'s signature against the registered keys, or raise the
    :class:`~hashmatch.errors.SignatureError` that says what is wrong."""
    protected, header, signature = _split(obj.get(SIGNATURE_PROPERTY))
    kid = header["kid"][:80]  # as messages quote it
    if header["alg"] != ALGORITHM:
        raise UnsupportedAlgorithmError(
            f"the signature's algorithm is {header['alg'][:40]!r}; hub objects are signed "
            "with EdDSA"
        )
    trusted = keys_by_kid.get(header["kid"])
    if trusted is None:
        raise UnknownSigningKeyError(f"no member registered the signing key {kid!r}")
    if trusted.revoked:
        raise RevokedSigningKeyError(f"the signing key {kid!r} was revoked")
    publisher = publisher_of(obj)
    if publisher != trusted.publisher:
        raise WrongPublisherError(
            f"the key {kid!r} signs for {trusted.publisher}, not for {(publisher or 'nobody')[:80]}"
        )
    unsigned = {name: value for name, value in obj.items() if name != SIGNATURE_PROPERTY}
    try:
        payload = canonical_json(unsigned)
    except CanonicalJsonError as exc:
        raise AlteredObjectError(f"the object cannot have been signed: {exc}") from None
    digest = b64url_encode(hashlib.sha256(payload).digest())
    if not hmac.compare_digest(digest, header[DIGEST_HEADER]):
        raise AlteredObjectError("the object changed after it was signed (its digest differs)")
    try:
        trusted.public_key.verify(signature, f"{protected}.{b64url_encode(payload)}".encode())
    except InvalidSignature:
        raise BadSignatureError(f"the signature does not verify under the key {kid!r}") from None
    return Verified(dict(obj), kid, trusted.publisher)


def _split(jws: Any) -> tuple[str, dict[str, str], bytes]:
    """The protected header as sent, decoded, and the signature bytes."""
    if jws is None:
        raise MalformedSignatureError(f"the object has no {SIGNATURE_PROPERTY}")
    if not isinstance(jws, str) or len(jws) > _MAX_SIGNATURE_CHARS:
        raise MalformedSignatureError(f"{SIGNATURE_PROPERTY} is not a compact JWS string")
    parts = jws.split(".")
    if len(parts) != 3 or parts[1]:
        raise MalformedSignatureError(
            f"{SIGNATURE_PROPERTY} is not a detached compact JWS (header..signature)"
        )
    try:
        # RFC 7515 section 4 allows a parser that keeps a repeated name's last value.
        header = json.loads(b64url_decode(parts[0]))
        signature = b64url_decode(parts[2])
    except (ValueError, RecursionError) as exc:
        raise MalformedSignatureError(f"{SIGNATURE_PROPERTY} does not decode: {exc}") from None
    if not isinstance(header, dict):
        raise MalformedSignatureError("the JWS header is not a JSON object")
    if set(header) != _HEADER_NAMES or not all(isinstance(v, str) for v in header.values()):
        raise MalformedSignatureError(
            f"the JWS header must have exactly the strings {', '.join(sorted(_HEADER_NAMES))}"
        )
    if len(signature) != _SIGNATURE_BYTES:
        raise MalformedSignatureError(
            f"the signature is {len(signature)} bytes; Ed25519 signatures are 64"
        )
    return parts[0], header, signature
