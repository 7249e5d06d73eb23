"""Property: on any pixels, hashmatch's PDQ equals the reference binding's.

``pdqhash`` (the reference C++ behind a Cython binding) is a test
dependency only; hashmatch never imports it.
"""

from __future__ import annotations

import numpy as np
import pdqhash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from hashmatch.pdq import pdq_dihedral_from_rgb, pdq_from_rgb
from tests.conftest import REFERENCE_IMAGES


def reference_hex(bits: np.ndarray) -> str:
    """The binding returns 256 bits, most significant first."""
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def test_reference_hex_conversion_matches_shared_hash_list() -> None:
    reference = REFERENCE_IMAGES[0]
    pixels = np.asarray(Image.open(reference.path).convert("RGB"))
    bits, quality = pdqhash.compute(pixels)
    assert (reference_hex(bits), quality) == (reference.pdq, reference.quality)


@st.composite
def images(draw: st.DrawFn) -> np.ndarray:
    """Random sizes (tiny, exactly 64, odd, wide, tall) and textures."""
    height = draw(st.one_of(st.integers(1, 12), st.just(64), st.integers(13, 300)))
    width = draw(st.one_of(st.integers(1, 12), st.just(64), st.integers(13, 300)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["noise", "blocks", "gradient", "flat", "sparse"]))
    if kind == "noise":
        return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    if kind == "blocks":
        small = rng.integers(0, 256, size=(max(1, height // 8), max(1, width // 8), 3))
        big = np.kron(small, np.ones((8, 8, 1)))[:height, :width]
        padded = np.zeros((height, width, 3))
        padded[: big.shape[0], : big.shape[1]] = big
        return padded.astype(np.uint8)
    if kind == "gradient":
        y, x = np.mgrid[0:height, 0:width]
        angle = rng.uniform(0, np.pi)
        ramp = (np.cos(angle) * x + np.sin(angle) * y) * rng.uniform(0.1, 5)
        channel = (ramp % 256).astype(np.uint8)
        return np.stack([channel, 255 - channel, channel // 2], axis=-1)
    if kind == "flat":
        return np.full((height, width, 3), rng.integers(0, 256, size=3), dtype=np.uint8)
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    count = max(1, height * width // 50)
    pixels[rng.integers(0, height, count), rng.integers(0, width, count)] = 255
    return pixels


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(images())
def test_same_hash_and_quality_as_reference(pixels: np.ndarray) -> None:
    bits, quality = pdqhash.compute(pixels)
    ours = pdq_from_rgb(pixels)
    assert (ours.hash.hex, ours.quality) == (reference_hex(bits), quality)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(images())
def test_same_dihedral_hashes_as_reference(pixels: np.ndarray) -> None:
    hashes, quality = pdqhash.compute_dihedral(pixels)
    ours = pdq_dihedral_from_rgb(pixels)
    assert [value.hex for value in ours.hashes] == [reference_hex(bits) for bits in hashes]
    assert ours.quality == quality


@settings(max_examples=50, deadline=None)
@given(images())
def test_rgbx_layout_gives_the_same_hash(pixels: np.ndarray) -> None:
    """Pillow keeps RGB as RGBX; the kernel reads either layout."""
    padded = np.concatenate([pixels, np.full((*pixels.shape[:2], 1), 7, np.uint8)], axis=-1)
    assert pdq_from_rgb(padded) == pdq_from_rgb(pixels)
