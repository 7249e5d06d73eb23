"""Matching: which bank content a file or a hash matches.

    matcher = Matcher(database)
    matcher.match_hashes({"pdq": ["f8f8...9b22"]})
    matcher.match_file("upload.jpg")

The matcher keeps one in-memory index per signal type: an exact Hamming range
index for PDQ, exact maps for MD5 and SHA-256.  It loads them from the
database, then follows the change log (:meth:`Matcher.refresh`), so content
added anywhere is matchable after the next refresh without a rebuild.

Rules, in order:

* an image's PDQ is matched with its 8 rotations and flips (the match says
  which transform), unless its quality is under 50;
* a bank's own threshold for a signal type applies, else the type's default;
* disabled banks, and content disabled until a later time, do not match;
* when the query also matches an allowlist bank, its matches are reported
  as suppressed (with the allowlist banks named), not as hits.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from hashmatch.hashing import FileHashes, HashRequest, hash_file
from hashmatch.index import ExactIndex, HammingIndex, snapshot, words_from_hex
from hashmatch.index.hamming import release_free_memory
from hashmatch.pdq import DIHEDRAL_TRANSFORMS, MIN_MATCH_QUALITY
from hashmatch.signals import get_signal_type
from hashmatch.signals.base import FrameHash
from hashmatch.store import Bank, Change, Content, ContentSignal, Database
from hashmatch.store.models import as_utc, utcnow
from hashmatch.video_matching import DEFAULT_SHARES, FRAMES, collapse_frames, match_video

PERCEPTUAL = "pdq"
#: Signal types in the Hamming index: images' PDQ and video frames' (vPDQ).
HAMMING = (PERCEPTUAL, FRAMES)
#: How long the banks' largest thresholds are reused before being read again.
LIMITS_SECONDS = 1.0


@dataclass(frozen=True)
class Match:
    """One bank content that a query matched."""

    bank: str
    content_id: int
    signal_type: str
    distance: int
    #: For PDQ, which rotation or flip of the query matched.
    transform: str | None
    bank_labels: list[str]
    content_labels: list[str]
    external_id: str | None
    source: str | None
    source_metadata: dict[str, Any]
    suppressed: bool = False
    suppressed_by: list[str] = field(default_factory=list)
    #: A bank video's frame that matched (before matches are grouped per video).
    target_frame: int | None = None
    target_timestamp: float | None = None
    #: Video matches: shares of frames matched and the segments (video_matching).
    video: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        record = {
            "bank": self.bank,
            "content_id": self.content_id,
            "signal_type": self.signal_type,
            "distance": self.distance,
            "transform": self.transform,
            "labels": self.bank_labels,
            "content_labels": self.content_labels,
            "external_id": self.external_id,
            "source": self.source,
            "source_metadata": self.source_metadata,
            "suppressed": self.suppressed,
        }
        if self.suppressed:
            record["suppressed_by"] = self.suppressed_by
        if self.video is not None:
            record["video"] = self.video
        return record


@dataclass(frozen=True)
class _Hit:
    signal_id: int
    signal_type: str
    distance: int
    transform: str | None


#: Fewest changes since the snapshot that make writing a new one worth it.
SNAPSHOT_AFTER_CHANGES = 50_000


class Matcher:
    """In-memory indexes over every bank, kept current from the change log."""

    def __init__(self, database: Database, snapshot_dir: Path | None = None) -> None:
        """Load the indexes: from ``snapshot_dir`` plus later changes when it
        holds a snapshot of this database, else from the database (and then
        write the snapshot there)."""
        self.database = database
        self.snapshot_dir = snapshot_dir
        self._lock = threading.Lock()
        self._pdq = HammingIndex()
        self._exact: dict[str, ExactIndex] = {}
        self._seq = 0
        #: The change-log entry of the snapshot the index is mapped from.
        self._snapshot_seq = -1
        self._rules: tuple[float, dict[str, dict[str, int]], dict[str, int]] | None = None
        #: Changes applied since the snapshot was written (or loaded).
        self.changes_since_snapshot = 0
        if snapshot_dir is None:
            self._load_from_database()
            return
        # Processes starting together (server workers) take turns: the first
        # builds and writes the snapshot, the others map it.
        with snapshot.exclusive(snapshot_dir / PERCEPTUAL):
            if not self._load_snapshot(snapshot_dir):
                self._load_from_database()
                snapshot.write(snapshot_dir / PERCEPTUAL, self._pdq, self._snapshot_info())
                # Map the file back in place of the copy just built, so that
                # every process on this host reads the same pages.
                self._load_snapshot(snapshot_dir)
        release_free_memory()

    def _load_from_database(self) -> None:
        with self.database.reading() as session:
            self._seq = session.scalar(select(func.max(Change.seq))) or 0
            pdq, exact = _grouped_signals(session, include_pdq=True)
        ids, values = zip(*pdq, strict=True) if pdq else ((), ())
        self._pdq = HammingIndex(np.array(ids, dtype=np.int64), words_from_hex(list(values)))
        self._add_exact(exact)

    def _load_snapshot(self, folder: Path) -> bool:
        info = snapshot.read_info(folder / PERCEPTUAL)
        if info is None or info.database_id != self.database.instance_id():
            return False  # none, or a snapshot of another (or a wiped) database
        self._pdq = snapshot.load(folder / PERCEPTUAL)
        self._seq = self._snapshot_seq = info.seq
        with self.database.reading() as session:
            _, exact = _grouped_signals(session, include_pdq=False)
        self._add_exact(exact)
        # Exact maps are current already; re-applying their changes is harmless.
        self.refresh()
        return True

    def _add_exact(self, exact: dict[str, list[tuple[int, str]]]) -> None:
        for signal_type, entries in exact.items():
            self._exact_index(signal_type).add(entries)

    def save_snapshot(self) -> None:
        """Write the PDQ index (compacted) to the snapshot folder."""
        if self.snapshot_dir is None:
            raise ValueError("this matcher has no snapshot folder")
        if snapshot.save(self.snapshot_dir / PERCEPTUAL, self._pdq, self._snapshot_info()):
            self.changes_since_snapshot = 0

    def _snapshot_info(self) -> snapshot.SnapshotInfo:
        with self._lock:
            seq = self._seq
        return snapshot.SnapshotInfo(self.database.instance_id(), seq, len(self._pdq))

    def _exact_index(self, signal_type: str) -> ExactIndex:
        return self._exact.setdefault(signal_type, ExactIndex())

    def __len__(self) -> int:
        """PDQ hashes in the index."""
        return len(self._pdq)

    def sizes(self) -> dict[str, int]:
        """Signals in the index, per signal type."""
        exact = {name: len(index) for name, index in self._exact.items()}
        return {PERCEPTUAL: len(self._pdq), **exact}

    @property
    def seq(self) -> int:
        """The last change-log entry applied."""
        return self._seq

    def refresh(self) -> int:
        """Apply changes logged since the last refresh; how many signals changed."""
        with self._lock, self.database.reading() as session:
            seq = session.scalar(select(func.max(Change.seq))) or 0
            if seq <= self._seq:
                return 0
            added, removed = _changes(session, self._seq, seq)
            self._apply(self._pdq, added, removed, exact=True)
            self._seq = seq
        # Signals added and removed again inside the window are simply gone
        # from content_signals, so they are neither added nor found to remove.
        count = len(added) + len(removed)
        self.changes_since_snapshot += count
        return count

    @property
    def snapshot_due(self) -> bool:
        """Whether enough changed since the snapshot to write a new one: before
        the live index merges its delta (at 5%) into memory of its own."""
        return self.changes_since_snapshot > max(SNAPSHOT_AFTER_CHANGES, len(self._pdq) // 20)

    def remap_snapshot(self) -> bool:
        """Switch to a newer snapshot on disk, if some process wrote one: its
        pages are shared by every process that maps it, where an index this
        process merged itself is private.  True if it switched."""
        if self.snapshot_dir is None:
            return False
        folder = self.snapshot_dir / PERCEPTUAL
        with snapshot.exclusive(folder):  # no writer swaps files while they are mapped
            info = snapshot.read_info(folder)
            if (
                info is None
                or info.seq <= self._snapshot_seq
                or info.database_id != self.database.instance_id()
            ):
                return False
            fresh = snapshot.load(folder)
        with self._lock, self.database.reading() as session:
            if info.seq > self._seq:
                return False  # the snapshot is ahead of us: the next refresh catches up first
            added, removed = _changes(session, info.seq, self._seq)
            self._apply(fresh, added, removed, exact=False)
            self._pdq = fresh
            self._snapshot_seq = info.seq
            self.changes_since_snapshot = 0
        release_free_memory()
        return True

    def _apply(
        self, pdq_index: HammingIndex, added: Sequence[Any], removed: list[int], *, exact: bool
    ) -> None:
        """Add, then remove (an id is never reused, so the order is safe)."""
        pdq = [(signal_id, value) for signal_id, kind, value in added if kind in HAMMING]
        if pdq:
            ids, values = zip(*pdq, strict=True)
            pdq_index.add(np.array(ids, dtype=np.int64), words_from_hex(list(values)))
        if removed:
            pdq_index.remove(np.array(removed, dtype=np.int64))
        if not exact:
            return
        for signal_id, kind, value in added:
            if kind not in HAMMING:
                self._exact_index(kind).add([(signal_id, value)])
        if removed:
            for index in self._exact.values():
                index.remove(removed)

    def match_hashes(
        self,
        signals: dict[str, list[str]],
        *,
        banks: Iterable[str] | None = None,
        pdq_transforms: Iterable[str] | None = None,
        include_disabled: bool = False,
    ) -> list[Match]:
        """Matches of given hashes (canonical strings).  A PDQ list holds either
        one hash, or 8 dihedral hashes named by ``pdq_transforms``.
        ``include_disabled`` also returns disabled content and banks (HMA's raw lookup)."""
        hits = self._hits(signals, pdq_transforms)
        only = set(banks) if banks else None
        matches = self._matches(
            hits, self._content_of(hits), only, include_disabled=include_disabled
        )
        return collapse_frames(matches)

    def match_frames(
        self, frames: list[FrameHash], *, banks: Iterable[str] | None = None
    ) -> list[list[Match]]:
        """For each of a query video's frames, the bank images and video frames
        it matches, through its 8 rotations and flips when it has them (one
        database read for all)."""
        hit_lists = [
            self._hits({FRAMES: list(frame.dihedral)}, DIHEDRAL_TRANSFORMS)
            if frame.dihedral
            else self._hits({FRAMES: [frame.hash]}, None)
            for frame in frames
        ]
        content = self._content_of([hit for hits in hit_lists for hit in hits])
        only = set(banks) if banks else None
        return [self._matches(hits, content, only) for hits in hit_lists]

    def frame_counts(self, content_ids: list[int]) -> dict[int, int]:
        """Frames of quality >= 50 of each bank video (a frame's cropped
        variants are the same frame)."""
        if not content_ids:
            return {}
        with self.database.reading() as session:
            rows = session.execute(
                select(ContentSignal.content_id, func.count(func.distinct(ContentSignal.frame)))
                .where(
                    ContentSignal.content_id.in_(content_ids),
                    ContentSignal.signal_type == FRAMES,
                    ContentSignal.quality >= MIN_MATCH_QUALITY,
                )
                .group_by(ContentSignal.content_id)
            )
            return {int(content_id): int(count) for content_id, count in rows}

    def video_shares(self, bank: str) -> dict[str, int]:
        """A bank's video thresholds, in percent (query share, target share)."""
        thresholds = self._bank_rules()[0].get(bank, {})
        return {name: int(thresholds.get(name, value)) for name, value in DEFAULT_SHARES.items()}

    def match_many(
        self, queries: list[tuple[str, str]], *, banks: Iterable[str] | None = None
    ) -> list[list[Match]]:
        """Matches of each (signal type, hash) query, looked up in one database read."""
        hit_lists = [self._hits({kind: [value]}, None) for kind, value in queries]
        content = self._content_of([hit for hits in hit_lists for hit in hits])
        only = set(banks) if banks else None
        return [self._matches(hits, content, only) for hits in hit_lists]

    def _hits(
        self, signals: dict[str, list[str]], pdq_transforms: Iterable[str] | None
    ) -> list[_Hit]:
        """Index hits, one per bank signal (the closest transform of the query)."""
        limits = self._radius_limits()
        hits: list[_Hit] = []
        for signal_type, values in signals.items():
            if signal_type in HAMMING:
                names = list(pdq_transforms or ["original"] * len(values))
                radius = max(limits[kind] for kind in HAMMING)
                for value, transform in zip(values, names, strict=True):
                    ids, distances = self._pdq.search(words_from_hex([value])[0], radius)
                    hits.extend(
                        _Hit(int(i), signal_type, int(d), transform)
                        for i, d in zip(ids, distances, strict=True)
                    )
            else:
                index = self._exact.get(signal_type)
                for value in values:
                    if index is not None:
                        hits.extend(_Hit(i, signal_type, 0, None) for i in index.search(value))
        return _best_per_signal(hits)

    def match_file(
        self, path: str | os.PathLike[str], request: HashRequest | None = None
    ) -> tuple[FileHashes, list[Match]]:
        """Hash a file (PDQ with its 8 transforms) and match it."""
        result = hash_file(path, request or HashRequest(dihedral=True))
        return result, self.match_result(result)

    def match_result(
        self, result: FileHashes, *, banks: Iterable[str] | None = None
    ) -> list[Match]:
        """Matches of a hashed file; a file that failed to hash matches nothing."""
        if not result.ok:
            return []
        if result.frames.get(FRAMES):
            exact = self.match_hashes(
                {name: [value] for name, value in result.signals.items()}, banks=banks
            )
            return exact + match_video(self, result.frames[FRAMES], banks=banks)
        query = {name: [value] for name, value in result.signals.items() if name != PERCEPTUAL}
        transforms = None
        if PERCEPTUAL in result.signals and result.quality.get(PERCEPTUAL, 0) >= MIN_MATCH_QUALITY:
            dihedral = result.dihedral.get(PERCEPTUAL)
            query[PERCEPTUAL] = dihedral or [result.signals[PERCEPTUAL]]
            transforms = list(DIHEDRAL_TRANSFORMS) if dihedral else ["original"]
        return self.match_hashes(query, banks=banks, pdq_transforms=transforms)

    def _radius_limits(self) -> dict[str, int]:
        """Per signal type, the largest threshold any bank uses."""
        return self._bank_rules()[1]

    def _bank_rules(self) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
        """Every bank's thresholds, and per signal type the largest (cached for
        ``LIMITS_SECONDS``: thresholds change rarely, lookups constantly)."""
        cached = self._rules
        if cached is not None and time.monotonic() - cached[0] < LIMITS_SECONDS:
            return cached[1], cached[2]
        with self.database.reading() as session:
            rows = session.execute(select(Bank.name, Bank.thresholds)).all()
        by_bank: dict[str, dict[str, int]] = {str(row[0]): dict(row[1]) for row in rows}
        limits: dict[str, int] = {}
        for thresholds in by_bank.values():
            for name, value in thresholds.items():
                limits[name] = max(limits.get(name, 0), int(value))
        for kind in HAMMING:
            default = get_signal_type(kind).default_threshold
            limits[kind] = max(limits.get(kind, default), default)
        self._rules = (time.monotonic(), by_bank, limits)
        return by_bank, limits

    def _content_of(self, hits: list[_Hit]) -> dict[int, Any]:
        """The content and bank behind each hit's signal id (plain rows, not
        ORM objects: this read is on every lookup that finds something)."""
        if not hits:
            return {}
        with self.database.single_statement() as connection:
            ids = sorted({hit.signal_id for hit in hits})
            rows = connection.execute(_HIT_DETAILS, {"ids": ids}).all()
        return {row.signal_id: row for row in rows}

    def _matches(
        self,
        hits: list[_Hit],
        content_of: dict[int, Any],
        only_banks: set[str] | None,
        *,
        include_disabled: bool = False,
    ) -> list[Match]:
        """Hits that count as matches under the banks' rules, allowlists applied."""
        now = utcnow()
        matches: list[Match] = []
        allowlisted: list[str] = []
        for hit in hits:
            if hit.signal_id not in content_of:
                continue  # removed since the index saw it
            row = content_of[hit.signal_id]
            stored = row.stored_type
            threshold = _threshold(row.thresholds, stored)
            disabled = row.disabled_until is not None and as_utc(row.disabled_until) > now
            if hit.distance > threshold:
                continue
            if not include_disabled and (not row.bank_enabled or disabled):
                continue
            if row.kind == "allowlist":
                allowlisted.append(row.bank)
                continue
            if only_banks is not None and row.bank not in only_banks:
                continue
            matches.append(
                Match(
                    row.bank,
                    row.content_id,
                    stored,
                    hit.distance,
                    hit.transform,
                    list(row.bank_labels),
                    list(row.content_labels),
                    row.external_id,
                    row.source,
                    dict(row.source_metadata),
                    target_frame=row.frame,
                    target_timestamp=row.timestamp,
                )
            )
        if allowlisted:
            names = sorted(set(allowlisted))
            matches = [replace(match, suppressed=True, suppressed_by=names) for match in matches]
        return sorted(matches, key=lambda m: (m.distance, m.bank, m.content_id, m.signal_type))


def _threshold(thresholds: dict[str, int], stored: str) -> int:
    """A bank's threshold for a signal type; video frames follow PDQ's unless set."""
    default = get_signal_type(stored).default_threshold
    if stored == FRAMES:
        default = thresholds.get(PERCEPTUAL, default)
    return int(thresholds.get(stored, default))


_HIT_DETAILS = (
    select(
        ContentSignal.id.label("signal_id"),
        ContentSignal.signal_type.label("stored_type"),
        ContentSignal.frame,
        ContentSignal.timestamp,
        Content.id.label("content_id"),
        Content.disabled_until,
        Content.labels.label("content_labels"),
        Content.external_id,
        Content.source,
        Content.source_metadata,
        Bank.name.label("bank"),
        Bank.enabled.label("bank_enabled"),
        Bank.kind,
        Bank.labels.label("bank_labels"),
        Bank.thresholds,
    )
    .join(Content, Content.id == ContentSignal.content_id)
    .join(Bank, Bank.id == Content.bank_id)
    # One statement object, so SQLAlchemy computes its cache key once.
    .where(ContentSignal.id.in_(bindparam("ids", expanding=True)))
)


def _changes(session: Session, after: int, upto: int) -> tuple[Sequence[Any], list[int]]:
    """Signals added (id, type, value) and removed (ids) by log entries after..upto."""
    window = (Change.seq > after) & (Change.seq <= upto)
    added = session.execute(
        select(ContentSignal.id, ContentSignal.signal_type, ContentSignal.value)
        .join(Change, ContentSignal.id.between(Change.signal_id, Change.last_signal_id))
        .where(window, Change.op == "add")
    ).all()
    removed = [
        signal_id
        for first, last in session.execute(
            select(Change.signal_id, Change.last_signal_id).where(window, Change.op == "remove")
        )
        for signal_id in range(first, last + 1)
    ]
    return added, removed


def _best_per_signal(hits: list[_Hit]) -> list[_Hit]:
    """One hit per bank signal: the closest transform of the query."""
    best: dict[int, _Hit] = {}
    for hit in hits:
        if hit.signal_id not in best or hit.distance < best[hit.signal_id].distance:
            best[hit.signal_id] = hit
    return list(best.values())


def _grouped_signals(
    session: Session, *, include_pdq: bool
) -> tuple[list[tuple[int, str]], dict[str, list[tuple[int, str]]]]:
    """Every bank signal as (id, value): PDQ ones, and the others by type."""
    query = select(ContentSignal.id, ContentSignal.signal_type, ContentSignal.value)
    if not include_pdq:
        query = query.where(ContentSignal.signal_type.not_in(HAMMING))
    pdq: list[tuple[int, str]] = []
    exact: dict[str, list[tuple[int, str]]] = {}
    for signal_id, signal_type, value in session.execute(query):
        if signal_type in HAMMING:
            pdq.append((signal_id, value))
        else:
            exact.setdefault(signal_type, []).append((signal_id, value))
    return pdq, exact
