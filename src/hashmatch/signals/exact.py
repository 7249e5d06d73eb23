"""Exact hashes of a file's bytes: MD5 and SHA-256.

They match byte-for-byte identical files only (threshold 0), whatever the
file is.  Hex digests are compared case-insensitively and stored lower-case.
"""

from __future__ import annotations

import hashlib
import string
from pathlib import Path
from typing import ClassVar

from hashmatch.errors import InvalidHashError
from hashmatch.signals import names
from hashmatch.signals.base import BytesSignalType, Digest

_HEX = frozenset(string.hexdigits)
#: Read size when streaming a file through the digests.
CHUNK_BYTES = 1024 * 1024


class _HexDigestSignal(BytesSignalType):
    default_threshold: ClassVar[int] = 0
    hex_digits: ClassVar[int]

    def parse(self, text: str) -> str:
        digits = text.strip().lower()
        if len(digits) != self.hex_digits or not _HEX.issuperset(digits):
            raise InvalidHashError(
                f"{self.name} hash must be {self.hex_digits} hex digits, got {digits[:80]!r}"
            )
        return digits

    def distance(self, a: str, b: str) -> int:
        return 0 if a.lower() == b.lower() else 1

    def new_digest(self) -> Digest:
        return hashlib.new(self.name)


class Md5Signal(_HexDigestSignal):
    name: ClassVar[str] = names.MD5
    hex_digits: ClassVar[int] = 32


class Sha256Signal(_HexDigestSignal):
    name: ClassVar[str] = names.SHA256
    hex_digits: ClassVar[int] = 64


def digest_file(path: Path, signal_types: list[BytesSignalType]) -> dict[str, str]:
    """Every digest of one file in a single streaming read."""
    digests = {signal.name: signal.new_digest() for signal in signal_types}
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            for digest in digests.values():
                digest.update(chunk)
    return {name: digest.hexdigest() for name, digest in digests.items()}
