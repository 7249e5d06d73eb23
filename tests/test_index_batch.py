"""Batch range search: many queries in one compiled call, proven against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from hashmatch.index import HammingIndex, MultiIndex
from hashmatch.index import live as live_module


def random_hashes(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, 2**64, size=(count, 4), dtype=np.uint64)


def flipped(rng: np.random.Generator, base: np.ndarray, bits: int) -> np.ndarray:
    out = base.copy()
    for bit in rng.choice(256, size=bits, replace=False):
        out[bit // 64] ^= np.uint64(1) << np.uint64(63 - bit % 64)
    return out


def brute_force(hashes: np.ndarray, queries: np.ndarray, radius: int) -> set[tuple[int, int, int]]:
    """(query number, row, distance) of every pair within ``radius``."""
    found = set()
    for number, query in enumerate(queries):
        distances = np.bitwise_count(np.bitwise_xor(hashes, query)).sum(axis=1)
        found |= {(number, int(r), int(distances[r])) for r in np.flatnonzero(distances <= radius)}
    return found


@pytest.fixture(scope="module")
def near() -> tuple[np.ndarray, np.ndarray]:
    """25k hashes in clusters (neighbours 0..24 bits out, some duplicated) and
    queries near the centres or at random."""
    rng = np.random.default_rng(5)
    centres = random_hashes(rng, 250)
    rows = []
    for centre in centres:
        rows.extend(flipped(rng, centre, int(rng.integers(0, 25))) for _ in range(98))
        rows.extend([centre] * 2)
    queries = [flipped(rng, centres[i], int(rng.integers(0, 9))) for i in range(60)]
    return np.array(rows, np.uint64), np.array(queries + list(random_hashes(rng, 20)), np.uint64)


def as_set(numbers: np.ndarray, rows: np.ndarray, distances: np.ndarray) -> set[tuple[int, ...]]:
    triples = list(zip(numbers.tolist(), rows.tolist(), distances.tolist(), strict=True))
    assert len(triples) == len(set(triples)), "a row came back twice for one query"
    return set(triples)


@pytest.mark.parametrize("radius", [0, 8, 16, 31])
def test_exact_batch_equals_brute_force(near: tuple[np.ndarray, np.ndarray], radius: int) -> None:
    hashes, queries = near
    index = MultiIndex.build(hashes)
    alive = np.ones(hashes.shape[0], np.uint8)
    numbers, rows, distances = index.search_batch(alive, queries, radius)
    assert as_set(numbers, rows, distances) == brute_force(hashes, queries, radius)
    assert list(numbers) == sorted(numbers)


def test_chunk_exact_probes_are_exact_below_the_chunk_count_and_a_subset_beyond(
    near: tuple[np.ndarray, np.ndarray],
) -> None:
    """``max_probe=0``: exact up to chunks - 1 bits; beyond, only true pairs, most of them,
    and never a pair that differs in every chunk."""
    hashes, queries = near
    chunks = MultiIndex.build(hashes).layout
    # One bit off in every chunk of the first query: ``chunks`` bits away.
    unreachable = queries[0].copy()
    for start in chunks[:, 0]:
        unreachable[start // 64] ^= np.uint64(1) << np.uint64(63 - start % 64)
    hashes = np.vstack((hashes, unreachable))
    index = MultiIndex.build(hashes)
    alive = np.ones(hashes.shape[0], np.uint8)
    exact_to = chunks.shape[0] - 1
    within = as_set(*index.search_batch(alive, queries, exact_to, max_probe=0))
    assert within == brute_force(hashes, queries, exact_to)
    partial = as_set(*index.search_batch(alive, queries, 24, max_probe=0))
    everything = brute_force(hashes, queries, 24)
    last = (0, hashes.shape[0] - 1, chunks.shape[0])
    assert last in everything
    assert partial <= everything - {last}
    assert len(partial) >= 0.9 * len(everything)


def test_live_index_batch_covers_main_part_delta_and_removals(
    near: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_module, "MIN_TABLE_SIZE", 1000)
    hashes, queries = near
    main, extra = hashes[:20_000], hashes[20_000:]
    index = HammingIndex(np.arange(20_000), main)
    index.add(np.arange(20_000, hashes.shape[0]), extra)  # a delta under the merge size
    gone = np.arange(0, hashes.shape[0], 7)
    index.remove(gone)
    numbers, ids, distances = index.search_batch(queries, 16)
    expected = {t for t in brute_force(hashes, queries, 16) if t[1] % 7}
    assert as_set(numbers, ids, distances) == expected
    singles = {
        (number, int(i), int(d))
        for number, query in enumerate(queries)
        for i, d in zip(*index.search(query, 16), strict=True)
    }
    assert singles == expected


def test_empty_and_single_query_batches() -> None:
    index = HammingIndex()
    numbers, ids, distances = index.search_batch(np.zeros((0, 4), np.uint64), 10)
    assert numbers.shape == ids.shape == distances.shape == (0,)
    index.add(np.array([3]), np.zeros((1, 4), np.uint64))
    numbers, ids, distances = index.search_batch(np.zeros(4, np.uint64), 0)
    assert (numbers.tolist(), ids.tolist(), distances.tolist()) == ([0], [3], [0])
