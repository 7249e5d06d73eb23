"""A live, exact range index over 256-bit hashes with integer ids.

    >>> index = HammingIndex()
    >>> index.add(np.array([7]), words_from_hex(["00" * 32]))
    >>> index.search(words_from_hex(["00" * 31 + "0f"])[0], radius=31)
    (array([7]), array([4], dtype=int32))

Two parts answer every query together:

* the *main* part, a :class:`~hashmatch.index.mih.MultiIndex` built once
  over most of the hashes (or mapped from a snapshot);
* the *delta*, recent additions kept in plain arrays and scanned by brute
  force, so an added hash is matchable at once.

Removals clear a row's ``alive`` flag in either part.  When the delta grows
past a fraction of the main part, a background thread builds a new main part
from both; queries keep using the old one until the new one is swapped in,
and changes made meanwhile are carried over.  The two parts are swapped as
one pair (a single reference), so a query never reads the new main part with
the old delta, or the old main part with the new delta, and misses the rows
that moved between them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from hashmatch.index.hamming import WORDS, empty, scan, scan_batch
from hashmatch.index.mih import MultiIndex

#: Below this many hashes a brute-force scan is as fast as the tables.
MIN_TABLE_SIZE = 20_000
#: The delta is merged when it passes this share of the main part (or the minimum).
MERGE_SHARE = 0.05


@dataclass
class _Part:
    """Hashes with ids (sorted by id in the main part) and alive flags."""

    ids: np.ndarray
    hashes: np.ndarray
    alive: np.ndarray
    tables: MultiIndex | None = None

    @classmethod
    def empty(cls) -> _Part:
        return cls(np.zeros(0, np.int64), empty(), np.zeros(0, np.uint8))

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def search(self, query: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
        if self.tables is not None and radius <= self.tables.max_radius:
            rows, distances = self.tables.search(self.alive, query, radius)
        else:
            rows, distances = scan(self.hashes, self.alive, query, radius)
        return self.ids[rows], distances

    def search_batch(
        self, queries: np.ndarray, radius: int, max_probe: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.tables is not None and (max_probe < 2 or radius <= self.tables.max_radius):
            numbers, rows, distances = self.tables.search_batch(
                self.alive, queries, radius, max_probe
            )
        else:
            numbers, rows, distances = scan_batch(self.hashes, self.alive, queries, radius)
        return numbers, self.ids[rows], distances

    def kill(self, ids: np.ndarray) -> None:
        if self.ids.shape[0] and ids.shape[0]:
            self.alive[np.isin(self.ids, ids)] = 0

    def live(self) -> tuple[np.ndarray, np.ndarray]:
        keep = self.alive.astype(bool)
        return self.ids[keep], self.hashes[keep]


def _main_part(ids: np.ndarray, hashes: np.ndarray) -> _Part:
    order = np.argsort(ids, kind="stable")
    ids, hashes = ids[order], np.ascontiguousarray(hashes[order])
    tables = MultiIndex.build(hashes) if ids.shape[0] >= MIN_TABLE_SIZE else None
    return _Part(ids, hashes, np.ones(ids.shape[0], np.uint8), tables)


@dataclass
class _Delta:
    """Growable arrays; only the first ``size`` rows are in use."""

    ids: np.ndarray = field(default_factory=lambda: np.zeros(1024, np.int64))
    hashes: np.ndarray = field(default_factory=lambda: np.zeros((1024, WORDS), np.uint64))
    alive: np.ndarray = field(default_factory=lambda: np.zeros(1024, np.uint8))
    size: int = 0

    def append(self, ids: np.ndarray, hashes: np.ndarray) -> None:
        needed = self.size + ids.shape[0]
        if needed > self.ids.shape[0]:
            capacity = max(needed, 2 * self.ids.shape[0])
            self.ids = np.resize(self.ids, capacity)
            self.hashes = np.resize(self.hashes, (capacity, WORDS))
            self.alive = np.resize(self.alive, capacity)
        # Hashes first, alive flags last: a concurrent query never sees a
        # live row whose hash is not written yet.
        self.ids[self.size : needed] = ids
        self.hashes[self.size : needed] = hashes
        self.alive[self.size : needed] = 1
        self.size = needed

    def view(self) -> _Part:
        n = self.size
        return _Part(self.ids[:n], self.hashes[:n], self.alive[:n])


class HammingIndex:
    """Exact range search over (id, 256-bit hash) pairs, updated in place.

    Thread-safe: queries run concurrently with each other and with updates.
    """

    def __init__(self, ids: np.ndarray | None = None, hashes: np.ndarray | None = None) -> None:
        self._lock = threading.Lock()
        main = _Part.empty() if ids is None else _main_part(ids, hashes)  # type: ignore[arg-type]
        #: (main part, delta): replaced whole, never one half at a time.
        self._parts = (main, _Delta())
        self._merging: threading.Thread | None = None
        self._removed_while_merging: list[np.ndarray] = []

    @classmethod
    def from_parts(
        cls, main: MultiIndex | None, ids: np.ndarray, hashes: np.ndarray
    ) -> HammingIndex:
        """An index whose main part is already built (e.g. mapped from a snapshot)."""
        index = cls()
        index._parts = (_Part(ids, hashes, np.ones(ids.shape[0], np.uint8), main), _Delta())
        return index

    def __len__(self) -> int:
        main, delta = self._parts
        return int(main.alive.sum()) + int(delta.view().alive.sum())

    @property
    def main(self) -> tuple[np.ndarray, np.ndarray, MultiIndex | None]:
        """The main part's sorted ids, hashes and tables (what a snapshot saves)."""
        main = self._parts[0]
        return main.ids, main.hashes, main.tables

    def add(self, ids: np.ndarray, hashes: np.ndarray) -> None:
        """Add hashes under their ids; matchable as soon as this returns."""
        ids = np.asarray(ids, dtype=np.int64)
        hashes = np.ascontiguousarray(hashes, dtype=np.uint64).reshape(-1, WORDS)
        if ids.shape[0] != hashes.shape[0]:
            raise ValueError("one id per hash")
        with self._lock:
            self._parts[1].append(ids, hashes)
            self._maybe_merge()

    def remove(self, ids: np.ndarray) -> None:
        """Stop matching every hash stored under these ids."""
        ids = np.asarray(ids, dtype=np.int64)
        with self._lock:
            main, delta = self._parts
            main.kill(ids)
            delta.view().kill(ids)
            if self._merging is not None:
                self._removed_while_merging.append(ids)

    def search(self, query: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids of every hash within ``radius`` bits of ``query`` (4 words), with distances."""
        query = np.ascontiguousarray(query, dtype=np.uint64)
        main, growing = self._parts  # one read: a consistent pair
        delta = growing.view()
        ids, distances = main.search(query, radius)
        if len(delta):
            more_ids, more_distances = delta.search(query, radius)
            ids = np.concatenate((ids, more_ids))
            distances = np.concatenate((distances, more_distances))
        return ids, distances

    def search_many(self, queries: np.ndarray, radius: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`search` for each row of an (n, 4) array."""
        return [self.search(query, radius) for query in np.asarray(queries, dtype=np.uint64)]

    def search_batch(
        self, queries: np.ndarray, radius: int, max_probe: int = 2
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every query of an (n, 4) array at once: (query numbers, ids, distances).

        Exact, like :meth:`search`, at ``max_probe=2``; a lower ``max_probe``
        trades completeness beyond a few bits per chunk for far fewer reads
        (see :func:`~hashmatch.index.mih.search_batch`).  Rows come in no
        particular order; an id appears once per query it answers.
        """
        queries = np.ascontiguousarray(queries, dtype=np.uint64).reshape(-1, WORDS)
        main, growing = self._parts  # one read: a consistent pair
        delta = growing.view()
        numbers, ids, distances = main.search_batch(queries, radius, max_probe)
        if len(delta):
            more = delta.search_batch(queries, radius, max_probe)
            numbers = np.concatenate((numbers, more[0]))
            ids = np.concatenate((ids, more[1]))
            distances = np.concatenate((distances, more[2]))
        return numbers, ids, distances

    @property
    def compact(self) -> bool:
        """True when the main part holds every entry and none is removed."""
        with self._lock:
            main, delta = self._parts
            return delta.size == 0 and bool(main.alive.all())

    def live(self) -> tuple[np.ndarray, np.ndarray]:
        """Every live (id, hash) pair, main part and delta together."""
        with self._lock:
            return self._live_locked()

    def _live_locked(self) -> tuple[np.ndarray, np.ndarray]:
        main, delta = self._parts
        main_ids, main_hashes = main.live()
        delta_ids, delta_hashes = delta.view().live()
        return np.concatenate((main_ids, delta_ids)), np.concatenate((main_hashes, delta_hashes))

    def _maybe_merge(self) -> None:
        main, delta = self._parts
        threshold = max(MIN_TABLE_SIZE, int(MERGE_SHARE * len(main)))
        if delta.size >= threshold and self._merging is None:
            self._merging = threading.Thread(
                target=self._merge, name="hashmatch-index-merge", daemon=True
            )
            self._merging.start()

    def _merge(self) -> None:
        with self._lock:
            taken = self._parts[1].size
            ids, hashes = self._live_locked()
        merged = _main_part(ids, hashes)
        with self._lock:
            rest = self._parts[1].view()
            carried = _Delta()
            keep = rest.alive[taken:].astype(bool)
            carried.append(rest.ids[taken:][keep], rest.hashes[taken:][keep])
            for ids in self._removed_while_merging:
                merged.kill(ids)
            self._parts = (merged, carried)
            self._removed_while_merging = []
            self._merging = None
            # Adds made while this merge ran may already be past the threshold;
            # with no later add to notice, they would stay in the delta.
            self._maybe_merge()

    def wait_for_merge(self) -> None:
        """Block until background merges, if any, have finished (for tests and shutdown)."""
        while (thread := self._merging) is not None:
            thread.join()
