"""Search during concurrent merges: a query never misses a hash that was
added before it started and not removed, wherever the hash sits (delta or
main part) when a background merge swaps them."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashmatch.index import HammingIndex
from hashmatch.index import live as live_module

#: (add this many hashes, remove this many of the earlier ones) per step.
steps = st.lists(st.tuples(st.integers(1, 60), st.integers(0, 20)), min_size=5, max_size=30)


@pytest.fixture(autouse=True)
def _merge_often(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Small merges, many of them, and threads switching as often as Python
    lets them, so that searches land inside merges."""
    monkeypatch.setattr(live_module, "MIN_TABLE_SIZE", 8)
    monkeypatch.setattr(live_module, "MERGE_SHARE", 0.05)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@settings(max_examples=40, deadline=None)
@given(steps=steps, seed=st.integers(0, 2**32 - 1))
def test_search_never_misses_during_merges(steps: list[tuple[int, int]], seed: int) -> None:
    rng = np.random.default_rng(seed)
    index = HammingIndex()
    #: Hashes whose add returned, by id; ids leave before their removal starts.
    present: dict[int, np.ndarray] = {}
    written: set[int] = set()
    misses: list[int] = []
    foreign: list[int] = []
    stop = threading.Event()
    book = threading.Lock()  # the test's own records, not the index

    def search_recent() -> None:
        while not stop.is_set():
            with book:
                recent = list(present.items())[-24:]
            for signal_id, value in recent:
                found = index.search(value, 0)[0].tolist()
                if signal_id not in found and signal_id in present:
                    misses.append(signal_id)
                foreign.extend(i for i in found if i not in written)

    searcher = threading.Thread(target=search_recent)
    searcher.start()
    try:
        next_id = 0
        for add, remove in steps:
            ids = np.arange(next_id, next_id + add)
            hashes = rng.integers(0, 2**64, size=(add, 4), dtype=np.uint64)
            written.update(ids.tolist())
            index.add(ids, hashes)
            with book:
                present.update(zip(ids.tolist(), hashes, strict=True))
                gone = [int(i) for i in rng.permutation(list(present))[:remove]]
                for signal_id in gone:
                    present.pop(signal_id)
            next_id += add
            index.remove(np.array(gone, dtype=np.int64))
        index.wait_for_merge()
    finally:
        stop.set()
        searcher.join()
    assert misses == []
    assert foreign == []
    for signal_id, value in present.items():
        assert signal_id in index.search(value, 0)[0].tolist()
