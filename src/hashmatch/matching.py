"""Matching: which bank content a file or a hash matches.

    matcher = Matcher(database)
    matcher.match_hashes({"pdq": ["f8f8...9b22"]})
    matcher.match_file("upload.jpg")

A matcher puts three parts together, each usable alone:

* :class:`~hashmatch.live_indexes.LiveIndexes`, the in-memory indexes that
  follow the change log (:meth:`Matcher.refresh`), so content added anywhere
  is matchable after the next refresh without a rebuild;
* :class:`~hashmatch.match_policy.BankRules`, the banks' thresholds and the
  rules (disabled content, allowlists) that turn index hits into matches;
* :mod:`hashmatch.video_matching`, shares and segments for video;
* :class:`~hashmatch.feature_banks.FeatureBanks`, the second stage (local
  features) of the banks that use it, following the same log, and
  :mod:`hashmatch.feature_matching`, its rules.

Every signal type is searched as its type says: a Hamming type by distance,
through its rotations and flips when the query has them, unless the hash's
quality is under the type's floor; a text-search type (keywords) by the
banked phrases its query text contains; any other type byte for byte.  An
email address or a username is also searched as the keyed value it has under
each of the coalition's identifier keys (:mod:`hashmatch.hub.identifiers`),
so that one pulled from the hub as a keyed hash matches this instance's own.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from hashmatch.feature_banks import FeatureBanks
from hashmatch.feature_matching import with_local_features
from hashmatch.hashing import FileHashes, HashRequest, hash_file
from hashmatch.hub.identifiers import IdentifierKey, bank_values, parse_keys
from hashmatch.live_indexes import LiveIndexes, hamming_type, space_of
from hashmatch.match_policy import BankRules, Hit, Match, best_per_signal
from hashmatch.signals import get_signal_type, is_text_search
from hashmatch.signals.base import DihedralSignalType, FrameHash
from hashmatch.store import ContentSignal, Database
from hashmatch.video_matching import collapse_frames, match_video, video_shares

if TYPE_CHECKING:
    from hashmatch.settings import Settings

__all__ = ["Match", "Matcher"]


class Matcher:
    """Matches queries against every bank, kept current from the change log."""

    def __init__(
        self,
        database: Database,
        snapshot_dir: Path | None = None,
        *,
        identifier_keys: Sequence[IdentifierKey] = (),
    ) -> None:
        """Load the indexes: from ``snapshot_dir`` plus later changes when it
        holds snapshots of this database, else from the database (and then
        write the snapshots there).  ``identifier_keys``: the keys emails and
        usernames are also searched as keyed values under."""
        self.database = database
        self.identifier_keys = tuple(identifier_keys)
        self.indexes = LiveIndexes(database, snapshot_dir)
        self.rules = BankRules(database)
        self.features = FeatureBanks(database)

    @classmethod
    def configured(cls, database: Database, settings: Settings) -> Matcher:
        """A matcher as the settings say: their snapshot folder and identifier keys."""
        keys = parse_keys(settings.identifier_keys)
        return cls(database, settings.snapshot_dir, identifier_keys=keys)

    # -- the indexes -------------------------------------------------------------

    def refresh(self) -> int:
        """Apply changes logged since the last refresh; how many signals
        (and second-stage bank images) changed."""
        return self.indexes.refresh() + self.features.refresh()

    @property
    def seq(self) -> int:
        """The last change-log entry applied."""
        return self.indexes.seq

    def sizes(self) -> dict[str, int]:
        """Signals in the indexes, per Hamming space and exact type."""
        return self.indexes.sizes()

    def __len__(self) -> int:
        """Hashes in the Hamming indexes (images' and video frames' PDQ, and
        any other perceptual type's)."""
        return self.indexes.hamming_count()

    @property
    def snapshot_due(self) -> bool:
        return self.indexes.snapshot_due

    def save_snapshot(self) -> None:
        self.indexes.save_snapshot()

    def remap_snapshot(self) -> bool:
        return self.indexes.remap_snapshot()

    # -- matching ------------------------------------------------------------------

    def match_hashes(
        self,
        signals: dict[str, list[str]],
        *,
        banks: Iterable[str] | None = None,
        transforms: dict[str, list[str]] | None = None,
        include_disabled: bool = False,
    ) -> list[Match]:
        """Matches of given hashes (canonical strings).  A Hamming type's list
        holds one hash, or its rotated and flipped hashes named by
        ``transforms[type]``; a text-search type's list holds texts (as
        :func:`~hashmatch.signals.parse_query` gives them).  ``include_disabled``
        also returns disabled content and banks (HMA's raw lookup)."""
        hits = self._hits(signals, transforms or {})
        only = set(banks) if banks else None
        matches = self.rules.matches(
            hits, self.rules.hit_details(hits), only, include_disabled=include_disabled
        )
        return collapse_frames(matches)

    def match_many(
        self, queries: list[tuple[str, str]], *, banks: Iterable[str] | None = None
    ) -> list[list[Match]]:
        """Matches of each (signal type, hash) query, looked up in one database read."""
        hit_lists = [self._hits({kind: [value]}, {}) for kind, value in queries]
        return self._resolve(hit_lists, banks)

    def match_frames(
        self, signal_type: str, frames: list[FrameHash], *, banks: Iterable[str] | None = None
    ) -> list[list[Match]]:
        """For each of a query video's frames, the bank images and video frames
        it matches, through its rotations and flips when it has them (one
        database read for all)."""
        names = _transform_names(signal_type)
        hit_lists = [
            self._hits({signal_type: list(frame.dihedral)}, {signal_type: names})
            if frame.dihedral
            else self._hits({signal_type: [frame.hash]}, {})
            for frame in frames
        ]
        return self._resolve(hit_lists, banks)

    def _resolve(
        self, hit_lists: list[list[Hit]], banks: Iterable[str] | None
    ) -> list[list[Match]]:
        details = self.rules.hit_details([hit for hits in hit_lists for hit in hits])
        only = set(banks) if banks else None
        return [self.rules.matches(hits, details, only) for hits in hit_lists]

    def frame_counts(self, signal_type: str, content_ids: list[int]) -> dict[int, int]:
        """Frames good enough to match of each bank video (a frame's cropped
        variants are the same frame)."""
        if not content_ids:
            return {}
        floor = getattr(get_signal_type(signal_type), "min_match_quality", 0)
        with self.database.reading() as session:
            rows = session.execute(
                select(ContentSignal.content_id, func.count(func.distinct(ContentSignal.frame)))
                .where(
                    ContentSignal.content_id.in_(content_ids),
                    ContentSignal.signal_type == signal_type,
                    ContentSignal.quality >= floor,
                )
                .group_by(ContentSignal.content_id)
            )
            return {int(content_id): int(count) for content_id, count in rows}

    def video_shares(self, signal_type: str, bank: str) -> dict[str, int]:
        """A bank's video thresholds for a video type, in percent."""
        return video_shares(signal_type, self.rules.thresholds(bank))

    def _hits(self, signals: dict[str, list[str]], transforms: dict[str, list[str]]) -> list[Hit]:
        """Index hits, one per bank signal (the closest transform of the query)."""
        hits: list[Hit] = []
        for signal_type, values in signals.items():
            space = space_of(signal_type)
            if space is None:
                search = (
                    self.indexes.search_text
                    if is_text_search(signal_type)
                    else self.indexes.search_exact
                )
                for value in values:
                    for wanted in (value, *bank_values(self.identifier_keys, signal_type, value)):
                        hits.extend(
                            Hit(i, signal_type, 0, None) for i in search(signal_type, wanted)
                        )
                continue
            radius = self.rules.radius(space)
            names = transforms.get(signal_type) or ["original"] * len(values)
            for value, transform in zip(values, names, strict=True):
                ids, distances = self.indexes.search_hamming(space, value, radius)
                hits.extend(
                    Hit(int(i), signal_type, int(d), transform)
                    for i, d in zip(ids, distances, strict=True)
                )
        return best_per_signal(hits)

    def match_file(
        self, path: str | os.PathLike[str], request: HashRequest | None = None
    ) -> tuple[FileHashes, list[Match]]:
        """Hash a file (with its rotations and flips, cleaned of a border or
        caption band, and by local features where a bank uses them) and match it."""
        asked = request or HashRequest(dihedral=True, query_cleanup=True)
        result = hash_file(path, replace(asked, feature_query=bool(self.features)))
        return result, self.match_result(result)

    def match_result(
        self, result: FileHashes, *, banks: Iterable[str] | None = None
    ) -> list[Match]:
        """Matches of a hashed file; a file that failed to hash matches nothing."""
        if not result.ok:
            return []
        query, transforms = _query(result)
        matches = self.match_hashes(query, banks=banks, transforms=transforms)
        matches += self._cleaned_matches(result, matches, banks)
        matches = with_local_features(self, result, matches, banks)
        for name, frames in result.frames.items():
            matches += match_video(self, name, frames, banks=banks)
        return matches

    def allowlisted(self, result: FileHashes) -> list[str]:
        """The allowlist banks a hashed file's own hashes match."""
        hits = self._hits(*_query(result))
        return self.rules.allowlists(hits, self.rules.hit_details(hits))

    def _cleaned_matches(
        self, result: FileHashes, found: list[Match], banks: Iterable[str] | None
    ) -> list[Match]:
        """Matches of the query's cleaned image (border or caption band cut
        off) that its own hashes did not find: the original's win."""
        seen = {(match.bank, match.content_id) for match in found}
        extra: list[Match] = []
        for name, cleaned in result.cleaned.items():
            signal_type = hamming_type(name)
            if signal_type is None or cleaned.quality < signal_type.min_match_quality:
                continue
            for match in self.match_hashes({name: [cleaned.value]}, banks=banks):
                if (match.bank, match.content_id) in seen:
                    continue
                seen.add((match.bank, match.content_id))
                extra.append(replace(match, query="cleaned", cleanup=cleaned.removed))
        return extra


def _transform_names(signal_type: str) -> list[str]:
    """The names of a type's rotations and flips (PDQ's, for a video frame type
    whose frames are hashed as its space's images are)."""
    for name in (signal_type, space_of(signal_type) or signal_type):
        candidate: Any = get_signal_type(name)
        if isinstance(candidate, DihedralSignalType):
            return list(candidate.transforms)
    return []


def _query(result: FileHashes) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """A hashed file's hashes to search, and their transforms' names: a
    Hamming type's through its rotations and flips when hashed with them,
    unless its quality is under the type's floor."""
    query: dict[str, list[str]] = {}
    transforms: dict[str, list[str]] = {}
    for name, value in result.signals.items():
        signal_type = hamming_type(name)
        if signal_type is None:
            query[name] = [value]
        elif result.quality.get(name, signal_type.min_match_quality) >= (
            signal_type.min_match_quality
        ):
            dihedral = result.dihedral.get(name)
            query[name] = dihedral or [value]
            if dihedral:
                transforms[name] = _transform_names(name)
    return query, transforms
