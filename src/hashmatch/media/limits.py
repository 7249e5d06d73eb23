"""Limits that keep hostile files from exhausting memory or time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:  # settings import pydantic, which hashing files does not need
    from hashmatch.settings import Settings

#: Pillow's own decompression-bomb threshold (about 89 megapixels, a 0.5 GiB
#: RGBA image); Pillow warns above it and refuses twice it.
PILLOW_BOMB_PIXELS = int(Image.MAX_IMAGE_PIXELS or 89_478_485)


@dataclass(frozen=True)
class DecodeLimits:
    """What a decoder accepts.  Larger files are refused before decoding."""

    #: Largest file, in bytes, that is decoded as media (exact hashes have no limit).
    max_file_bytes: int = 256 * 1024 * 1024
    #: Largest image, in pixels (width x height), checked from the header.
    max_pixels: int = PILLOW_BOMB_PIXELS

    def __post_init__(self) -> None:
        if self.max_file_bytes <= 0 or self.max_pixels <= 0:
            raise ValueError("decode limits must be positive")

    @classmethod
    def from_settings(cls, settings: Settings) -> DecodeLimits:
        """The server's limits for images."""
        return cls(max_file_bytes=settings.max_decode_bytes, max_pixels=settings.max_image_pixels)
