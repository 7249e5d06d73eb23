"""Exact Hamming range search over 256-bit hashes: multi-index hashing.

Norouzi, Punjani and Fleet, "Fast Exact Search in Hamming Space with
Multi-Index Hashing" (2014).  The 256 bits are cut into ``m`` chunks of about
log2(N) bits, and each chunk position gets a table that maps chunk value to
the rows that have it.  If two hashes are within ``r = m * r' + a`` bits
(``0 <= a < m``), then one of the first ``a + 1`` chunks differs by at most
``r'`` bits or one of the others by at most ``r' - 1`` (otherwise the
distance would be at least ``m * r' + a + 1``).  So probing every key within
those radii of the query's chunks finds every hash within ``r``: the search
is exact, never approximate.  Candidates are then checked on all 256 bits.

A table is a counting sort of the rows by chunk value: ``offsets[key]`` to
``offsets[key + 1]`` is the slice of ``rows`` with that key, so a probe is two
array reads.  Everything is numpy arrays, which :mod:`hashmatch.index.snapshot`
saves and maps back into memory.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from hashmatch.index.hamming import WORDS, distance, jit, large_array

HASH_BITS = 256
#: Chunk sizes are kept between these: tiny tables waste probes, huge ones memory.
MIN_CHUNK_BITS = 8
MAX_CHUNK_BITS = 24


def chunk_layout(count: int) -> np.ndarray:
    """(start bit, width) of each chunk for an index of ``count`` hashes.

    Chunks of about log2(count) bits make the average bucket hold about one
    row: at 10M hashes that is 11 chunks of 23 bits.  All chunks have the
    same width and the last ``256 % chunks`` bits are left out of the tables
    (3 at 11 chunks): two hashes within ``r`` bits are within ``r`` bits on
    any subset of them, so the search stays exact, and one 24-bit table
    costs as much memory as two of 23 bits.
    """
    chunks = round(HASH_BITS / math.log2(max(count, 2)))
    chunks = min(max(chunks, HASH_BITS // MAX_CHUNK_BITS + 1), HASH_BITS // MIN_CHUNK_BITS)
    width = HASH_BITS // chunks
    return np.array([(c * width, width) for c in range(chunks)], dtype=np.int64)


@jit
def _chunk(hashes: np.ndarray, row: int, start: int, width: int) -> int:
    """Bits ``start .. start + width`` of a hash (bit 0 = most significant)."""
    word = start // 64
    offset = start % 64
    if offset + width <= 64:
        value = hashes[row, word] >> np.uint64(64 - offset - width)
    else:
        spill = offset + width - 64
        value = (hashes[row, word] << np.uint64(spill)) | (
            hashes[row, word + 1] >> np.uint64(64 - spill)
        )
    return int(value & np.uint64((1 << width) - 1))


@jit
def _fill_table(
    hashes: np.ndarray, start: int, width: int, offsets: np.ndarray, rows: np.ndarray
) -> None:
    """Counting sort of the rows by one chunk: ``offsets`` gets 2**width + 1 bounds."""
    count = hashes.shape[0]
    offsets[:] = 0
    keys = np.empty(count, dtype=np.uint32)
    for row in range(count):
        key = _chunk(hashes, row, start, width)
        keys[row] = key
        offsets[key + 1] += 1
    for key in range(1 << width):
        offsets[key + 1] += offsets[key]
    fill = offsets[:-1].copy()
    for row in range(count):
        key = keys[row]
        rows[fill[key]] = row
        fill[key] += 1


def table_bases(layout: np.ndarray) -> np.ndarray:
    """Where each chunk's bounds start in the concatenated ``offsets`` array."""
    sizes = (1 << layout[:, 1]) + 1
    return np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)


@jit
def _probe_radii(chunks: int, radius: int) -> np.ndarray:
    """Per-chunk probe radius for range ``radius`` (-1: skip that chunk)."""
    base = radius // chunks
    extra = radius % chunks
    radii = np.empty(chunks, dtype=np.int64)
    for c in range(chunks):
        radii[c] = base if c <= extra else base - 1
    return radii


@jit
def _bound(bounds: np.ndarray, b: int, chunk: int, offsets: np.ndarray, at: int) -> int:
    bounds[b, 0] = chunk
    bounds[b, 1] = offsets[at]
    bounds[b, 2] = offsets[at + 1]
    return b + 1


@jit
def _probe_count(layout: np.ndarray, radii: np.ndarray) -> int:
    """Buckets one query probes with these per-chunk radii."""
    probes = 0
    for c in range(layout.shape[0]):
        if radii[c] >= 0:
            width = layout[c, 1]
            probes += 1 + (width if radii[c] >= 1 else 0)
            probes += width * (width - 1) // 2 if radii[c] >= 2 else 0
    return int(probes)


@jit
def _probe_bounds(
    bounds: np.ndarray,
    b: int,
    queries: np.ndarray,
    q: int,
    layout: np.ndarray,
    bases: np.ndarray,
    offsets: np.ndarray,
    radii: np.ndarray,
) -> int:
    """Write the bounds of every bucket ``queries[q]`` probes from ``bounds[b]`` on."""
    for c in range(layout.shape[0]):
        probe = radii[c]
        if probe < 0:
            continue
        width = layout[c, 1]
        base = bases[c]
        key = _chunk(queries, q, layout[c, 0], width)
        b = _bound(bounds, b, c, offsets, base + key)
        if probe < 1:
            continue
        for i in range(width):
            key1 = key ^ (1 << i)
            b = _bound(bounds, b, c, offsets, base + key1)
            if probe < 2:
                continue
            for j in range(i + 1, width):
                b = _bound(bounds, b, c, offsets, base + (key1 ^ (1 << j)))
    return b


@jit
def search_one(
    hashes: np.ndarray,
    alive: np.ndarray,
    layout: np.ndarray,
    bases: np.ndarray,
    offsets: np.ndarray,
    rows: np.ndarray,
    query: np.ndarray,
    radius: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Every live row within ``radius`` of ``query`` (4 words), with distances.

    Probe radii of at most 2 per chunk, which covers ranges up to
    ``3 * chunks - 1`` (32 bits at 11 chunks); the caller scans instead beyond.

    The work is done in phases (all bucket bounds, then all candidate rows,
    then all distances) rather than probe by probe: each phase is a tight
    loop of independent memory reads, which the CPU overlaps, where a
    probe-by-probe loop waits for three dependent cache misses in turn.

    A row near the query comes up through several chunks: results are
    de-duplicated at the end, so concurrent queries share no state.
    """
    radii = _probe_radii(layout.shape[0], radius)
    # Phase 1: bucket bounds for every probe key of every chunk.
    probes = _probe_count(layout, radii)
    bounds = np.empty((probes, 3), dtype=np.int64)
    _probe_bounds(bounds, 0, query.reshape((1, WORDS)), 0, layout, bases, offsets, radii)
    # Phase 2: the candidate rows in those buckets.
    total = 0
    for b in range(probes):
        total += bounds[b, 2] - bounds[b, 1]
    candidates = np.empty(total, dtype=np.int64)
    n = 0
    for b in range(probes):
        c = bounds[b, 0]
        for position in range(bounds[b, 1], bounds[b, 2]):
            candidates[n] = rows[c, position]
            n += 1
    # Phase 3: full 256-bit distances.
    found_rows = np.empty(total, dtype=np.int64)
    found_distances = np.empty(total, dtype=np.int32)
    found = 0
    for row in candidates:
        bits = distance(hashes, row, query)
        if bits <= radius and alive[row]:
            found_rows[found] = row
            found_distances[found] = bits
            found += 1
    return _unique(found_rows[:found], found_distances[:found])


@jit
def _unique(rows: np.ndarray, distances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if rows.shape[0] < 2:
        return rows, distances
    order = np.argsort(rows)
    keep = np.ones(rows.shape[0], dtype=np.bool_)
    for i in range(1, rows.shape[0]):
        keep[i] = rows[order[i]] != rows[order[i - 1]]
    chosen = order[keep]
    return rows[chosen], distances[chosen]


@jit
def search_batch(
    hashes: np.ndarray,
    alive: np.ndarray,
    layout: np.ndarray,
    bases: np.ndarray,
    offsets: np.ndarray,
    rows: np.ndarray,
    queries: np.ndarray,
    radius: int,
    max_probe: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`search_one` for every row of an (n, 4) ``queries`` array in one call.

    Returns (query numbers, rows, distances), sorted by query, then row.
    Each phase runs over all the queries' probes at once, so the CPU
    overlaps far more memory reads than one query's few buckets allow.

    Every chunk's probe radius is capped at ``max_probe``: at 2 the search
    is exact (as :func:`search_one`); below that it is exact up to
    ``(max_probe + 1) * chunks - 1`` bits and, beyond, finds a pair only when
    one of its chunks is within ``max_probe`` bits.  At 0 a query reads one
    bucket per chunk instead of up to ``1 + width`` (the second stage's
    descriptor vote, where a near-complete answer is enough).
    """
    radii = _probe_radii(layout.shape[0], radius)
    for c in range(radii.shape[0]):
        radii[c] = min(radii[c], max_probe)
    per_query = _probe_count(layout, radii)
    bounds = np.empty((queries.shape[0] * per_query, 3), dtype=np.int64)
    for q in range(queries.shape[0]):
        _probe_bounds(bounds, q * per_query, queries, q, layout, bases, offsets, radii)
    total = 0
    for b in range(bounds.shape[0]):
        total += bounds[b, 2] - bounds[b, 1]
    candidates = np.empty(total, dtype=np.int64)
    owners = np.empty(total, dtype=np.int64)
    n = 0
    for b in range(bounds.shape[0]):
        c = bounds[b, 0]
        for position in range(bounds[b, 1], bounds[b, 2]):
            candidates[n] = rows[c, position]
            owners[n] = b // per_query
            n += 1
    keys = np.empty(total, dtype=np.int64)
    found_distances = np.empty(total, dtype=np.int32)
    found = 0
    stride = max(hashes.shape[0], 1)
    for n in range(total):
        row = candidates[n]
        bits = distance(hashes, row, queries[owners[n]])
        if bits <= radius and alive[row]:
            keys[found] = owners[n] * stride + row
            found_distances[found] = bits
            found += 1
    # A row can come up through several chunks: keep it once per query.
    order = np.argsort(keys[:found])
    keep = np.ones(found, dtype=np.bool_)
    for i in range(1, found):
        keep[i] = keys[order[i]] != keys[order[i - 1]]
    chosen = order[keep]
    return keys[chosen] // stride, keys[chosen] % stride, found_distances[chosen]


@dataclass
class MultiIndex:
    """A built index over an (N, 4) uint64 array of hashes.

    ``offsets`` holds every chunk's bucket bounds back to back (chunk ``c``
    from ``bases[c]``); ``rows`` is (chunks, N): the rows sorted by chunk value.
    """

    hashes: np.ndarray
    layout: np.ndarray
    bases: np.ndarray
    offsets: np.ndarray
    rows: np.ndarray

    @classmethod
    def build(cls, hashes: np.ndarray) -> MultiIndex:
        hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
        layout = chunk_layout(hashes.shape[0])
        bases = table_bases(layout)
        offsets = large_array((int(bases[-1]),), np.uint32)
        rows = large_array((layout.shape[0], hashes.shape[0]), np.uint32)

        def fill(c: int) -> None:
            start, width = int(layout[c, 0]), int(layout[c, 1])
            _fill_table(hashes, start, width, offsets[bases[c] : bases[c + 1]], rows[c])

        # Tables are independent and the kernel releases the GIL: one per core.
        with ThreadPoolExecutor(max_workers=min(len(layout), os.cpu_count() or 1)) as pool:
            list(pool.map(fill, range(layout.shape[0])))
        return cls(hashes, layout, bases, offsets, rows)

    def search(
        self, alive: np.ndarray, query: np.ndarray, radius: int
    ) -> tuple[np.ndarray, np.ndarray]:
        return search_one(
            self.hashes, alive, self.layout, self.bases, self.offsets, self.rows, query, radius
        )

    def search_batch(
        self, alive: np.ndarray, queries: np.ndarray, radius: int, max_probe: int = 2
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return search_batch(
            self.hashes,
            alive,
            self.layout,
            self.bases,
            self.offsets,
            self.rows,
            queries,
            radius,
            max_probe,
        )

    @property
    def max_radius(self) -> int:
        """Largest range :func:`search_one` answers (probe radius <= 2 per chunk)."""
        return 3 * self.layout.shape[0] - 1
