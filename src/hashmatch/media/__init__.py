"""Decoding media safely: size, pixel and format limits, one error type."""

from hashmatch.media.image import OpenedImage, open_image
from hashmatch.media.limits import DecodeLimits

__all__ = ["DecodeLimits", "OpenedImage", "open_image"]
