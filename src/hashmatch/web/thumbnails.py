"""Small, grey, blurred-until-revealed previews of an upload, made on the server.

    uri = thumbnail_uri(path, limits)   # "data:image/jpeg;base64,..." or None

The match tester shows what was uploaded so a person can tell they tried the
right file, without showing it at full size or in colour: at most
:data:`SIZE` pixels a side, grayscale, as a JPEG inside the page (a data:
URI), so the upload is never stored or served from a URL.  The page blurs
it further (``.shielded``) until the person holds the reveal button.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from hashmatch.media.limits import DecodeLimits

#: The longest side of a preview, in pixels.
SIZE = 256


def thumbnail_uri(path: Path, limits: DecodeLimits) -> str | None:
    """A data: URI of a small grayscale JPEG of the image at ``path``; None
    for a file Pillow cannot show (a video, a file over the pixel limit)."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > limits.max_pixels:
                return None
            image.draft("L", (SIZE, SIZE))  # JPEG: decode at a fraction of the size
            preview = image.convert("L")
            preview.thumbnail((SIZE, SIZE))
            buffer = io.BytesIO()
            preview.save(buffer, format="JPEG", quality=70)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
