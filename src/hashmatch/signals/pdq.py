"""PDQ as a signal type: 64 hex digits, Hamming distance, threshold 31."""

from __future__ import annotations

from typing import ClassVar

from hashmatch.media.image import OpenedImage
from hashmatch.pdq import (
    DIHEDRAL_TRANSFORMS,
    MIN_MATCH_QUALITY,
    Hash256,
    PdqDihedralResult,
    PdqResult,
    hasher,
)
from hashmatch.pdq.hash256 import HEX_DIGITS
from hashmatch.signals import names
from hashmatch.signals.base import DihedralSignalType, HammingSignalType, SignalValue

#: PDQ's fast mode falls back to the exact decode below this quality: flat
#: images sit close to the median everywhere, so a slightly different luma
#: moves many of their bits.
FAST_MODE_MIN_QUALITY = 80


def _is_hex(digits: str) -> bool:
    try:
        return len(bytes.fromhex(digits)) == HEX_DIGITS // 2
    except ValueError:
        return False


class PdqSignal(DihedralSignalType, HammingSignalType):
    """Meta's PDQ perceptual hash, bit-identical to the reference library."""

    name: ClassVar[str] = names.PDQ
    bits: ClassVar[int] = 256
    min_match_quality: ClassVar[int] = MIN_MATCH_QUALITY
    default_threshold: ClassVar[int] = 31
    transforms: ClassVar[tuple[str, ...]] = DIHEDRAL_TRANSFORMS

    def parse(self, text: str) -> str:
        digits = text.strip()
        if len(digits) == HEX_DIGITS and _is_hex(digits):  # the fast path for big lists
            return digits.lower()
        return Hash256.from_hex(text).hex  # raises with the precise reason

    def distance(self, a: str, b: str) -> int:
        return Hash256.from_hex(a).distance(Hash256.from_hex(b))

    def hash_image(self, image: OpenedImage, *, fast: bool = False) -> SignalValue:
        result = self.compute(image, fast=fast)
        return SignalValue(self.name, result.hash.hex, result.quality)

    def hash_image_dihedral(self, image: OpenedImage, *, fast: bool = False) -> list[SignalValue]:
        result = self.compute_dihedral(image, fast=fast)
        return [SignalValue(self.name, value.hex, result.quality) for value in result.hashes]

    def compute(self, image: OpenedImage, *, fast: bool = False) -> PdqResult:
        """The PDQ hash and quality of an image."""
        if fast:
            result = hasher.pdq_from_luma(image.gray_fast(), fast=True)
            if result.quality >= FAST_MODE_MIN_QUALITY:
                return result
        return hasher.pdq_from_rgb(image.rgb())

    def compute_dihedral(self, image: OpenedImage, *, fast: bool = False) -> PdqDihedralResult:
        """The hashes of the image's 8 rotations and flips, from one decode."""
        if fast:
            result = hasher.pdq_dihedral_from_luma(image.gray_fast(), fast=True)
            if result.quality >= FAST_MODE_MIN_QUALITY:
                return result
        return hasher.pdq_dihedral_from_rgb(image.rgb())
