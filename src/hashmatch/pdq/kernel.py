"""The PDQ algorithm, compiled with numba, bit-identical to the reference C++.

PDQ (Meta's perceptual image hash) turns a luma image into 256 bits:

    luma ──► Jarosz box filter (rows, cols, rows, cols) ──► decimate to 64x64
         ──► quality from the 64x64 gradients
         ──► 16x16 DCT ──► bit set where a coefficient is above the median

Bit-identity with the reference (``pdqhash`` / facebook/ThreatExchange ``pdq/cpp``)
depends on doing every floating-point operation in the same precision and the
same order, so this module follows these rules, which are the reason for its
shape:

* luma is ``0.299 R + 0.587 G + 0.114 B`` summed left to right in float64 and
  rounded once to float32 (what the ``pdqhash`` binding feeds the C++ code;
  see :func:`_luma` for the equivalent, cheaper way it is computed here);
* each box-filter line keeps a float32 running sum updated ``+= in[right]``
  then ``-= in[left]`` and divides by the window's float count;
* the DCT accumulates float32 products one at a time in index order;
* the median is Torben's algorithm, the quality metric truncates float32.

Lines of a box-filter pass are independent, so they are computed side by side
(SIMD across lines) without changing a single rounding.  The last two passes
only keep the 64 rows and columns that decimation samples: every running sum is
still computed over the whole line, so the values are the same.

Nothing here uses ``fastmath``: reassociating or fusing multiply-adds would
change the float rounding and flip bits.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from hashmatch.pdq.transpose import transpose_8x8

DOWNSAMPLE_DIM = 64
DCT_DIM = 16
MIN_HASHABLE_DIM = 5
HASH_BITS = 256

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


def _dct_matrix() -> np.ndarray:
    """The 16x64 DCT-II matrix without the DC row, as the reference builds it."""
    scale = np.float32(math.sqrt(2.0 / DOWNSAMPLE_DIM))
    matrix = np.empty((DCT_DIM, DOWNSAMPLE_DIM), dtype=np.float32)
    for i in range(DCT_DIM):
        for j in range(DOWNSAMPLE_DIM):
            angle = (math.pi / 2.0 / DOWNSAMPLE_DIM) * (i + 1) * (2 * j + 1)
            matrix[i, j] = np.float32(float(scale) * math.cos(angle))
    return matrix


DCT_MATRIX = _dct_matrix()


@_jit
def window_size(old_dim: int, new_dim: int) -> int:
    """Jarosz window: the full width of a box that covers one output sample."""
    return (old_dim + 2 * new_dim - 1) // (2 * new_dim)


@_jit
def sample_indices(length: int) -> np.ndarray:
    """The 64 input indices decimation reads (repeated when length < 64)."""
    out = np.empty(DOWNSAMPLE_DIM, dtype=np.int64)
    for i in range(DOWNSAMPLE_DIM):
        out[i] = int(((i + 0.5) * length) / DOWNSAMPLE_DIM)
    return out


# Results are written out STRIP rows at a time, as 8x8 blocks transposed in
# registers; a strip of TILE columns (32 KiB) stays in L1 cache meanwhile.
# TILE covers a typical photo's width in one go: fewer, longer inner loops
# measured faster than narrower tiles.
STRIP = 8
TILE = 1024


@_jit
def _flush_strip(
    strip: np.ndarray, count: int, width: int, out: np.ndarray, left: int, top: int
) -> None:
    """Write ``strip[:count, :width]`` transposed into ``out`` at (left, top).

    This is how every stage hands the next one its input in the layout where
    the next stage's lines run down columns.
    """
    if count == STRIP:
        full = width - width % STRIP
        for j in range(0, full, STRIP):
            transpose_8x8(strip, 0, j, out, left + j, top)
        for j in range(full, width):
            for k in range(STRIP):
                out[left + j, top + k] = strip[k, j]
    else:
        for k in range(count):
            for j in range(width):
                out[left + j, top + k] = strip[k, j]


@_jit
def _luma(red: np.uint8, green: np.uint8, blue: np.uint8) -> np.float32:
    """The pdqhash binding's luma, ``float32(0.299 R + 0.587 G + 0.114 B)``
    summed in float64, computed as the float32 quotient ``(299 R + 587 G +
    114 B) / 1000``.

    Both are the float32 nearest to the same rational: its float64 error
    (~1e-13) is far below its distance to any float32 rounding boundary
    (>= 8 / (1000 * 2**24) relative), and IEEE division rounds correctly.
    The weighted sum is an integer below 2**24, so float32 holds it exactly.
    tests/test_pdq_kernel.py checks all 2**24 colours.  float32 arithmetic
    vectorises twice as wide as float64.
    """
    weighted = (
        np.float32(red) * np.float32(299.0)
        + np.float32(green) * np.float32(587.0)
        + np.float32(blue) * np.float32(114.0)
    )
    return weighted / np.float32(1000.0)


@_jit
def transposed_luma_from_rgb(pixels: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out`` (W x H) with the luma of a C-contiguous (H, W, 3 or 4) uint8 image.

    Four channels is how Pillow keeps RGB in memory (RGBX), so the pixels can
    be read where Pillow decoded them; the fourth byte is ignored.
    """
    rows, cols, channels = pixels.shape
    flat = pixels.reshape((rows, cols * channels))
    strip = np.empty((STRIP, TILE), dtype=np.float32)
    for left in range(0, cols, TILE):
        width = min(TILE, cols - left)
        for top in range(0, rows, STRIP):
            count = min(STRIP, rows - top)
            for k in range(count):
                # Slicing first, and a constant stride in each branch, is what
                # lets numba vectorise the interleaved reads.
                row = flat[top + k, channels * left : channels * (left + width)]
                line = strip[k]
                if channels == 4:
                    for j in range(width):
                        line[j] = _luma(row[4 * j], row[4 * j + 1], row[4 * j + 2])
                else:
                    for j in range(width):
                        line[j] = _luma(row[3 * j], row[3 * j + 1], row[3 * j + 2])
            _flush_strip(strip, count, width, out, left, top)


@_jit
def transposed_luma_from_gray(gray: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out`` (W x H) with a one-channel image (any numeric dtype) as float32."""
    rows, cols = gray.shape
    strip = np.empty((STRIP, TILE), dtype=np.float32)
    for left in range(0, cols, TILE):
        width = min(TILE, cols - left)
        for top in range(0, rows, STRIP):
            count = min(STRIP, rows - top)
            for k in range(count):
                for j in range(width):
                    strip[k, j] = np.float32(gray[top + k, left + j])
            _flush_strip(strip, count, width, out, left, top)


@_jit
def _box_phases(length: int, window: int) -> tuple[int, int, int, int]:
    half = (window + 2) // 2
    return half - 1, window - half + 1, length - window, half - 1


@_jit
def box_filter_down_columns(
    src: np.ndarray, window: int, keep_rows: np.ndarray, out: np.ndarray
) -> None:
    """Box-filter every column of ``src``; write the kept output rows transposed.

    ``out`` is (columns of src) x len(keep_rows); ``keep_rows`` is sorted.
    Columns are taken TILE at a time and their running sums advance together
    one row at a time, so the inner loops vectorise while each column's sum
    sees exactly the reference's sequence of float32 additions.
    """
    cols = src.shape[1]
    sums = np.empty(TILE, dtype=np.float32)
    strip = np.empty((STRIP, TILE), dtype=np.float32)
    for left in range(0, cols, TILE):
        _box_filter_tile(src, window, keep_rows, out, left, min(TILE, cols - left), sums, strip)


@_jit
def _box_filter_tile(
    src: np.ndarray,
    window: int,
    keep_rows: np.ndarray,
    out: np.ndarray,
    left: int,
    width: int,
    sums: np.ndarray,
    strip: np.ndarray,
) -> None:
    rows = src.shape[0]
    sums[:] = 0.0
    phase1, phase2, phase3, phase4 = _box_phases(rows, window)
    count = 0
    right = 0
    trailing = 0
    filled = 0
    kept = 0
    for _ in range(phase1):
        incoming = src[right, left : left + width]
        for j in range(width):
            sums[j] += incoming[j]
        count += 1
        right += 1
    for written in range(phase2 + phase3 + phase4):
        if written < phase2:
            count += 1
            incoming = src[right, left : left + width]
            for j in range(width):
                sums[j] += incoming[j]
            right += 1
        elif written < phase2 + phase3:
            incoming = src[right, left : left + width]
            outgoing = src[trailing, left : left + width]
            for j in range(width):
                sums[j] += incoming[j]
                sums[j] -= outgoing[j]
            right += 1
            trailing += 1
        else:
            count -= 1
            outgoing = src[trailing, left : left + width]
            for j in range(width):
                sums[j] -= outgoing[j]
            trailing += 1
        if kept < keep_rows.shape[0] and keep_rows[kept] == written:
            divisor = np.float32(count)
            line = strip[filled]
            for j in range(width):
                line[j] = sums[j] / divisor
            kept += 1
            filled += 1
            if filled == STRIP:
                _flush_strip(strip, filled, width, out, left, kept - filled)
                filled = 0
    if filled:
        _flush_strip(strip, filled, width, out, left, kept - filled)


@_jit
def downsample_64(luma_t: np.ndarray, scratch: np.ndarray, blur_64x64: bool) -> np.ndarray:
    """Blur with two Jarosz passes per axis and decimate to 64x64.

    ``luma_t`` is the transposed luma (W x H); it is overwritten.  ``scratch``
    is a flat float32 buffer of at least W * H values.  The reference's single
    hash takes a 64x64 image as it is, while its dihedral hashes blur it
    anyway: ``blur_64x64`` says which of the two to reproduce.
    """
    cols, rows = luma_t.shape
    if rows == DOWNSAMPLE_DIM and cols == DOWNSAMPLE_DIM and not blur_64x64:
        return luma_t.T.copy()
    along_rows = window_size(cols, DOWNSAMPLE_DIM)
    along_cols = window_size(rows, DOWNSAMPLE_DIM)
    # Only the sampled columns of the third pass and the sampled rows of the
    # fourth are ever read, so only those are written (sample indices repeat
    # when a side is under 64, hence unique-then-gather).
    row_samples = sample_indices(rows)
    col_samples = sample_indices(cols)
    unique_rows = np.unique(row_samples)
    unique_cols = np.unique(col_samples)
    first = scratch[: rows * cols].reshape((rows, cols))
    box_filter_down_columns(luma_t, along_rows, np.arange(cols), first)
    second_t = luma_t
    box_filter_down_columns(first, along_cols, np.arange(rows), second_t)
    third = np.empty((rows, unique_cols.shape[0]), dtype=np.float32)
    box_filter_down_columns(second_t, along_rows, unique_cols, third)
    fourth_t = np.empty((unique_cols.shape[0], unique_rows.shape[0]), dtype=np.float32)
    box_filter_down_columns(third, along_cols, unique_rows, fourth_t)
    out = np.empty((DOWNSAMPLE_DIM, DOWNSAMPLE_DIM), dtype=np.float32)
    for i in range(DOWNSAMPLE_DIM):
        r = np.searchsorted(unique_rows, row_samples[i])
        for j in range(DOWNSAMPLE_DIM):
            out[i, j] = fourth_t[np.searchsorted(unique_cols, col_samples[j]), r]
    return out


@_jit
def quality_metric(image64: np.ndarray) -> int:
    """Sum of truncated vertical and horizontal gradients, scaled to 0..100."""
    hundred = np.float32(100.0)
    full = np.float32(255.0)
    gradient_sum = 0
    for i in range(DOWNSAMPLE_DIM - 1):
        for j in range(DOWNSAMPLE_DIM):
            d = ((image64[i, j] - image64[i + 1, j]) * hundred) / full
            gradient_sum += abs(int(d))
    for i in range(DOWNSAMPLE_DIM):
        for j in range(DOWNSAMPLE_DIM - 1):
            d = ((image64[i, j] - image64[i, j + 1]) * hundred) / full
            gradient_sum += abs(int(d))
    return min(gradient_sum // 90, 100)


@_jit
def dct_16x16(image64: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """D * A * D^T, each sum accumulated in float32 in index order."""
    # k runs outside j so that the 64 sums of a row advance together; each
    # sum still takes its terms in k order.
    partial = np.zeros((DCT_DIM, DOWNSAMPLE_DIM), dtype=np.float32)
    for i in range(DCT_DIM):
        for k in range(DOWNSAMPLE_DIM):
            weight = matrix[i, k]
            for j in range(DOWNSAMPLE_DIM):
                partial[i, j] += weight * image64[k, j]
    out = np.empty((DCT_DIM, DCT_DIM), dtype=np.float32)
    for i in range(DCT_DIM):
        for j in range(DCT_DIM):
            total = np.float32(0.0)
            for k in range(DOWNSAMPLE_DIM):
                total += partial[i, k] * matrix[j, k]
            out[i, j] = total
    return out


@_jit
def torben_median(values: np.ndarray) -> np.float32:
    """Torben Mogensen's median: the reference's tie and rounding behaviour."""
    n = values.shape[0]
    two = np.float32(2.0)
    low = values[0]
    high = values[0]
    for i in range(1, n):
        low = min(low, values[i])
        high = max(high, values[i])
    half = (n + 1) // 2
    while True:
        guess = (low + high) / two
        less = 0
        greater = 0
        equal = 0
        max_below = low
        min_above = high
        for i in range(n):
            v = values[i]
            if v < guess:
                less += 1
                if v > max_below:
                    max_below = v
            elif v > guess:
                greater += 1
                if v < min_above:
                    min_above = v
            else:
                equal += 1
        if less <= half and greater <= half:
            break
        if less > greater:
            high = max_below
        else:
            low = min_above
    if less >= half:
        return max_below
    if less + equal >= half:
        return guess
    return min_above


@_jit
def bits_from_dct(dct: np.ndarray) -> np.ndarray:
    """256 bits as 32 bytes, big-endian: byte 0 holds bits 255..248.

    Bit ``16 * i + j`` is set when coefficient (i, j) is above the median; the
    byte order is that of the 64-digit hex strings used by ThreatExchange.
    """
    flat = dct.ravel()
    median = torben_median(flat)
    out = np.zeros(HASH_BITS // 8, dtype=np.uint8)
    for bit in range(HASH_BITS):
        if flat[bit] > median:
            out[31 - bit // 8] |= np.uint8(1 << (bit % 8))
    return out


@_jit
def dct_and_quality(
    luma_t: np.ndarray, scratch: np.ndarray, matrix: np.ndarray, blur_64x64: bool
) -> tuple[np.ndarray, int]:
    """The 16x16 DCT and quality of a transposed luma image (zeros, 0 if too small)."""
    cols, rows = luma_t.shape
    if rows < MIN_HASHABLE_DIM or cols < MIN_HASHABLE_DIM:
        return np.zeros((DCT_DIM, DCT_DIM), dtype=np.float32), 0
    image64 = downsample_64(luma_t, scratch, blur_64x64)
    return dct_16x16(image64, matrix), quality_metric(image64)
