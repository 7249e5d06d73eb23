"""PDQ hashes of pixel arrays: the library surface over the compiled kernel.

>>> import numpy as np
>>> from hashmatch.pdq import pdq_from_rgb
>>> pixels = np.zeros((32, 32, 3), dtype=np.uint8)
>>> pdq_from_rgb(pixels).quality
0

Each thread keeps its own pair of full-size float buffers (the transposed
luma and one scratch image), so hashing many images does not allocate and
fault in megabytes of fresh memory per image.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from hashmatch.pdq import kernel
from hashmatch.pdq.fast import downsample_64_fast
from hashmatch.pdq.hash256 import Hash256

#: Below this quality a PDQ hash is kept but must not be used for matching.
MIN_MATCH_QUALITY = 50

#: The dihedral transforms in the order ``pdqhash.compute_dihedral`` returns them.
DIHEDRAL_TRANSFORMS = (
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flipx",
    "flipy",
    "flip_plus1",
    "flip_minus1",
)


@dataclass(frozen=True)
class PdqResult:
    """A PDQ hash and its quality (0..100)."""

    hash: Hash256
    quality: int

    @property
    def low_quality(self) -> bool:
        """True when the image is too flat for the hash to be matched on."""
        return self.quality < MIN_MATCH_QUALITY


@dataclass(frozen=True)
class PdqDihedralResult:
    """The PDQ hashes of the 8 rotations and flips of one image, one quality."""

    hashes: tuple[Hash256, ...]
    quality: int

    @property
    def low_quality(self) -> bool:
        return self.quality < MIN_MATCH_QUALITY


class _Buffers(threading.local):
    def __init__(self) -> None:
        self.luma = np.empty(0, dtype=np.float32)
        self.scratch = np.empty(0, dtype=np.float32)

    def transposed_luma(self, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
        size = rows * cols
        if self.luma.shape[0] < size:
            self.luma = np.empty(size, dtype=np.float32)
            self.scratch = np.empty(size, dtype=np.float32)
        return self.luma[:size].reshape((cols, rows)), self.scratch


_buffers = _Buffers()


def _dct_of_rgb(rgb: np.ndarray, dihedral: bool) -> tuple[np.ndarray, int]:
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4) or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 array, got {rgb.shape} {rgb.dtype}")
    rgb = np.ascontiguousarray(rgb)
    luma_t, scratch = _buffers.transposed_luma(rgb.shape[0], rgb.shape[1])
    kernel.transposed_luma_from_rgb(rgb, luma_t)
    return kernel.dct_and_quality(luma_t, scratch, kernel.DCT_MATRIX, dihedral)


def _dct_of_luma(luma: np.ndarray, fast: bool, dihedral: bool) -> tuple[np.ndarray, int]:
    if luma.ndim != 2:
        raise ValueError(f"expected a 2-D luma array, got shape {luma.shape}")
    luma = np.ascontiguousarray(luma)
    if fast:
        return _dct_fast(luma)
    luma_t, scratch = _buffers.transposed_luma(luma.shape[0], luma.shape[1])
    kernel.transposed_luma_from_gray(luma, luma_t)
    return kernel.dct_and_quality(luma_t, scratch, kernel.DCT_MATRIX, dihedral)


def _dct_fast(luma: np.ndarray) -> tuple[np.ndarray, int]:
    rows, cols = luma.shape
    if rows < kernel.MIN_HASHABLE_DIM or cols < kernel.MIN_HASHABLE_DIM:
        return np.zeros((kernel.DCT_DIM, kernel.DCT_DIM), dtype=np.float32), 0
    image64 = downsample_64_fast(luma)
    return kernel.dct_16x16(image64, kernel.DCT_MATRIX), kernel.quality_metric(image64)


def _hash(dct: np.ndarray) -> Hash256:
    # An image too small to hash has an all-zero DCT, hence all bits clear,
    # as the reference returns.
    return Hash256(kernel.bits_from_dct(dct).tobytes())


def _dihedral(dct: np.ndarray, quality: int) -> PdqDihedralResult:
    return PdqDihedralResult(tuple(_hash(variant) for variant in dihedral_dcts(dct)), quality)


def dihedral_dcts(dct: np.ndarray) -> list[np.ndarray]:
    """The 16x16 DCTs of the 8 rotations and flips, from the original's DCT.

    Rotating or flipping the image only transposes the DCT and negates
    coefficients of odd frequency, so no pixel is touched (sign changes are
    exact in floating point).
    """
    index = np.arange(kernel.DCT_DIM)
    odd = (index & 1).astype(bool)
    row_odd = odd[:, None]
    col_odd = odd[None, :]
    checker = row_odd ^ col_odd
    return [
        dct,
        np.where(col_odd, dct, -dct).T,
        np.where(checker, -dct, dct),
        np.where(row_odd, dct, -dct).T,
        np.where(row_odd, dct, -dct),
        np.where(col_odd, dct, -dct),
        dct.T,
        np.where(checker, -dct, dct).T,
    ]


def pdq_from_rgb(rgb: np.ndarray) -> PdqResult:
    """PDQ of an (H, W, 3) uint8 RGB array, identical to ``pdqhash.compute``.

    An (H, W, 4) array is read as RGBX (the fourth channel is ignored).
    """
    dct, quality = _dct_of_rgb(rgb, dihedral=False)
    return PdqResult(_hash(dct), quality)


def pdq_dihedral_from_rgb(rgb: np.ndarray) -> PdqDihedralResult:
    """The 8 dihedral PDQ hashes, identical to ``pdqhash.compute_dihedral``."""
    return _dihedral(*_dct_of_rgb(rgb, dihedral=True))


def pdq_from_luma(luma: np.ndarray, *, fast: bool = False) -> PdqResult:
    """PDQ of a one-channel image (uint8 grey or float luma, used as given).

    ``fast`` blurs with one weighted sum per sample (:mod:`hashmatch.pdq.fast`)
    instead of the reference's four float32 passes: a few times quicker, and
    the odd bit away from the reference.
    """
    dct, quality = _dct_of_luma(luma, fast, dihedral=False)
    return PdqResult(_hash(dct), quality)


def pdq_dihedral_from_luma(luma: np.ndarray, *, fast: bool = False) -> PdqDihedralResult:
    """The 8 dihedral PDQ hashes of a one-channel image (``fast`` as above)."""
    return _dihedral(*_dct_of_luma(luma, fast, dihedral=True))
