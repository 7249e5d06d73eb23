"""The review pages' previews: small, grey and blurred on the server, made in
memory, and None (never an error) for whatever is not a picture or a video."""

from __future__ import annotations

import base64
import io
import os
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hashmatch.media.limits import DecodeLimits
from hashmatch.media.video import VideoLimits
from hashmatch.web.review_media import (
    FRAME_SIZE,
    IMAGE_SIZE,
    STRIP_FRAMES,
    Preview,
    clear_preview,
    shielded_preview,
)
from tests.clips import make_clip
from tests.conftest import encoded, noise_image
from tests.test_hostile_media import damaged_files, unknown_codec_clip

LIMITS = DecodeLimits()
VIDEO_LIMITS = VideoLimits()


def shielded(
    data: bytes,
    blur_px: int = 8,
    *,
    limits: DecodeLimits = LIMITS,
    video_limits: VideoLimits = VIDEO_LIMITS,
) -> Preview | None:
    return shielded_preview(data, blur_px=blur_px, limits=limits, video_limits=video_limits)


def clear(data: bytes, *, grayscale: bool) -> Preview | None:
    return clear_preview(data, grayscale=grayscale, limits=LIMITS, video_limits=VIDEO_LIMITS)


def decoded(preview: Preview | None) -> Image.Image:
    assert preview is not None
    header, _, payload = preview.uri.partition(",")
    assert header == "data:image/jpeg;base64"
    image = Image.open(io.BytesIO(base64.b64decode(payload)))
    image.load()
    return image


def checkerboard(width: int, height: int, square: int = 8) -> Image.Image:
    """Sharp edges in strong colours: what a blur visibly flattens."""
    rng = np.random.default_rng(7)
    colours = rng.integers(0, 256, size=(height // square + 1, width // square + 1, 3))
    pixels = colours.repeat(square, axis=0).repeat(square, axis=1)[:height, :width]
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def sharpness(image: Image.Image) -> float:
    """The variance of the Laplacian of the luma: high for edges, low once blurred."""
    luma = np.asarray(image.convert("L"), dtype=np.float64)
    laplacian = (
        luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:] - 4 * luma[1:-1, 1:-1]
    )
    return float(laplacian.var())


def is_gray(image: Image.Image) -> bool:
    if image.mode == "L":
        return True
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    return bool((pixels.max(axis=2) - pixels.min(axis=2)).max() <= 2)


def declared_png(width: int, height: int) -> bytes:
    """A tiny real PNG whose header is changed to claim ``width`` x ``height``."""
    png = encoded(noise_image(8, 8), "PNG")
    ihdr = b"IHDR" + struct.pack(">II", width, height) + png[24:29]
    return png[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + png[33:]


# -- pictures ------------------------------------------------------------------------


def test_a_shielded_picture_is_small_grey_and_blurred() -> None:
    data = encoded(checkerboard(800, 600), "PNG")
    preview = shielded(data, blur_px=8)
    assert preview is not None
    assert (preview.kind, preview.frames) == ("image", 1)
    image = decoded(preview)
    assert image.size == (IMAGE_SIZE, 240)
    assert is_gray(image)
    unblurred = decoded(clear(data, grayscale=True))
    assert unblurred.size == image.size
    assert is_gray(unblurred)
    assert sharpness(image) < sharpness(unblurred) / 20


def test_more_blur_is_blurrier() -> None:
    data = encoded(checkerboard(640, 640), "PNG")
    assert sharpness(decoded(shielded(data, blur_px=16))) < sharpness(
        decoded(shielded(data, blur_px=2))
    )


def test_a_clear_preview_keeps_colour_only_when_asked() -> None:
    data = encoded(checkerboard(400, 300), "JPEG", quality=95)
    coloured = decoded(clear(data, grayscale=False))
    assert coloured.mode == "RGB"
    assert not is_gray(coloured)
    assert max(coloured.size) == IMAGE_SIZE
    assert is_gray(decoded(clear(data, grayscale=True)))


def test_a_small_picture_is_not_enlarged() -> None:
    image = decoded(clear(encoded(noise_image(100, 60), "PNG"), grayscale=False))
    assert image.size == (100, 60)


def test_a_picture_is_shown_the_way_its_exif_turns_it() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turned a quarter clockwise to be shown
    data = encoded(noise_image(400, 200), "JPEG", exif=exif.tobytes())
    assert decoded(clear(data, grayscale=False)).size == (160, 320)
    assert decoded(shielded(data)).size == (160, 320)


def test_the_sample_photo(photo_path: Path) -> None:
    preview = shielded(photo_path.read_bytes(), blur_px=16)
    image = decoded(preview)
    assert max(image.size) == IMAGE_SIZE
    assert is_gray(image)


# -- videos ------------------------------------------------------------------------------


def test_a_video_gives_a_strip_of_frames_at_even_times(tmp_path: Path) -> None:
    data = make_clip(tmp_path / "clip.mp4", frames=30, size=(320, 180)).read_bytes()
    coloured = clear_preview(data, grayscale=False, limits=LIMITS, video_limits=VIDEO_LIMITS)
    assert coloured is not None
    assert (coloured.kind, coloured.frames) == ("frames", STRIP_FRAMES)
    strip = decoded(coloured)
    assert strip.size == (STRIP_FRAMES * FRAME_SIZE, 90)
    assert not is_gray(strip)
    # The gradient slides under the noise: each frame of the strip differs from the last.
    tiles = np.asarray(strip.convert("L"), dtype=np.float64).reshape(90, STRIP_FRAMES, -1)
    for left, right in zip(range(STRIP_FRAMES - 1), range(1, STRIP_FRAMES), strict=True):
        assert np.abs(tiles[:, left] - tiles[:, right]).mean() > 1

    preview = shielded(data, blur_px=8)
    assert preview is not None
    assert (preview.kind, preview.frames) == ("frames", STRIP_FRAMES)
    image = decoded(preview)
    assert image.size == strip.size
    assert is_gray(image)
    assert sharpness(image) < sharpness(decoded(clear(data, grayscale=True))) / 4


def test_a_video_with_few_frames_gives_each_once(tmp_path: Path) -> None:
    data = make_clip(tmp_path / "short.mp4", frames=3, size=(64, 64)).read_bytes()
    preview = clear(data, grayscale=True)
    assert preview is not None
    assert (preview.kind, preview.frames) == ("frames", 3)
    assert decoded(preview).size == (3 * 64, 64)


def test_a_turned_video_is_shown_upright(tmp_path: Path) -> None:
    data = make_clip(tmp_path / "turned.mp4", frames=12, size=(320, 160), rotation=90).read_bytes()
    preview = clear(data, grayscale=True)
    assert preview is not None
    assert decoded(preview).size == (preview.frames * 80, FRAME_SIZE)


def test_a_video_over_its_limits_has_no_preview(tmp_path: Path) -> None:
    data = make_clip(tmp_path / "clip.mp4", frames=10, size=(96, 64)).read_bytes()
    assert shielded(data, video_limits=VideoLimits(max_pixels=96 * 63)) is None
    assert shielded(data, video_limits=VideoLimits(max_file_bytes=100)) is None
    assert shielded(data, video_limits=VideoLimits(max_seconds=0.5)) is None


# -- what is not a picture or a video --------------------------------------------------


def test_truncated_random_and_empty_bytes_have_no_preview() -> None:
    jpeg = encoded(noise_image(300, 200), "JPEG")
    rng = np.random.default_rng(3)
    for data in (jpeg[: len(jpeg) // 2], rng.bytes(5000), b"", b"GIF89a"):
        assert shielded(data) is None
        assert clear(data, grayscale=False) is None


def test_a_decompression_bomb_has_no_preview() -> None:
    assert shielded(declared_png(100_000, 100_000)) is None
    assert clear(declared_png(100_000, 100_000), grayscale=False) is None
    modest = encoded(noise_image(200, 200), "PNG")
    assert shielded(modest, limits=DecodeLimits(max_pixels=200 * 199)) is None
    assert shielded(modest, limits=DecodeLimits(max_file_bytes=len(modest) - 1)) is None
    assert shielded(modest) is not None


def test_damaged_and_hostile_files_have_no_preview(tmp_path: Path) -> None:
    files = damaged_files(tmp_path)
    files["odd.avi"] = unknown_codec_clip(tmp_path / "odd.avi")
    for name, path in files.items():
        data = path.read_bytes()
        assert shielded(data) is None, name
        assert clear(data, grayscale=False) is None, name


def test_every_cut_of_a_video_is_a_strip_or_nothing(tmp_path: Path) -> None:
    data = make_clip(tmp_path / "clip.mkv", frames=20, size=(64, 48)).read_bytes()
    for length in range(0, len(data), max(1, len(data) // 40)):
        preview = shielded(data[:length])
        if preview is not None:
            assert preview.kind == "frames"
            assert 1 <= preview.frames <= STRIP_FRAMES
            assert is_gray(decoded(preview))


def test_a_shielded_preview_needs_a_blur() -> None:
    with pytest.raises(ValueError, match="at least 1 px"):
        shielded(encoded(noise_image(32, 32), "PNG"), blur_px=0)


# -- nothing on disk -----------------------------------------------------------------------


def test_no_temporary_file_is_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = make_clip(tmp_path / "clip.mp4", frames=12, size=(96, 64)).read_bytes()
    photo = encoded(noise_image(500, 400), "JPEG")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    for name in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.setenv(name, str(scratch))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a preview made a temporary file")

    for maker in (
        "mkstemp",
        "mkdtemp",
        "NamedTemporaryFile",
        "TemporaryFile",
        "SpooledTemporaryFile",
        "TemporaryDirectory",
    ):
        monkeypatch.setattr(tempfile, maker, refuse)
    before = set(os.listdir(scratch))
    for data in (clip, photo):
        assert shielded(data) is not None
        assert clear(data, grayscale=False) is not None
    assert set(os.listdir(scratch)) == before
