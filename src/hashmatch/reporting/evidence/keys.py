"""Envelope encryption of preserved evidence under the operator's master key.

    keys = load_master_key(settings)              # EvidenceKeyError if none or unusable
    sealed = keys.seal(data, package_id=3, name="report.xml")
    keys.open(sealed, package_id=3, name="report.xml")    # == data

Each object gets a fresh 32-byte data key; the object is encrypted with it
(AES-256-GCM), and the data key is wrapped by the master key (AES-256-GCM
too).  Both ciphertexts are bound to the package id and the object's name
(GCM's associated data), so an object cannot be swapped for another
package's or renamed.  Rotating the master key means re-wrapping the data
keys only, never re-encrypting the objects.  ``master_key_id`` is a
fingerprint of the master key, never the key.

The master key is read like the media key (``actions/media_vault.py``): a
file (``evidence_key_file``) or a command that prints it
(``evidence_key_command``); ``hashmatch media-key new PATH`` makes one.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hashmatch.actions.media_vault import KEY_BYTES, NONCE_BYTES, key_from_command, key_from_file
from hashmatch.errors import EvidenceError, EvidenceKeyError

if TYPE_CHECKING:
    from hashmatch.settings import Settings


@dataclass(frozen=True)
class SealedObject:
    """An object as stored: ``ciphertext`` goes to the store (nonce first),
    ``wrapped_key`` (nonce first) and ``master_key_id`` to its row."""

    ciphertext: bytes
    wrapped_key: bytes
    master_key_id: str


class MasterKey:
    """Seals and opens evidence objects, each under its own wrapped data key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise EvidenceKeyError(f"an evidence master key is {KEY_BYTES} bytes, not {len(key)}")
        self._wrapper = AESGCM(key)
        #: A short fingerprint of the key (not the key): which key an object needs.
        self.key_id = hashlib.sha256(b"hashmatch-evidence:" + key).hexdigest()[:16]

    def seal(self, data: bytes, *, package_id: int, name: str) -> SealedObject:
        bound = _bound_to(package_id, name)
        data_key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        key_nonce, data_nonce = os.urandom(NONCE_BYTES), os.urandom(NONCE_BYTES)
        return SealedObject(
            ciphertext=data_nonce + AESGCM(data_key).encrypt(data_nonce, data, bound),
            wrapped_key=key_nonce + self._wrapper.encrypt(key_nonce, data_key, bound),
            master_key_id=self.key_id,
        )

    def open(self, sealed: SealedObject, *, package_id: int, name: str) -> bytes:
        """The plaintext; EvidenceKeyError when it was sealed under another
        master key, EvidenceError when the object or its key was changed (or
        belongs to another package or name)."""
        if sealed.master_key_id != self.key_id:
            raise EvidenceKeyError(
                f"evidence {name!r} of package {package_id} was sealed with master key "
                f"{sealed.master_key_id}; this server has key {self.key_id}"
            )
        bound = _bound_to(package_id, name)
        try:
            data_key = self._wrapper.decrypt(
                sealed.wrapped_key[:NONCE_BYTES], sealed.wrapped_key[NONCE_BYTES:], bound
            )
            return AESGCM(data_key).decrypt(
                sealed.ciphertext[:NONCE_BYTES], sealed.ciphertext[NONCE_BYTES:], bound
            )
        except (InvalidTag, ValueError):
            raise EvidenceError(
                f"evidence {name!r} of package {package_id} does not decrypt: it was "
                "tampered with, or belongs to another package"
            ) from None


def _bound_to(package_id: int, name: str) -> bytes:
    return f"hashmatch-evidence:{package_id}:{name}".encode()


def load_master_key(settings: Settings) -> MasterKey:
    """The configured master key (the file first); EvidenceKeyError, naming
    the setting, when none is set or it cannot be had.  Read once per
    process and setting (a key command runs once, not per request)."""
    file = settings.evidence_key_file
    path = file.expanduser() if file is not None else None
    return _master_key(path, settings.evidence_key_command)


@functools.cache
def _master_key(file: Path | None, command: str) -> MasterKey:
    if file is not None:
        return MasterKey(key_from_file(file, setting="evidence_key_file", error=EvidenceKeyError))
    if command:
        return MasterKey(
            key_from_command(command, setting="evidence_key_command", error=EvidenceKeyError)
        )
    raise EvidenceKeyError(
        "no evidence master key is set: set evidence_key_file or evidence_key_command "
        "(make a key with: hashmatch media-key new PATH)"
    )
