"""Kernel pieces that the end-to-end comparisons cannot pin down alone."""

from __future__ import annotations

import numpy as np
import pytest

from hashmatch.pdq import kernel


def test_luma_matches_float64_formula_for_every_colour() -> None:
    """All 2**24 colours: row = R * 256 + G, column = B."""
    values = np.arange(256, dtype=np.uint8)
    red = np.repeat(values, 256)
    green = np.tile(values, 256)
    pixels = np.empty((65536, 256, 3), dtype=np.uint8)
    pixels[:, :, 0] = red[:, None]
    pixels[:, :, 1] = green[:, None]
    pixels[:, :, 2] = values[None, :]
    luma_t = np.empty((256, 65536), dtype=np.float32)
    kernel.transposed_luma_from_rgb(pixels, luma_t)
    for start in range(0, 65536, 8192):
        block = pixels[start : start + 8192].astype(np.float64)
        expected = (
            block[:, :, 0] * 0.299 + block[:, :, 1] * 0.587 + block[:, :, 2] * 0.114
        ).astype(np.float32)
        assert np.array_equal(luma_t[:, start : start + 8192].T, expected)


@pytest.mark.parametrize(("length", "window"), [(5, 1), (64, 1), (128, 1), (129, 2), (1000, 8)])
def test_window_size(length: int, window: int) -> None:
    assert kernel.window_size(length, 64) == window


def test_sample_indices_repeat_below_64() -> None:
    indices = kernel.sample_indices(10)
    assert len(indices) == 64
    assert indices[0] == 0
    assert indices[-1] == 9
    assert list(indices) == sorted(indices)


@pytest.mark.parametrize("seed", range(5))
def test_torben_median_is_the_lower_median(seed: int) -> None:
    values = np.random.default_rng(seed).normal(size=256).astype(np.float32)
    values[:20] = values[0]  # ties
    assert kernel.torben_median(values) == np.sort(values)[127]


def test_transpose_through_strips_keeps_every_value() -> None:
    gray = np.arange(37 * 300, dtype=np.float32).reshape(37, 300)
    out = np.empty((300, 37), dtype=np.float32)
    kernel.transposed_luma_from_gray(gray, out)
    assert np.array_equal(out, gray.T)
