"""256-bit hashes as four 64-bit words, and their Hamming distance, compiled.

A hash is stored as four big-endian uint64 words (word 0 holds hex digits
0-15), so an (N, 4) uint64 array holds N hashes in 32 bytes each.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

WORDS = 4
#: Arrays smaller than this are ordinary numpy arrays.
HUGE_PAGE_MIN_BYTES = 16 * 1024 * 1024
jit = numba.njit(cache=True, nogil=True, error_model="numpy")


@intrinsic
def popcount64(typingctx: Any, value: Any) -> Any:
    """Set bits of a uint64, as the CPU's POPCNT instruction counts them."""
    if value != types.uint64:
        return None

    def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: Any) -> Any:
        return builder.ctpop(args[0])

    return types.uint64(types.uint64), codegen


@jit
def distance(hashes: np.ndarray, row: int, query: np.ndarray) -> int:
    """Hamming distance between ``hashes[row]`` and ``query`` (4 words each)."""
    return int(
        popcount64(hashes[row, 0] ^ query[0])
        + popcount64(hashes[row, 1] ^ query[1])
        + popcount64(hashes[row, 2] ^ query[2])
        + popcount64(hashes[row, 3] ^ query[3])
    )


def words_from_bytes(raw: bytes | np.ndarray) -> np.ndarray:
    """32-byte hashes (bytes, or an (N, 32) uint8 array) as (N, 4) uint64 words."""
    data = np.frombuffer(raw, dtype=np.uint8) if isinstance(raw, bytes) else raw
    return np.ascontiguousarray(data.reshape(-1, 32)).view(">u8").astype(np.uint64)


def words_from_hex(values: list[str]) -> np.ndarray:
    """Hex strings (64 digits each, already validated) as (N, 4) uint64 words."""
    return words_from_bytes(bytes.fromhex("".join(values))) if values else empty()


def hex_from_words(words: np.ndarray) -> list[str]:
    raw = np.ascontiguousarray(words, dtype=np.uint64).astype(">u8").tobytes()
    return [raw[i : i + 32].hex() for i in range(0, len(raw), 32)]


def large_array(shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """A zeroed array in memory the kernel may back with 2 MiB pages.

    Index probes land at random in tables of tens of megabytes; with 4 KiB
    pages nearly every probe also misses the TLB, and page walks, unlike
    cache misses, barely overlap.  Where transparent huge pages are on
    "madvise", asking for them here makes those walks rare.
    """
    size = max(int(np.prod(shape)) * np.dtype(dtype).itemsize, 1)
    if size < HUGE_PAGE_MIN_BYTES:
        return np.zeros(shape, dtype=dtype)
    buffer = mmap.mmap(-1, size)
    with contextlib.suppress(AttributeError, OSError):  # not every platform has it
        buffer.madvise(mmap.MADV_HUGEPAGE)
    return np.frombuffer(buffer, dtype=dtype).reshape(shape)


def release_free_memory() -> None:
    """Hand memory freed by Python back to the operating system (glibc keeps
    it otherwise): after an index is built from a million database rows, the
    rows' small objects are gone but their pages would stay in the process."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def empty() -> np.ndarray:
    return np.zeros((0, WORDS), dtype=np.uint64)


@jit
def scan(
    hashes: np.ndarray, alive: np.ndarray, query: np.ndarray, radius: int
) -> tuple[np.ndarray, np.ndarray]:
    """Brute force: every live row within ``radius`` of ``query``, with its distance."""
    rows = []
    distances = []
    for row in range(hashes.shape[0]):
        if alive[row]:
            found = distance(hashes, row, query)
            if found <= radius:
                rows.append(row)
                distances.append(found)
    return np.array(rows, dtype=np.int64), np.array(distances, dtype=np.int32)


@jit
def scan_batch(
    hashes: np.ndarray, alive: np.ndarray, queries: np.ndarray, radius: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`scan` for every row of ``queries``: (query numbers, rows, distances)."""
    numbers = []
    rows = []
    distances = []
    for number in range(queries.shape[0]):
        query = queries[number]
        for row in range(hashes.shape[0]):
            if alive[row]:
                found = distance(hashes, row, query)
                if found <= radius:
                    numbers.append(number)
                    rows.append(row)
                    distances.append(found)
    return (
        np.array(numbers, dtype=np.int64),
        np.array(rows, dtype=np.int64),
        np.array(distances, dtype=np.int32),
    )
