"""Fast PDQ: the same filter as the reference, applied as one weighted sum.

The reference blurs with four box-filter passes over the whole image and then
keeps 64x64 samples.  Those passes are linear, so each of the 64 sampled rows
is a fixed weighted sum of a few input rows (and likewise for columns): the
64x64 image is ``R @ luma @ C.T`` with banded matrices ``R`` and ``C`` that
depend only on the image size.  Computing just that touches each input pixel
about twice instead of eight times, in float64 rather than the reference's
float32 running sums, so a hash can differ from the reference by the odd bit
near the median; ``benchmarks/pdq_speed.py`` reports that drift.
"""

from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np

from hashmatch.pdq import kernel

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


def _box_matrix_rows(length: int, window: int, rows: np.ndarray) -> np.ndarray:
    """Rows ``rows`` of the reference's clipped, normalised box filter matrix.

    Output ``o`` averages inputs ``o - (window - half) .. o + (half - 1)``
    that fall inside the line, with ``half = (window + 2) // 2``.
    """
    half = (window + 2) // 2
    out = np.zeros((rows.shape[0], length))
    for n, o in enumerate(rows):
        low = max(0, o - (window - half))
        high = min(length - 1, o + half - 1)
        out[n, low : high + 1] = 1.0 / (high - low + 1)
    return out


@lru_cache(maxsize=64)
def sample_weights(length: int) -> tuple[np.ndarray, np.ndarray]:
    """For the 64 samples along a side: the first input index and the weights.

    Returns ``(starts, weights)``: sample ``s`` is
    ``sum(weights[s, t] * line[starts[s] + t])``.
    """
    window = int(kernel.window_size(length, kernel.DOWNSAMPLE_DIM))
    samples = np.asarray(kernel.sample_indices(length))
    first = _box_matrix_rows(length, window, samples)
    # The second pass: row s of (B @ B) is (row s of B) @ B; B is only needed
    # on the rows where row s of B is non-zero.
    support = np.flatnonzero(first.any(axis=0))
    both = first[:, support] @ _box_matrix_rows(length, window, support)
    nonzero = both != 0.0
    firsts = nonzero.argmax(axis=1)
    lasts = length - 1 - nonzero[:, ::-1].argmax(axis=1)
    span = int((lasts - firsts).max()) + 1
    # Every sample reads ``span`` inputs from its start; near the end the start
    # moves left so the read stays inside the line, and the taps move with it.
    starts = np.minimum(firsts, length - span)
    weights = np.zeros((kernel.DOWNSAMPLE_DIM, span))
    for s in range(kernel.DOWNSAMPLE_DIM):
        offset = firsts[s] - starts[s]
        taps = both[s, firsts[s] : lasts[s] + 1]
        weights[s, offset : offset + taps.shape[0]] = taps
    return starts.astype(np.int64), weights


@_jit
def _weighted_rows(image: np.ndarray, starts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """64 x W: each sampled row as the weighted sum of its input rows."""
    cols = image.shape[1]
    out = np.zeros((kernel.DOWNSAMPLE_DIM, cols))
    for s in range(kernel.DOWNSAMPLE_DIM):
        acc = out[s]
        for t in range(weights.shape[1]):
            w = weights[s, t]
            if w == 0.0:
                continue
            line = image[starts[s] + t]
            for j in range(cols):
                acc[j] += w * line[j]
    return out


@_jit
def _weighted_cols(rows64: np.ndarray, starts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    out = np.empty((kernel.DOWNSAMPLE_DIM, kernel.DOWNSAMPLE_DIM), dtype=np.float32)
    for i in range(kernel.DOWNSAMPLE_DIM):
        for s in range(kernel.DOWNSAMPLE_DIM):
            total = 0.0
            for t in range(weights.shape[1]):
                total += weights[s, t] * rows64[i, starts[s] + t]
            out[i, s] = np.float32(total)
    return out


def downsample_64_fast(image: np.ndarray) -> np.ndarray:
    """The 64x64 blurred samples of a one-channel image (any numeric dtype)."""
    rows, cols = image.shape
    row_starts, row_weights = sample_weights(rows)
    col_starts, col_weights = sample_weights(cols)
    rows64 = _weighted_rows(np.ascontiguousarray(image), row_starts, row_weights)
    return _weighted_cols(rows64, col_starts, col_weights)
