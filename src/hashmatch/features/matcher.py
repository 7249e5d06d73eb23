"""The second stage as one object: add bank images, query with a picture.

    matcher = LocalFeatureMatcher()
    blob = matcher.add("photo-1", image)      # keep ``blob`` to reload later
    matcher.add_stored("photo-1", blob)       # e.g. after a restart
    matcher.query(edited_copy)                # [("photo-1", 87)]

A query is searched as it is and, only when that finds nothing, mirrored
(ORB descriptors are not mirror-invariant; a mirrored re-share is rarer than
the others and a second extraction and search would double every query).
The first :data:`VOTE_KEYPOINTS` query descriptors (spread over the image)
vote; the best-voted bank images are verified geometrically against all of
them, and one is reported with its inlier count when that reaches
``min_inliers``.  When none does but a fit at an angle came close (a
rotated copy: ORB's descriptors follow a rotation only roughly), the query
is turned upright by that angle, extracted once more and verified again.
Thread-safe: queries run alongside adds and removals.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from hashmatch.features.extract import Features, extract_features, turned_features, working_gray
from hashmatch.features.search import SEARCH_RADIUS, DescriptorIndex
from hashmatch.features.storage import decode_features, encode_features
from hashmatch.features.verify import Fit, inlier_count, similarity_fit

#: Verified inliers a match needs.  On the evaluation sets (523 bank
#: pictures, 3,025 queries, benchmarks/local_features_margin.py) no wrong
#: picture among the 30 best-voted reached more than 7; on the sample
#: photos, edited copies had a median of 64 to 193 by edit
#: (benchmarks/local_features_recall.py, docs/robust-matching.md).
MIN_INLIERS = 24
#: Bank images verified per query orientation, best-voted first.
CANDIDATES = 12
#: Votes a bank image needs before it is worth verifying (votes are shared
#: among the images a descriptor reaches, so this is about three distinctive
#: descriptors in agreement).
MIN_VOTES = 3
#: Query descriptors that vote (the search's cost is proportional to them).
VOTE_KEYPOINTS = 250
#: A rejected fit is a near miss worth a turned query when it explains this
#: many matches and turns the bank image by TURN_DEGREES (below, turning
#: changes nothing; beyond, the edit is not a small rotation).
NEAR_MISS_AGREEING = 12
TURN_DEGREES = (1.5, 45.0)
#: Near misses whose angles differ by at most this share one turned query.
SAME_TURN_DEGREES = 3.0


@dataclass(frozen=True)
class _Entry:
    slot: int
    features: Features


class QueryFeatures:
    """A query picture's features, extracted once for every matcher it is
    searched in: the picture as it is now; the mirrored one, and the picture
    turned upright by a near miss's angle, only when a matcher first asks."""

    def __init__(self, image: Image.Image | np.ndarray) -> None:
        self._gray = working_gray(image)
        self.plain = extract_features(self._gray)
        self._mirrored: Features | None = None
        self._turned: dict[tuple[bool, float], Features] = {}

    @property
    def mirrored(self) -> Features:
        if self._mirrored is None:  # two threads may both extract: same result
            self._mirrored = extract_features(self._source(mirrored=True))
        return self._mirrored

    def view(self, mirrored: bool) -> Features:
        return self.mirrored if mirrored else self.plain

    def turned(self, mirrored: bool, degrees: float) -> Features:
        """The view turned by ``degrees``, kept to a tenth of a degree: what a
        coarser turn leaves of the rotation costs inliers again."""
        key = (mirrored, round(degrees, 1))
        if key not in self._turned:  # two threads may both turn it: same result
            self._turned[key] = turned_features(self._source(mirrored), key[1])
        return self._turned[key]

    @property
    def turns(self) -> int:
        """Turned extractions made so far (each costs about one extraction)."""
        return len(self._turned)

    def _source(self, mirrored: bool) -> np.ndarray:
        return np.ascontiguousarray(self._gray[:, ::-1]) if mirrored else self._gray


class LocalFeatureMatcher:
    """Bank images by content id, matched by verified local features."""

    def __init__(
        self,
        min_inliers: int = MIN_INLIERS,
        search_radius: int = SEARCH_RADIUS,
        candidates: int = CANDIDATES,
    ) -> None:
        if min_inliers < 1:
            raise ValueError("min_inliers must be at least 1")
        self.min_inliers = min_inliers
        self.search_radius = search_radius
        self.candidates = candidates
        self._lock = threading.Lock()
        self._index = DescriptorIndex()
        self._entries: dict[Hashable, _Entry] = {}
        self._content_of_slot: dict[int, Hashable] = {}
        self._next_slot = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, content_id: Hashable) -> bool:
        return content_id in self._entries

    def add(self, content_id: Hashable, image: Image.Image | np.ndarray) -> bytes:
        """Index an image's features; returns the blob to store (empty features
        for a textureless image are stored too, and never match)."""
        blob = encode_features(extract_features(image))
        self.add_stored(content_id, blob)
        return blob

    def add_stored(self, content_id: Hashable, blob: bytes) -> None:
        """Index features kept from :meth:`add`; replaces any under the same id."""
        features = decode_features(blob)
        with self._lock:
            self._remove_locked(content_id)
            slot = self._next_slot
            self._next_slot += 1
            self._index.add(slot, features.descriptors)
            self._entries[content_id] = _Entry(slot, features)
            self._content_of_slot[slot] = content_id

    def remove(self, content_id: Hashable) -> bool:
        """Stop matching a bank image; False if it was not there."""
        with self._lock:
            return self._remove_locked(content_id)

    def _remove_locked(self, content_id: Hashable) -> bool:
        entry = self._entries.pop(content_id, None)
        if entry is None:
            return False
        self._index.remove(entry.slot, len(entry.features))
        del self._content_of_slot[entry.slot]
        return True

    def query(self, image: Image.Image | np.ndarray | QueryFeatures) -> list[tuple[Hashable, int]]:
        """Bank images that match, with verified inliers, most first.  Several
        matchers can share one :class:`QueryFeatures` (one extraction)."""
        views = image if isinstance(image, QueryFeatures) else QueryFeatures(image)
        found = self._verified(views, mirrored=False)
        if not found:
            found = self._verified(views, mirrored=True)
        return sorted(found, key=lambda item: -item[1])

    def candidates_of(self, features: Features, limit: int) -> list[tuple[Hashable, Features]]:
        """Up to ``limit`` bank images with enough votes, best-voted first."""
        if not len(features):
            return []
        slots, votes = self._index.votes(features.descriptors[:VOTE_KEYPOINTS], self.search_radius)
        found = []
        for slot in slots[votes >= MIN_VOTES][:limit]:
            content_id = self._content_of_slot.get(int(slot))
            entry = None if content_id is None else self._entries.get(content_id)
            if entry is not None and entry.slot == slot:  # else removed or replaced since
                found.append((content_id, entry.features))
        return found

    def inliers(
        self, views: QueryFeatures, mirrored: bool, banked: Sequence[Features]
    ) -> list[int]:
        """Verified inliers of each bank image in one view of the query.

        When none reaches ``min_inliers``, the near misses at about one angle
        (the one whose fit explains most) are verified again against the view
        turned upright by that angle.
        """
        features = views.view(mirrored)
        fits = [similarity_fit(features, bank) for bank in banked]
        counts = [fit.inliers for fit in fits]
        near = [i for i, fit in enumerate(fits) if self._near_miss(fit)]
        if max(counts, default=0) >= self.min_inliers or not near:
            return counts
        degrees = max((fits[i] for i in near), key=lambda fit: fit.agreeing).degrees
        turned = views.turned(mirrored, degrees)
        for i in near:
            if abs(fits[i].degrees - degrees) <= SAME_TURN_DEGREES:
                counts[i] = max(counts[i], inlier_count(turned, banked[i]))
        return counts

    def _near_miss(self, fit: Fit) -> bool:
        low, high = TURN_DEGREES
        return (
            fit.inliers < self.min_inliers
            and fit.agreeing >= NEAR_MISS_AGREEING
            and low <= abs(fit.degrees) <= high
        )

    def _verified(self, views: QueryFeatures, mirrored: bool) -> list[tuple[Hashable, int]]:
        found = self.candidates_of(views.view(mirrored), self.candidates)
        counts = self.inliers(views, mirrored, [features for _, features in found])
        return [
            (content_id, count)
            for (content_id, _), count in zip(found, counts, strict=True)
            if count >= self.min_inliers
        ]
