"""256-bit hashes as ThreatExchange writes them: 64 hex digits.

Bit *i* of the 256-bit vector is the *i*-th bit of the hex string read left to
right, which is also the reference C++ ``Hash256::format`` output.
"""

from __future__ import annotations

import string

from hashmatch.errors import InvalidHashError

HEX_DIGITS = 64
_HEX = frozenset(string.hexdigits)


class Hash256:
    """An immutable 256-bit hash; compares, hashes and sorts by its bytes."""

    __slots__ = ("_bytes",)

    def __init__(self, raw: bytes) -> None:
        if len(raw) != HEX_DIGITS // 2:
            raise InvalidHashError(f"a 256-bit hash is 32 bytes, got {len(raw)}")
        self._bytes = bytes(raw)

    @classmethod
    def from_hex(cls, text: str) -> Hash256:
        """Parse 64 hex digits (either case, surrounding blanks ignored)."""
        digits = text.strip()
        if len(digits) != HEX_DIGITS:
            raise InvalidHashError(
                f"a PDQ hash is {HEX_DIGITS} hex digits, got {len(digits)}: {_clip(digits)!r}"
            )
        if not _HEX.issuperset(digits):
            raise InvalidHashError(f"a PDQ hash is hex digits only, got {_clip(digits)!r}")
        return cls(bytes.fromhex(digits))

    @property
    def bytes(self) -> bytes:
        return self._bytes

    @property
    def hex(self) -> str:
        return self._bytes.hex()

    def distance(self, other: Hash256) -> int:
        """Hamming distance: the number of bits that differ."""
        a = int.from_bytes(self._bytes, "big")
        b = int.from_bytes(other._bytes, "big")
        return (a ^ b).bit_count()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hash256) and self._bytes == other._bytes

    def __lt__(self, other: Hash256) -> bool:
        return self._bytes < other._bytes

    def __hash__(self) -> int:
        return hash(self._bytes)

    def __str__(self) -> str:
        return self.hex

    def __repr__(self) -> str:
        return f"Hash256({self.hex!r})"


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
