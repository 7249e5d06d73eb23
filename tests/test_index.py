"""Exactness of the Hamming index, proven against brute force."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashmatch.index import ExactIndex, HammingIndex, MultiIndex
from hashmatch.index import live as live_module
from hashmatch.index.hamming import hex_from_words, words_from_hex
from hashmatch.index.mih import chunk_layout


def random_hashes(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, 2**64, size=(count, 4), dtype=np.uint64)


def flipped(rng: np.random.Generator, base: np.ndarray, bits: int) -> np.ndarray:
    out = base.copy()
    for bit in rng.choice(256, size=bits, replace=False):
        out[bit // 64] ^= np.uint64(1) << np.uint64(63 - bit % 64)
    return out


def brute_force(hashes: np.ndarray, query: np.ndarray, radius: int) -> dict[int, int]:
    xor = np.bitwise_xor(hashes, query)
    distances = np.bitwise_count(xor).sum(axis=1)
    return {int(row): int(d) for row, d in enumerate(distances) if d <= radius}


@pytest.fixture(scope="module")
def clustered() -> tuple[np.ndarray, np.ndarray]:
    """30k hashes: 300 centres with 99 neighbours each at distances 0..40, plus
    duplicates; queries near centres and at random."""
    rng = np.random.default_rng(11)
    centres = random_hashes(rng, 300)
    rows = []
    for centre in centres:
        rows.append(centre)
        rows.extend(flipped(rng, centre, int(rng.integers(0, 41))) for _ in range(94))
        rows.extend([centre] * 5)  # exact duplicates
    hashes = np.array(rows, dtype=np.uint64)
    queries = np.array(
        [flipped(rng, centres[i % 300], int(rng.integers(0, 33))) for i in range(150)]
        + list(random_hashes(rng, 50)),
        dtype=np.uint64,
    )
    return hashes, queries


@pytest.mark.parametrize("radius", [0, 1, 15, 31, 32])
def test_multi_index_equals_brute_force(
    clustered: tuple[np.ndarray, np.ndarray], radius: int
) -> None:
    hashes, queries = clustered
    index = MultiIndex.build(hashes)
    alive = np.ones(hashes.shape[0], np.uint8)
    for query in queries:
        rows, distances = index.search(alive, query, radius)
        assert dict(zip(rows.tolist(), distances.tolist(), strict=True)) == brute_force(
            hashes, query, radius
        )


def test_boundary_distances_31_and_32() -> None:
    rng = np.random.default_rng(5)
    base = random_hashes(rng, 1)[0]
    at_31 = [flipped(rng, base, 31) for _ in range(200)]
    at_32 = [flipped(rng, base, 32) for _ in range(200)]
    hashes = np.array(at_31 + at_32 + list(random_hashes(rng, 30_000)), dtype=np.uint64)
    index = HammingIndex(np.arange(hashes.shape[0]), hashes)
    ids, distances = index.search(base, 31)
    assert sorted(ids.tolist()) == list(range(200))
    assert set(distances.tolist()) == {31}
    ids, _ = index.search(base, 32)
    assert sorted(ids.tolist()) == list(range(400))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    count=st.sampled_from([1, 50, 25_000]),
    radius=st.integers(0, 40),
)
def test_live_index_equals_brute_force(seed: int, count: int, radius: int) -> None:
    rng = np.random.default_rng(seed)
    hashes = random_hashes(rng, count)
    index = HammingIndex(np.arange(count), hashes)
    for _ in range(5):
        query = flipped(rng, hashes[int(rng.integers(0, count))], int(rng.integers(0, radius + 1)))
        ids, distances = index.search(query, radius)
        assert dict(zip(ids.tolist(), distances.tolist(), strict=True)) == brute_force(
            hashes, query, radius
        )


def test_added_hash_is_matchable_at_once_and_removal_is_immediate() -> None:
    rng = np.random.default_rng(2)
    hashes = random_hashes(rng, 30_000)
    index = HammingIndex(np.arange(30_000), hashes)
    new = random_hashes(rng, 1)
    index.add(np.array([99_999]), new)
    assert 99_999 in index.search(flipped(rng, new[0], 10), 31)[0]
    index.remove(np.array([99_999, 5]))
    assert 99_999 not in index.search(new[0], 31)[0]
    assert 5 not in index.search(hashes[5], 31)[0]
    assert 6 in index.search(hashes[6], 0)[0]
    assert len(index) == 30_000 - 1


def test_background_merge_keeps_every_change(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_module, "MIN_TABLE_SIZE", 100)
    rng = np.random.default_rng(3)
    index = HammingIndex()
    hashes = random_hashes(rng, 1000)
    for start in range(0, 1000, 10):  # triggers several merges
        index.add(np.arange(start, start + 10), hashes[start : start + 10])
        index.remove(np.array([start]))
    index.wait_for_merge()
    expected = {i for i in range(1000) if i % 10}
    found = {int(i) for row in hashes for i in index.search(row, 0)[0]}
    assert found == expected
    assert index.main[2] is not None  # merged into a main part with tables


def test_adds_made_during_a_merge_are_merged_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every add lands while the first merge is held: the delta it leaves
    behind is past the threshold, so the merge starts the next one itself."""
    monkeypatch.setattr(live_module, "MIN_TABLE_SIZE", 100)
    build = live_module._main_part
    release = threading.Event()
    first = threading.Event()

    def held_build(ids: np.ndarray, hashes: np.ndarray) -> object:
        if not first.is_set():
            first.set()
            release.wait(timeout=30)
        return build(ids, hashes)

    monkeypatch.setattr(live_module, "_main_part", held_build)
    hashes = random_hashes(np.random.default_rng(4), 1000)
    index = HammingIndex()
    index.add(np.arange(100), hashes[:100])
    assert first.wait(timeout=30)  # the first merge is building, held
    index.add(np.arange(100, 1000), hashes[100:])
    release.set()
    index.wait_for_merge()
    ids, _, tables = index.main
    assert ids.shape[0] == 1000
    assert tables is not None
    assert index.compact


def test_duplicate_hashes_under_one_id_and_many_ids() -> None:
    hashes = words_from_hex(["ab" * 32] * 3)
    index = HammingIndex()
    index.add(np.array([1, 2, 2]), hashes)
    ids, _ = index.search(hashes[0], 0)
    assert sorted(ids.tolist()) == [1, 2, 2]
    index.remove(np.array([2]))
    assert index.search(hashes[0], 0)[0].tolist() == [1]


def test_chunk_layout_covers_nearly_all_bits() -> None:
    for count in (1, 1000, 1_000_000, 10_000_000):
        layout = chunk_layout(count)
        assert 256 - len(layout) < layout[:, 1].sum() <= 256  # fewer bits left out than chunks
        assert (np.diff(layout[:, 0]) == layout[:-1, 1]).all()
    assert chunk_layout(10_000_000).tolist() == [[23 * c, 23] for c in range(11)]


def test_hex_round_trip() -> None:
    values = ["0" * 63 + "1", "f" * 64, "8" + "0" * 63]
    assert hex_from_words(words_from_hex(values)) == values


def test_exact_index() -> None:
    index = ExactIndex()
    index.add([(1, "a" * 32), (2, "a" * 32), (3, "b" * 32)])
    assert index.search("a" * 32) == {1, 2}
    index.remove([1, 3])
    assert index.search("a" * 32) == {2}
    assert index.search("b" * 32) == set()
    assert len(index) == 1


def test_batch_queries_answer_each_query() -> None:
    rng = np.random.default_rng(8)
    hashes = random_hashes(rng, 25_000)
    index = HammingIndex(np.arange(25_000), hashes)
    queries = np.array(
        [flipped(rng, hashes[i], 12) for i in (3, 4, 5)] + list(random_hashes(rng, 2))
    )
    answers = index.search_many(queries, 31)
    assert [ids.tolist() for ids, _ in answers] == [[3], [4], [5], [], []]
