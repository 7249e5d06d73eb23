"""Candidate bank images for a query: a vote over close descriptors.

Every stored descriptor goes into one :class:`~hashmatch.index.live.HammingIndex`
(multi-index hashing) under the id ``slot << SLOT_SHIFT | keypoint``, where
a slot numbers a bank image.  Each query descriptor has one vote, shared
evenly among the bank images with a descriptor within ``radius`` bits that
it finds: a descriptor that reaches many images (a flat patch, a plain edge,
a screenshot's interface) says little about any of them.  Images with the
most votes are the candidates that geometric verification then checks.
Sharing the vote took a photo inside a screenshot from 0.60 to 0.82 recall
on the evaluation sets (docs/robust-matching.md): the interface's
descriptors had outvoted the photo's own image.

**Chunk-exact probes.**  The index cuts the 256 bits into chunks of about
log2(descriptors) bits (11 chunks of 23 bits at 20M descriptors).  An exact
search within 16 bits must also probe every key one bit away from six of
the query's chunks (149 buckets per descriptor); here each chunk is probed
at its exact value only (11 buckets), all query descriptors in one compiled
call.  That is exact up to ``chunks - 1`` bits (10 at 11 chunks); beyond, a
pair is found when one chunk is untouched, as it mostly is for true matches
(median 14 bits apart) and rarely for the unrelated pairs that crowd in
beyond ~32 bits.  Since the buckets read no longer depend on the radius, the
radius only filters what they hold: at 32 bits, rotated and half-size
copies get three to five times the votes they had from an exact search at
16, for the same time.  A vote only has to find *some* true matches
(verification re-matches the candidate's whole descriptor set, within 40
bits).
"""

from __future__ import annotations

import numpy as np

from hashmatch.index.hamming import words_from_bytes
from hashmatch.index.live import HammingIndex

#: Low bits of a descriptor id that hold the keypoint's position in its image.
SLOT_SHIFT = 10
MAX_KEYPOINTS_PER_SLOT = 1 << SLOT_SHIFT
#: Default search radius in bits (see the module docstring).  Measured on
#: the sample photos with 11 chunks, radius 16 -> 24 -> 32: a 3 degree
#: rotation's median vote rose 16 -> 38 -> 49 and a half-size copy's
#: 7 -> 24 -> 40, while unrelated photos got at most 0 -> 2 -> 9 votes; every
#: edit then reaches the recall verification alone allows.
SEARCH_RADIUS = 32
#: Bits each chunk of the index is probed within (see the module docstring).
PROBE_RADIUS = 0


def descriptor_ids(slot: int, count: int) -> np.ndarray:
    return (np.int64(slot) << SLOT_SHIFT) | np.arange(count, dtype=np.int64)


class DescriptorIndex:
    """Descriptors of many bank images, searchable by Hamming radius."""

    def __init__(self, index: HammingIndex | None = None) -> None:
        self._index = index or HammingIndex()

    @classmethod
    def build(cls, slots: list[int], descriptor_sets: list[np.ndarray]) -> DescriptorIndex:
        """An index built in one go (faster than adding images one by one)."""
        ids = [descriptor_ids(s, len(d)) for s, d in zip(slots, descriptor_sets, strict=True)]
        if not ids:
            return cls()
        hashes = words_from_bytes(np.concatenate(descriptor_sets))
        return cls(HammingIndex(np.concatenate(ids), hashes))

    def __len__(self) -> int:
        return len(self._index)

    def add(self, slot: int, descriptors: np.ndarray) -> None:
        if len(descriptors) > MAX_KEYPOINTS_PER_SLOT:
            raise ValueError(f"at most {MAX_KEYPOINTS_PER_SLOT} descriptors per image")
        if len(descriptors):
            self._index.add(descriptor_ids(slot, len(descriptors)), words_from_bytes(descriptors))

    def remove(self, slot: int, count: int) -> None:
        self._index.remove(descriptor_ids(slot, count))

    def votes(
        self, descriptors: np.ndarray, radius: int = SEARCH_RADIUS
    ) -> tuple[np.ndarray, np.ndarray]:
        """(slots, votes), most votes first.  Each query descriptor has one
        vote, split evenly among the slots it finds (float votes)."""
        if not len(descriptors):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        numbers, ids, _ = self._index.search_batch(
            words_from_bytes(descriptors), radius, max_probe=PROBE_RADIUS
        )
        # One vote per (query descriptor, slot): many keypoints of one bank
        # image near one query descriptor still count once.
        pairs = np.unique((ids >> SLOT_SHIFT) * len(descriptors) + numbers)
        pair_slots, pair_queries = pairs // len(descriptors), pairs % len(descriptors)
        # A descriptor close to many bank images (a flat patch, a plain
        # edge: interface chrome in a screenshot) says little about any of
        # them: its vote is shared among the images it reaches.
        reach = np.bincount(pair_queries, minlength=len(descriptors))
        slots, at = np.unique(pair_slots, return_inverse=True)
        votes = np.bincount(at, weights=1.0 / reach[pair_queries])
        order = np.argsort(-votes, kind="stable")
        return slots[order], votes[order]
