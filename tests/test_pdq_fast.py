"""Fast mode: the same filter as one weighted sum; few bits from the reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashmatch.media import open_image
from hashmatch.pdq import kernel
from hashmatch.pdq.fast import downsample_64_fast, sample_weights
from hashmatch.signals.pdq import FAST_MODE_MIN_QUALITY, PdqSignal
from tests.conftest import REFERENCE_IMAGES


def exact_downsample(luma: np.ndarray) -> np.ndarray:
    luma_t = np.ascontiguousarray(luma.T)
    scratch = np.empty(luma.size, dtype=np.float32)
    return kernel.downsample_64(luma_t, scratch, True)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(5, 400),
    st.integers(5, 400),
    st.integers(0, 2**32 - 1),
)
def test_weighted_sum_is_the_four_pass_filter(rows: int, cols: int, seed: int) -> None:
    luma = np.random.default_rng(seed).uniform(0, 255, size=(rows, cols)).astype(np.float32)
    fast = downsample_64_fast(luma)
    exact = exact_downsample(luma)
    # Only float32 rounding of the running sums separates the two.
    np.testing.assert_allclose(fast, exact, rtol=0, atol=2e-3)


@pytest.mark.parametrize("length", [5, 6, 63, 64, 65, 127, 128, 129, 1000, 4097])
def test_sample_weights_sum_to_one(length: int) -> None:
    starts, weights = sample_weights(length)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-12)
    assert (starts >= 0).all()
    assert (starts + weights.shape[1] <= length).all()


def test_drift_on_reference_images_is_small() -> None:
    """The bound the benchmark reports: mean <= 2 bits, max <= 10 bits."""
    pdq = PdqSignal()
    drifts = []
    for reference in REFERENCE_IMAGES:
        with open_image(reference.path) as opened:
            fast = pdq.compute(opened, fast=True)
        drifts.append(pdq.distance(fast.hash.hex, reference.pdq))
    assert max(drifts) <= 10
    assert sum(drifts) / len(drifts) <= 2


def test_flat_images_fall_back_to_the_exact_decode() -> None:
    flat = [image for image in REFERENCE_IMAGES if image.quality < FAST_MODE_MIN_QUALITY]
    assert flat, "the reference set has low-quality images"
    pdq = PdqSignal()
    for reference in flat:
        with open_image(reference.path) as opened:
            assert pdq.compute(opened, fast=True).hash.hex == reference.pdq
