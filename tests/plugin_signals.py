"""Perceptual signal types of an outside plugin, registered in tests through
an entry point exactly as a plugin package would register them."""

from __future__ import annotations

from typing import ClassVar

from hashmatch.errors import InvalidHashError
from hashmatch.signals.base import HammingSignalType


class _HexHamming(HammingSignalType):
    def parse(self, text: str) -> str:
        digits = text.strip().lower()
        if len(digits) != self.bits // 4 or any(c not in "0123456789abcdef" for c in digits):
            raise InvalidHashError(f"{self.name} hashes are {self.bits // 4} hex digits")
        return digits


class Toy256Signal(_HexHamming):
    name: ClassVar[str] = "toy256"
    bits: ClassVar[int] = 256
    default_threshold: ClassVar[int] = 20


class Toy64Signal(_HexHamming):
    name: ClassVar[str] = "toy64"
    bits: ClassVar[int] = 64
    default_threshold: ClassVar[int] = 6
