"""Kept media, encrypted at rest: AES-256-GCM under one key the operator holds.

    vault = load_vault(settings)          # None when no key is configured
    nonce, ciphertext = vault.encrypt(data, submission_id=7)
    vault.decrypt(nonce, ciphertext, submission_id=7, key_id=vault.key_id)

The key is 32 random bytes, written as base64, read from ``media_key_file``
or printed by ``media_key_command`` (run once, at start-up, without a shell).
A key that cannot be read or is not 32 bytes stops start-up with a
MediaKeyError naming the file or command: media must never be written under
a key nobody can use again.  Each ciphertext is bound to its submission's
id (GCM's associated data), so rows cannot be swapped to show one
submission's media as another's; ``key_id`` names the key a row was written
with without revealing it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import shlex
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hashmatch.errors import MediaKeyError

if TYPE_CHECKING:
    from hashmatch.settings import Settings

KEY_BYTES = 32
NONCE_BYTES = 12
#: How long ``media_key_command`` may take.
COMMAND_SECONDS = 30.0


class MediaVault:
    """Encrypts and decrypts kept media with one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise MediaKeyError(f"a media key is {KEY_BYTES} bytes, not {len(key)}")
        self._cipher = AESGCM(key)
        #: A short fingerprint of the key (not the key): which key a row needs.
        self.key_id = hashlib.sha256(key).hexdigest()[:16]

    def encrypt(self, data: bytes, *, submission_id: int) -> tuple[bytes, bytes]:
        """``(nonce, ciphertext)``: a fresh random nonce for every encryption."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce, self._cipher.encrypt(nonce, data, _bound_to(submission_id))

    def decrypt(self, nonce: bytes, ciphertext: bytes, *, submission_id: int, key_id: str) -> bytes:
        """The plaintext; MediaKeyError when it was written with another key,
        for another submission, or was changed since."""
        if key_id != self.key_id:
            raise MediaKeyError(
                f"the media of submission {submission_id} was kept with key {key_id}; "
                f"this server has key {self.key_id}"
            )
        try:
            return self._cipher.decrypt(nonce, ciphertext, _bound_to(submission_id))
        except InvalidTag:
            raise MediaKeyError(
                f"the media kept for submission {submission_id} does not decrypt: "
                "it was changed, or belongs to another submission"
            ) from None


def _bound_to(submission_id: int) -> bytes:
    return f"hashmatch-submission:{submission_id}".encode()


def new_key_text() -> str:
    """A fresh random key, as base64 (what a key file holds)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def write_new_key(path: Path) -> None:
    """Write a fresh key to a new file only its owner may read (0600);
    MediaKeyError if the file exists: overwriting a key loses every media
    kept under it."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise MediaKeyError(f"{path} exists; refusing to overwrite a media key") from None
    except OSError as error:
        raise MediaKeyError(f"cannot create {path}: {error.strerror or error}") from None
    with os.fdopen(descriptor, "w") as stream:
        stream.write(new_key_text() + "\n")


def parse_key(text: str, source: str, *, error: type[MediaKeyError] = MediaKeyError) -> bytes:
    """The 32 bytes a key's base64 text holds; ``source`` names where it came
    from, and a key that is not one raises ``error`` (EvidenceKeyError for the
    evidence master key)."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise error(f"{source} does not give a base64 key") from None
    if len(key) != KEY_BYTES:
        raise error(
            f"{source} gives {len(key)} bytes; a key is {KEY_BYTES} "
            "(make one with: hashmatch media-key new PATH)"
        )
    return key


def key_from_file(
    path: Path, *, setting: str = "media_key_file", error: type[MediaKeyError] = MediaKeyError
) -> bytes:
    """The key in the file ``setting`` names; ``error`` when it cannot be had."""
    source = f"{setting} {path}"
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as failure:
        why = failure.strerror if isinstance(failure, OSError) else "not base64 text"
        raise error(f"{source}: cannot read the key: {why}") from None
    return parse_key(text, source, error=error)


def key_from_command(
    command: str,
    *,
    setting: str = "media_key_command",
    error: type[MediaKeyError] = MediaKeyError,
) -> bytes:
    """The key ``command`` prints (run without a shell); ``error`` when it cannot be had."""
    source = f"{setting} {command!r}"
    try:
        done = subprocess.run(
            shlex.split(command),
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
            check=False,
        )
    except (OSError, ValueError, subprocess.TimeoutExpired) as failure:
        raise error(f"{source} could not run: {failure}") from None
    if done.returncode != 0:
        said = done.stderr.strip().splitlines()
        raise error(f"{source} failed (exit {done.returncode})" + (f": {said[-1]}" if said else ""))
    return parse_key(done.stdout, source, error=error)


def load_vault(settings: Settings) -> MediaVault | None:
    """The vault of the configured key (the file first), or None when no key
    is configured; MediaKeyError when the key cannot be had or is not a key."""
    if settings.media_key_file is not None:
        return MediaVault(key_from_file(settings.media_key_file.expanduser()))
    if settings.media_key_command:
        return MediaVault(key_from_command(settings.media_key_command))
    return None
