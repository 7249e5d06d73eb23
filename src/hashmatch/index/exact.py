"""Exact-match index for hashes compared byte for byte (MD5, SHA-256)."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable


class ExactIndex:
    """Maps a canonical hash string to the ids stored under it.

    >>> index = ExactIndex()
    >>> index.add([(1, "abc"), (2, "abc")])
    >>> sorted(index.search("abc"))
    [1, 2]
    """

    def __init__(self) -> None:
        self._ids: defaultdict[str, set[int]] = defaultdict(set)
        self._value_of: dict[int, str] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._value_of)

    def add(self, entries: Iterable[tuple[int, str]]) -> None:
        with self._lock:
            for entry_id, value in entries:
                self._ids[value].add(entry_id)
                self._value_of[entry_id] = value

    def remove(self, ids: Iterable[int]) -> None:
        with self._lock:
            for entry_id in ids:
                value = self._value_of.pop(entry_id, None)
                if value is not None:
                    self._ids[value].discard(entry_id)
                    if not self._ids[value]:
                        del self._ids[value]

    def search(self, value: str) -> set[int]:
        with self._lock:  # a copy taken while no writer changes the set
            return set(self._ids.get(value, ()))
