"""Safe decoding: every format and mode, and a clear error for every bad file."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from hashmatch import (
    CorruptMediaError,
    DecodeLimits,
    EmptyFileError,
    FileTooLargeError,
    ImageTooLargeError,
    MediaError,
    UnsupportedMediaError,
    open_image,
    pdq_from_rgb,
)
from tests.conftest import DATA, encoded, noise_image

MODES = sorted((DATA / "pdq-reference" / "misc-images" / "modes").glob("*.*"))


@pytest.mark.parametrize("path", [p for p in MODES if p.suffix != ".md"], ids=lambda p: p.name)
def test_every_mode_decodes_to_rgb(path: Path) -> None:
    with open_image(path) as opened:
        pixels = opened.rgb()
    assert pixels.dtype == np.uint8
    assert pixels.shape[:2] == opened.size[::-1]
    expected = np.asarray(Image.open(path).convert("RGB"))
    assert np.array_equal(pixels[:, :, :3], expected)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF", "PPM", "TGA"])
def test_formats(fmt: str) -> None:
    data = encoded(noise_image(48, 40), fmt)
    with open_image(data) as opened:
        assert opened.size == (48, 40)
        assert opened.rgb().shape[:2] == (40, 48)


def test_heif() -> None:
    image = noise_image(96, 64)
    heif = pillow_heif.from_pillow(image)
    import io

    buffer = io.BytesIO()
    heif.save(buffer, quality=90)
    with open_image(buffer.getvalue()) as opened:
        assert opened.format in ("HEIF", "HEIC")
        pixels = opened.rgb()
    assert pixels.shape[:2] == (64, 96)
    # Lossy, but the same picture: PDQ sees it as the original.
    assert pdq_from_rgb(pixels).hash.distance(pdq_from_rgb(np.asarray(image)).hash) <= 40


def test_animated_gif_gives_first_frame() -> None:
    frames = [Image.new("RGB", (32, 32), color) for color in ("red", "blue", "green")]
    import io

    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    with open_image(buffer.getvalue()) as opened:
        pixels = opened.rgb()
    assert tuple(pixels[0, 0, :3]) == (255, 0, 0)


def test_exif_orientation_is_not_applied() -> None:
    """Pixels are hashed as stored, as the reference does."""
    image = noise_image(40, 20)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 on display
    data = encoded(image, "JPEG", exif=exif.tobytes(), quality=95)
    with open_image(data) as opened:
        assert opened.rgb().shape[:2] == (20, 40)


def test_pixels_outlive_the_closed_file(photo_path: Path) -> None:
    with open_image(photo_path) as opened:
        pixels = opened.rgb()
    expected = np.asarray(Image.open(photo_path).convert("RGB"))
    assert np.array_equal(pixels[:, :, :3], expected)


def test_both_decodes_from_one_opened_image(photo_path: Path) -> None:
    with open_image(photo_path) as opened:
        gray = opened.gray_fast()
        rgb = opened.rgb()
    assert gray.shape == rgb.shape[:2]


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a size and whose data is a few bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    body = struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    data = zlib.compress(b"\x00" * 16)
    idat = b"IDAT" + data
    body += struct.pack(">I", len(data)) + idat + struct.pack(">I", zlib.crc32(idat))
    return b"\x89PNG\r\n\x1a\n" + body


def test_decompression_bomb_refused_before_decoding() -> None:
    with pytest.raises(ImageTooLargeError, match="over the 1000000-pixel limit"):
        open_image(_png_header_only(2000, 2000), DecodeLimits(max_pixels=1_000_000))


def test_huge_claimed_size_refused() -> None:
    with pytest.raises(ImageTooLargeError):
        open_image(_png_header_only(100_000, 100_000))


def test_truncated_jpeg_is_corrupt() -> None:
    data = encoded(noise_image(200, 200), "JPEG")
    with (
        pytest.raises(CorruptMediaError, match="damaged or truncated"),
        open_image(data[: len(data) // 2]) as opened,
    ):
        opened.rgb()


def test_header_only_png_is_corrupt() -> None:
    with pytest.raises(CorruptMediaError), open_image(_png_header_only(64, 64)) as opened:
        opened.rgb()


def test_zero_bytes(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(EmptyFileError, match=r"empty\.jpg: file is empty"):
        open_image(path)


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, not a picture\n")
    with pytest.raises(UnsupportedMediaError, match=r"notes\.txt: not an image"):
        open_image(path)


def test_file_too_large(photo_path: Path) -> None:
    with pytest.raises(FileTooLargeError, match="over the 1000-byte limit"):
        open_image(photo_path, DecodeLimits(max_file_bytes=1000))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="cannot read"):
        open_image(tmp_path / "nope.png")


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        DecodeLimits(max_pixels=0)
