"""The in-memory indexes of every bank signal, kept current from the change log.

    indexes = LiveIndexes(database, snapshot_dir)
    indexes.refresh()                      # apply what was logged since
    ids, distances = indexes.search_hamming("pdq", value, radius=31)
    ids = indexes.search_exact("md5", value)
    ids = indexes.search_text("keyword", text)

The signal type decides its index: a :class:`~hashmatch.signals.base.HammingSignalType`
goes into the Hamming range index of its ``space`` (PDQ and vPDQ share one),
a :class:`~hashmatch.signals.base.TextSearchSignalType` into a phrase index
(:class:`~hashmatch.index.PhraseIndex`), any other type into an exact map.
Indexes load from the database, or from a snapshot of each Hamming space
plus the changes logged after it, and then follow the log
(:mod:`hashmatch.store.changelog`): it never skips an entry, and ids are
never reused, so applying "add, then remove" per window is exact.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashmatch.errors import UnknownSignalTypeError
from hashmatch.index import ExactIndex, HammingIndex, PhraseIndex, snapshot, words_from_hex
from hashmatch.index.hamming import empty, release_free_memory
from hashmatch.signals import get_signal_type, is_text_search, signal_types
from hashmatch.signals.base import MAX_HAMMING_BITS, HammingSignalType
from hashmatch.store import ContentSignal, Database
from hashmatch.store.changelog import changes_between, latest_seq

#: Hex digits of the Hamming index's hashes; narrower types are padded with
#: zeros on the left, which leaves every distance as it was.
INDEX_DIGITS = MAX_HAMMING_BITS // 4
#: Processes starting together take turns on this lock (in the snapshot
#: folder): the first builds and writes the snapshots, the others map them.
STARTUP_LOCK = "startup"
#: Hashes converted to the index's words at a time.
CONVERT_BATCH = 65_536


@cache
def hamming_type(name: str) -> HammingSignalType | None:
    """The Hamming signal type called ``name``; None for exact (or unknown) types."""
    try:
        signal_type = get_signal_type(name)
    except UnknownSignalTypeError:
        return None  # a plugin since uninstalled: its hashes stay exact-only
    if not isinstance(signal_type, HammingSignalType):
        return None
    if signal_type.bits % 4 or not 0 < signal_type.bits <= MAX_HAMMING_BITS:
        raise ValueError(f"signal type {name!r}: bits must be a multiple of 4, 4-256")
    return signal_type


def space_of(name: str) -> str | None:
    """The Hamming space of a signal type, or None for exact types."""
    signal_type = hamming_type(name)
    return None if signal_type is None else signal_type.space


def space_types(space: str) -> list[str]:
    """The signal types searched in ``space``."""
    return [name for name in signal_types() if space_of(name) == space]


def index_words(values: Sequence[str]) -> np.ndarray:
    """Hex hashes of any width up to 256 bits as the index's (N, 4) words,
    converted a slice at a time: a million hex strings at once is C code
    holding the GIL long enough to stall a server's event loop."""
    parts = [
        words_from_hex([value.rjust(INDEX_DIGITS, "0") for value in values[i : i + CONVERT_BATCH]])
        for i in range(0, len(values), CONVERT_BATCH)
    ]
    return np.concatenate(parts) if len(parts) > 1 else (parts[0] if parts else empty())


@dataclass
class _Space:
    """One Hamming space's index and where in the log it stands."""

    index: HammingIndex = field(default_factory=HammingIndex)
    #: The change-log entry of the snapshot it is mapped from (-1: none).
    snapshot_seq: int = -1


class LiveIndexes:
    """Every bank signal in memory: Hamming spaces, exact maps and phrase indexes."""

    def __init__(self, database: Database, snapshot_dir: Path | None = None) -> None:
        self.database = database
        self.snapshot_dir = snapshot_dir
        self._lock = threading.Lock()
        self._spaces: dict[str, _Space] = {}
        self._exact: dict[str, ExactIndex] = {}
        self._text: dict[str, PhraseIndex] = {}
        self._seq = 0
        #: Signals changed since the snapshot was written (or loaded).
        self.changes_since_snapshot = 0
        #: The database's own id (snapshots record it), read once.
        self.database_id = database.instance_id()
        if snapshot_dir is None:
            self._load(set())
        else:
            with snapshot.exclusive(snapshot_dir / STARTUP_LOCK):
                self._load_with_snapshots(snapshot_dir)
        release_free_memory()

    # -- loading ---------------------------------------------------------------

    def _load(self, snapshotted: set[str]) -> None:
        """Read every signal not in a snapshotted space, at one consistent point."""
        skip = [name for space in snapshotted for name in space_types(space)]
        query = select(ContentSignal.id, ContentSignal.signal_type, ContentSignal.value)
        if skip:
            query = query.where(ContentSignal.signal_type.not_in(skip))
        hamming: dict[str, list[tuple[int, str]]] = {}
        exact: dict[str, list[tuple[int, str]]] = {}
        with self.database.reading(consistent=True) as session:
            self._seq = latest_seq(session)
            for signal_id, signal_type, value in session.execute(query):
                space = space_of(signal_type)
                target = exact if space is None else hamming
                target.setdefault(space or signal_type, []).append((signal_id, value))
        for space, entries in hamming.items():
            ids, values = zip(*entries, strict=True)
            self._spaces[space] = _Space(
                HammingIndex(np.array(ids, dtype=np.int64), index_words(values))
            )
        for signal_type, entries in exact.items():
            self._keyed_index(signal_type).add(entries)

    def _load_with_snapshots(self, folder: Path) -> None:
        database_id = self.database_id
        mapped: dict[str, tuple[HammingIndex, int]] = {}
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            info = snapshot.read_info(path)
            if info is not None and info.database_id == database_id:
                with snapshot.exclusive(path):
                    mapped[path.name] = (snapshot.load(path), info.seq)
        self._load(set(mapped))
        for space in list(self._spaces):  # built from the database: snapshot them
            with snapshot.exclusive(folder / space):
                snapshot.write(folder / space, self._spaces[space].index, self._info(space))
                # Map the file back in place of the copy just built, so that
                # every process on this host reads the same pages.
                self._spaces[space] = _Space(snapshot.load(folder / space), self._seq)
        with self.database.reading() as session:
            for space, (index, seq) in mapped.items():
                caught_up = self._catch_up(session, space, index, seq, self._seq)
                self._spaces[space] = _Space(index, seq)
                self.changes_since_snapshot = max(self.changes_since_snapshot, caught_up)

    def _catch_up(
        self, session: Session, space: str, index: HammingIndex, after: int, upto: int
    ) -> int:
        """Apply to one space's index the changes logged after..upto; how many
        of its signals changed."""
        added, removed = changes_between(session, after, upto)
        mine = [row for row in added if space_of(row[1]) == space]
        self._add_hamming(index, mine)
        if removed:
            index.remove(np.array(removed, dtype=np.int64))
        return len(mine) + len(removed)

    # -- following the log -------------------------------------------------------

    @property
    def seq(self) -> int:
        """The last change-log entry applied."""
        return self._seq

    def refresh(self) -> int:
        """Apply changes logged since the last refresh; how many signals changed."""
        with self._lock, self.database.reading() as session:
            upto = latest_seq(session)
            if upto <= self._seq:
                return 0
            added, removed = changes_between(session, self._seq, upto)
            self._apply(added, removed)
            self._seq = upto
        self.changes_since_snapshot += sum(space_of(row[1]) is not None for row in added) + len(
            removed
        )
        return len(added) + len(removed)

    def _apply(self, added: Sequence[Any], removed: list[int]) -> None:
        """Add, then remove: ids are never reused, so the order is safe."""
        by_space: dict[str, list[Any]] = {}
        by_type: dict[str, list[tuple[int, str]]] = {}
        for row in added:
            space = space_of(row[1])
            if space is None:
                by_type.setdefault(row[1], []).append((row[0], row[2]))
            else:
                by_space.setdefault(space, []).append(row)
        for space, rows in by_space.items():
            self._add_hamming(self._space(space).index, rows)
        for signal_type, entries in by_type.items():  # one automaton build per type
            self._keyed_index(signal_type).add(entries)
        if removed:
            gone = np.array(removed, dtype=np.int64)
            for entry in self._spaces.values():
                entry.index.remove(gone)
            for keyed in self._keyed().values():
                keyed.remove(removed)

    @staticmethod
    def _add_hamming(index: HammingIndex, rows: Iterable[Any]) -> None:
        rows = list(rows)
        if rows:
            index.add(
                np.array([row[0] for row in rows], dtype=np.int64),
                index_words([row[2] for row in rows]),
            )

    def _space(self, space: str) -> _Space:
        return self._spaces.setdefault(space, _Space())

    def _keyed(self) -> dict[str, ExactIndex | PhraseIndex]:
        """The exact maps and phrase indexes, by signal type."""
        return {**self._exact, **self._text}

    def _keyed_index(self, signal_type: str) -> ExactIndex | PhraseIndex:
        """The exact map, or the phrase index, of a type not searched by distance."""
        if is_text_search(signal_type):
            return self._text.setdefault(signal_type, PhraseIndex())
        return self._exact.setdefault(signal_type, ExactIndex())

    # -- searching ---------------------------------------------------------------

    def search_hamming(self, space: str, value: str, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """Signal ids within ``radius`` bits of ``value`` in a space, with distances."""
        entry = self._spaces.get(space)
        if entry is None:
            return np.zeros(0, np.int64), np.zeros(0, np.int32)
        return entry.index.search(index_words([value])[0], radius)

    def search_exact(self, signal_type: str, value: str) -> set[int]:
        index = self._exact.get(signal_type)
        return set() if index is None else index.search(value)

    def search_text(self, signal_type: str, text: str) -> set[int]:
        """Signal ids of every banked phrase of a type found in ``text`` (folded)."""
        index = self._text.get(signal_type)
        return set() if index is None else index.search(text)

    def hamming_index(self, space: str) -> HammingIndex | None:
        """A Hamming space's index (None while the space is empty)."""
        entry = self._spaces.get(space)
        return None if entry is None else entry.index

    def hamming_count(self) -> int:
        return sum(len(entry.index) for entry in self._spaces.values())

    def sizes(self) -> dict[str, int]:
        """Signals in the indexes, per Hamming space, exact type and phrase type."""
        hamming = {space: len(entry.index) for space, entry in self._spaces.items()}
        return {**hamming, **{name: len(index) for name, index in self._keyed().items()}}

    # -- snapshots ---------------------------------------------------------------

    @property
    def snapshot_due(self) -> bool:
        """Whether enough changed since the snapshot to write a new one: before
        a live index merges its delta (at 5%) into memory of its own."""
        largest = max((len(entry.index) for entry in self._spaces.values()), default=0)
        return self.changes_since_snapshot > max(SNAPSHOT_AFTER_CHANGES, largest // 20)

    def _info(self, space: str) -> snapshot.SnapshotInfo:
        return snapshot.SnapshotInfo(self.database_id, self._seq, len(self._spaces[space].index))

    def save_snapshot(self) -> None:
        """Write each Hamming space's index (compacted) to the snapshot folder."""
        if self.snapshot_dir is None:
            raise ValueError("these indexes have no snapshot folder")
        with self._lock:
            pending = {
                space: (entry.index, self._info(space)) for space, entry in self._spaces.items()
            }
        saved = [
            snapshot.save(self.snapshot_dir / space, index, info)
            for space, (index, info) in pending.items()
        ]
        if all(saved):
            self.changes_since_snapshot = 0

    def remap_snapshot(self) -> bool:
        """Switch to newer snapshots on disk, if some process wrote them: their
        pages are shared by every process that maps them, where an index this
        process merged itself is private.  True if any space switched."""
        if self.snapshot_dir is None:
            return False
        switched = False
        for space in list(self._spaces):
            folder = self.snapshot_dir / space
            with snapshot.exclusive(folder):  # no writer swaps files while they are mapped
                info = snapshot.read_info(folder)
                if (
                    info is None
                    or info.seq <= self._spaces[space].snapshot_seq
                    or info.database_id != self.database_id
                ):
                    continue
                fresh = snapshot.load(folder)
            with self._lock, self.database.reading() as session:
                if info.seq > self._seq:
                    continue  # the snapshot is ahead: the next refresh catches up first
                self._catch_up(session, space, fresh, info.seq, self._seq)
                self._spaces[space] = _Space(fresh, info.seq)
                switched = True
        if switched:
            self.changes_since_snapshot = 0
            release_free_memory()
        return switched


#: Fewest changes since the snapshot that make writing a new one worth it.
SNAPSHOT_AFTER_CHANGES = 50_000
