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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashmatch.hashing import FileHashes, HashRequest, hash_file
from hashmatch.index import ExactIndex, HammingIndex, snapshot, words_from_hex
from hashmatch.pdq import DIHEDRAL_TRANSFORMS, MIN_MATCH_QUALITY
from hashmatch.signals import get_signal_type
from hashmatch.store import Bank, Change, Content, ContentSignal, Database
from hashmatch.store.models import as_utc, utcnow

PERCEPTUAL = "pdq"
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
        return record


@dataclass(frozen=True)
class _Hit:
    signal_id: int
    signal_type: str
    distance: int
    transform: str | None


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
        self._limits: tuple[float, dict[str, int]] | None = None
        #: Changes applied since the snapshot was written (or loaded).
        self.changes_since_snapshot = 0
        if snapshot_dir is not None and self._load_snapshot(snapshot_dir):
            return
        self._load_from_database()
        if snapshot_dir is not None:
            self.save_snapshot()
            # Map the file back in place of the copy just built, so that every
            # process on this host reads the same pages (the page cache).
            self._load_snapshot(snapshot_dir)

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
        self._seq = info.seq
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
        with self._lock:
            seq = self._seq
        info = snapshot.SnapshotInfo(self.database.instance_id(), seq, len(self._pdq))
        if snapshot.save(self.snapshot_dir / PERCEPTUAL, self._pdq, info):
            self.changes_since_snapshot = 0

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
            window = (Change.seq > self._seq) & (Change.seq <= seq)
            added = session.execute(
                select(ContentSignal.id, ContentSignal.signal_type, ContentSignal.value)
                .join(
                    Change,
                    ContentSignal.id.between(Change.signal_id, Change.last_signal_id),
                )
                .where(window, Change.op == "add")
            ).all()
            removed = [
                signal_id
                for first, last in session.execute(
                    select(Change.signal_id, Change.last_signal_id).where(
                        window, Change.op == "remove"
                    )
                )
                for signal_id in range(first, last + 1)
            ]
            self._apply(added, removed)
            self._seq = seq
        # Signals added and removed again inside the window are simply gone
        # from content_signals, so they are neither added nor found to remove.
        count = len(added) + len(removed)
        self.changes_since_snapshot += count
        return count

    def _apply(self, added: Sequence[Any], removed: list[int]) -> None:
        """Add, then remove (an id is never reused, so the order is safe)."""
        pdq = [(signal_id, value) for signal_id, kind, value in added if kind == PERCEPTUAL]
        if pdq:
            ids, values = zip(*pdq, strict=True)
            self._pdq.add(np.array(ids, dtype=np.int64), words_from_hex(list(values)))
        for signal_id, kind, value in added:
            if kind != PERCEPTUAL:
                self._exact_index(kind).add([(signal_id, value)])
        if removed:
            self._pdq.remove(np.array(removed, dtype=np.int64))
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
        return self._matches(hits, self._content_of(hits), only, include_disabled=include_disabled)

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
            if signal_type == PERCEPTUAL:
                names = list(pdq_transforms or ["original"] * len(values))
                radius = limits.get(PERCEPTUAL, get_signal_type(PERCEPTUAL).default_threshold)
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
        query = {name: [value] for name, value in result.signals.items() if name != PERCEPTUAL}
        transforms = None
        if PERCEPTUAL in result.signals and result.quality.get(PERCEPTUAL, 0) >= MIN_MATCH_QUALITY:
            dihedral = result.dihedral.get(PERCEPTUAL)
            query[PERCEPTUAL] = dihedral or [result.signals[PERCEPTUAL]]
            transforms = list(DIHEDRAL_TRANSFORMS) if dihedral else ["original"]
        return self.match_hashes(query, banks=banks, pdq_transforms=transforms)

    def _radius_limits(self) -> dict[str, int]:
        """Per signal type, the largest threshold any bank uses (cached for
        ``LIMITS_SECONDS``: thresholds change rarely, lookups constantly)."""
        cached = self._limits
        if cached is not None and time.monotonic() - cached[0] < LIMITS_SECONDS:
            return cached[1]
        limits = self._read_radius_limits()
        self._limits = (time.monotonic(), limits)
        return limits

    def _read_radius_limits(self) -> dict[str, int]:
        with self.database.reading() as session:
            limits: dict[str, int] = {}
            all_thresholds: list[dict[str, int]] = list(session.scalars(select(Bank.thresholds)))
            for thresholds in all_thresholds:
                for name, value in thresholds.items():
                    limits[name] = max(limits.get(name, 0), int(value))
        default = get_signal_type(PERCEPTUAL).default_threshold
        limits[PERCEPTUAL] = max(limits.get(PERCEPTUAL, default), default)
        return limits

    def _content_of(self, hits: list[_Hit]) -> dict[int, tuple[Content, Bank]]:
        """The content and bank behind each hit's signal id."""
        if not hits:
            return {}
        with self.database.reading() as session:
            rows = session.execute(
                select(ContentSignal.id, Content, Bank)
                .join(Content, Content.id == ContentSignal.content_id)
                .join(Bank, Bank.id == Content.bank_id)
                .where(ContentSignal.id.in_({hit.signal_id for hit in hits}))
            ).all()
        return {signal_id: (content, bank) for signal_id, content, bank in rows}

    def _matches(
        self,
        hits: list[_Hit],
        content_of: dict[int, tuple[Content, Bank]],
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
            content, bank = content_of[hit.signal_id]
            threshold = bank.thresholds.get(
                hit.signal_type, get_signal_type(hit.signal_type).default_threshold
            )
            disabled = content.disabled_until is not None and as_utc(content.disabled_until) > now
            if hit.distance > threshold:
                continue
            if not include_disabled and (not bank.enabled or disabled):
                continue
            if bank.kind == "allowlist":
                allowlisted.append(bank.name)
                continue
            if only_banks is not None and bank.name not in only_banks:
                continue
            matches.append(
                Match(
                    bank.name,
                    content.id,
                    hit.signal_type,
                    hit.distance,
                    hit.transform,
                    list(bank.labels),
                    list(content.labels),
                    content.external_id,
                    content.source,
                    dict(content.source_metadata),
                )
            )
        if allowlisted:
            names = sorted(set(allowlisted))
            matches = [
                Match(**{**match.__dict__, "suppressed": True, "suppressed_by": names})
                for match in matches
            ]
        return sorted(matches, key=lambda m: (m.distance, m.bank, m.content_id, m.signal_type))


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
        query = query.where(ContentSignal.signal_type != PERCEPTUAL)
    pdq: list[tuple[int, str]] = []
    exact: dict[str, list[tuple[int, str]]] = {}
    for signal_id, signal_type, value in session.execute(query):
        if signal_type == PERCEPTUAL:
            pdq.append((signal_id, value))
        else:
            exact.setdefault(signal_type, []).append((signal_id, value))
    return pdq, exact
