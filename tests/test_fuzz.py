"""Fuzzing the decoder: every mutated file hashes or raises hashmatch's error."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from hashmatch import DecodeLimits, MediaError, open_image
from hashmatch.signals.pdq import PdqSignal
from tests.conftest import encoded, noise_image

LIMITS = DecodeLimits(max_pixels=1_000_000, max_file_bytes=1_000_000)
PDQ = PdqSignal()


def _seeds() -> list[bytes]:
    image = noise_image(40, 30, seed=3)
    animated = [image, image.rotate(90), image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    return [
        encoded(image, "JPEG", quality=80),
        encoded(image, "JPEG", quality=80, progressive=True),
        encoded(image, "PNG"),
        encoded(image.convert("P"), "PNG"),
        encoded(image, "GIF", save_all=True, append_images=animated[1:]),
        encoded(image, "WEBP"),
        encoded(image, "BMP"),
        encoded(image, "TIFF", compression="tiff_lzw"),
        encoded(image.convert("L"), "TIFF"),
        encoded(image, "PPM"),
    ]


SEEDS = _seeds()


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "header"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[position] ^= draw(st.integers(1, 255))
        elif action == "truncate":
            del data[position:]
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=64))
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 64))]
        else:  # overwrite bytes of the header, where sizes and offsets live
            offset = draw(st.integers(0, min(64, len(data))))
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[offset : offset + len(chunk)] = chunk
    return bytes(data)


def hash_or_refuse(data: bytes) -> None:
    try:
        with open_image(data, LIMITS) as opened:
            PDQ.compute(opened)
            PDQ.compute(opened, fast=True)
    except MediaError:
        pass


@settings(
    max_examples=2500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated_files())
def test_mutated_images_hash_or_raise_media_error(data: bytes) -> None:
    hash_or_refuse(data)


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_hash_or_raise_media_error(data: bytes) -> None:
    hash_or_refuse(data)


def test_unmutated_seeds_all_hash() -> None:
    for data in SEEDS:
        with open_image(data, LIMITS) as opened:
            assert PDQ.compute(opened).quality > 0
