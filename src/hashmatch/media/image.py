"""Opening images safely: limits first, then decoding, one error type.

Every Pillow format is read, plus HEIC/HEIF through pillow-heif.  Animated
images give their first frame.  Pixels are hashed as stored: EXIF orientation
is *not* applied, which is what the PDQ reference and the shared hash lists
do; a rotated copy is found through the dihedral hashes instead.

Whatever a damaged or hostile file makes Pillow raise becomes a
:class:`~hashmatch.errors.MediaError` naming the file, so callers handle one
type.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import Image, UnidentifiedImageError

from hashmatch.errors import (
    CorruptMediaError,
    EmptyFileError,
    FileTooLargeError,
    ImageTooLargeError,
    MediaError,
    UnsupportedMediaError,
)
from hashmatch.media.limits import DecodeLimits
from hashmatch.media.pixels import gray_pixels, rgb_pixels

pillow_heif.register_heif_opener()

Source = str | os.PathLike[str] | bytes


class OpenedImage:
    """An image whose header was read and checked against the limits.

    Each of :meth:`rgb` and :meth:`gray_fast` decodes the file; calling both
    decodes it twice (the first uses the already-open file).  Use the object
    as a context manager, or call :meth:`close`, to release the file.  The
    pixel arrays returned stay valid after closing.
    """

    def __init__(self, image: Image.Image, source: Source, name: str) -> None:
        self._unused: Image.Image | None = image
        self._source = source
        self.name = name
        self.size: tuple[int, int] = image.size
        self.format: str | None = image.format

    def _take(self) -> Image.Image:
        image, self._unused = self._unused, None
        if image is not None:
            return image
        return Image.open(
            io.BytesIO(self._source) if isinstance(self._source, bytes) else self._source
        )

    def rgb(self) -> np.ndarray:
        """(H, W, 3 or 4) uint8 RGB pixels, as ``.convert("RGB")`` gives them."""
        with _decoding(self.name), self._take() as image:
            rgb = image if image.mode == "RGB" else image.convert("RGB")
            rgb.load()
            return rgb_pixels(rgb)

    def gray_fast(self) -> np.ndarray:
        """(H, W) uint8 luma by the quickest route: a JPEG decodes its Y channel only.

        Close to, but not the same as, the luma computed from ``rgb()``.
        """
        with _decoding(self.name), self._take() as image:
            if image.format == "JPEG" and image.mode in ("RGB", "L"):
                image.draft("L", image.size)  # before load: skip chroma and colour conversion
            image.load()
            gray = image if image.mode == "L" else image.convert("L")
            return gray_pixels(gray)

    def close(self) -> None:
        if self._unused is not None:
            self._unused.close()
            self._unused = None

    def __enter__(self) -> OpenedImage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextmanager
def _decoding(name: str) -> Iterator[None]:
    try:
        yield
    except MediaError:
        raise
    except Image.DecompressionBombError as error:
        raise ImageTooLargeError(f"{name}: {error}") from None
    except (MemoryError, RecursionError) as error:
        raise CorruptMediaError(
            f"{name}: image could not be decoded ({type(error).__name__})"
        ) from None
    except Exception as error:  # noqa: BLE001 - every decoder failure is a bad file
        raise CorruptMediaError(f"{name}: image is damaged or truncated: {error}") from None


def open_image(
    source: Source, limits: DecodeLimits | None = None, *, name: str | None = None
) -> OpenedImage:
    """Open an image file or bytes, checking size limits before any decoding."""
    limits = limits or DecodeLimits()
    if isinstance(source, bytes):
        label = name or "<bytes>"
        size = len(source)
    else:
        source = Path(source)
        label = name or str(source)
        try:
            size = source.stat().st_size
        except OSError as error:
            raise MediaError(f"{label}: cannot read: {error.strerror or error}") from None
    if size == 0:
        raise EmptyFileError(f"{label}: file is empty")
    if size > limits.max_file_bytes:
        raise FileTooLargeError(
            f"{label}: file is {size} bytes, over the {limits.max_file_bytes}-byte limit"
        )
    with _decoding(label):
        try:
            image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        except UnidentifiedImageError:
            raise UnsupportedMediaError(f"{label}: not an image format hashmatch reads") from None
        width, height = image.size
        problem: MediaError | None = None
        if width * height > limits.max_pixels:
            problem = ImageTooLargeError(
                f"{label}: image is {width}x{height} pixels, over the "
                f"{limits.max_pixels}-pixel limit"
            )
        elif width <= 0 or height <= 0:
            problem = CorruptMediaError(f"{label}: image has no pixels ({width}x{height})")
        if problem is not None:
            image.close()
            raise problem
    return OpenedImage(image, source, label)
