"""Small previews of a picture, made on the server and put in the page.

    uri = thumbnail_uri(path, limits)   # "data:image/jpeg;base64,..." or None

    picture = downscaled(data, limits, 320, gray=False)   # a Pillow image or None
    uri = jpeg_uri(picture)

The match tester shows what was uploaded so a person can tell they tried the
right file, without showing it at full size or in colour: at most
:data:`SIZE` pixels a side, grayscale, as a JPEG inside the page (a data:
URI), so the upload is never stored or served from a URL.  The page blurs
it further (``.shielded``) until the person holds the reveal button.  The
review pages make their previews with the same two functions
(``review_media.py``).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image, ImageOps

from hashmatch.media.limits import DecodeLimits

#: The longest side of a match tester preview, in pixels.
SIZE = 256


def downscaled(
    source: Path | bytes, limits: DecodeLimits, size: int, *, gray: bool
) -> Image.Image | None:
    """The picture at most ``size`` pixels a side, turned as its EXIF
    orientation says it is shown, in mode L (``gray``) or RGB; None for what
    Pillow cannot show: not an image (a video), damaged or truncated, over
    ``limits`` (a decompression bomb declares a huge size)."""
    mode = "L" if gray else "RGB"
    try:
        stored = len(source) if isinstance(source, bytes) else source.stat().st_size
        if stored > limits.max_file_bytes:
            return None
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            width, height = image.size
            if width * height > limits.max_pixels:
                return None
            image.draft(mode, (size, size))  # JPEG: decode at a fraction of the size
            picture = image.convert(mode)
        picture.thumbnail((size, size))
        # Turned after shrinking (cheaper); convert() kept the EXIF it reads.
        return ImageOps.exif_transpose(picture)
    except Exception:  # noqa: BLE001 - whatever a hostile file makes Pillow raise: no preview
        return None


def jpeg_uri(picture: Image.Image) -> str:
    """A data: URI of ``picture`` as a JPEG, to put in a page as it is."""
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def thumbnail_uri(path: Path, limits: DecodeLimits) -> str | None:
    """A data: URI of a small grayscale JPEG of the image at ``path``; None
    for a file Pillow cannot show (a video, a file over the pixel limit)."""
    picture = downscaled(path, limits, SIZE, gray=True)
    return jpeg_uri(picture) if picture is not None else None
