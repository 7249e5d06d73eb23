"""Geometric verification: do enough matches agree on one similarity transform?

Plain homography or affine RANSAC finds 60-136 "inliers" between unrelated
photos: many query keypoints pile onto one bank keypoint and any
degenerate fit explains them.  Here matches are one-to-one (mutual nearest
neighbours within :data:`MATCH_RADIUS` bits), the model is a similarity
(rotation, uniform scale, translation) whose scale must lie in 1/8..8 and
that explains at least :data:`MIN_INLIER_SHARE` of the matches, and inliers
are counted once per distinct position on each side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from hashmatch.features.extract import Features

#: Descriptor distance, in bits, beyond which a pair is not a match.
MATCH_RADIUS = 40
#: Scale between bank image and query the model may have.
MIN_SCALE = 1 / 8
MAX_SCALE = 8.0
#: RANSAC reprojection threshold as a share of the query's longest side.
REPROJECTION_SHARE = 0.01
_MIN_REPROJECTION_PX = 3.0
_RANSAC_ITERATIONS = 2000
#: Fewer mutual matches than this cannot verify anything.
_MIN_MATCHES = 8
#: Share of the mutual matches a fit must explain.  A repeating pattern (a
#: lattice, a tiled texture) gives many mutual matches, its corners all
#: alike, and a shift by one period explains a fifth to a quarter of them:
#: two different tiles of GNOME's ``licorice`` verified with 24-28 inliers.
#: Copies found by the stage explained a third or more (docs/robust-matching.md).
MIN_INLIER_SHARE = 0.3


def mutual_matches(query: np.ndarray, bank: np.ndarray, radius: int = MATCH_RADIUS) -> np.ndarray:
    """(k, 2) pairs (query row, bank row) that are each other's nearest neighbour."""
    if len(query) == 0 or len(bank) == 0:
        return np.zeros((0, 2), np.int64)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
    pairs = [(m.queryIdx, m.trainIdx) for m in matcher.match(query, bank) if m.distance <= radius]
    return np.array(pairs, np.int64).reshape(-1, 2)


def _distinct(points: np.ndarray) -> int:
    """Distinct positions, to the pixel: keypoints of one corner at several scales count once."""
    return int(np.unique(np.rint(points).astype(np.int64), axis=0).shape[0])


@dataclass(frozen=True)
class Fit:
    """The best similarity RANSAC found between a bank image and a query.

    ``inliers`` is what a match is judged by: the distinct inliers, or 0 when
    the fit is rejected (too few matches, scale out of range, too small a
    share).  ``agreeing`` (the matches the fit explains, rejected or not)
    and ``degrees`` (the bank image's rotation in the query) tell a near
    miss at an angle, which the matcher tries again with the query turned
    upright.
    """

    inliers: int
    agreeing: int = 0
    degrees: float = 0.0


def similarity_fit(query: Features, bank: Features) -> Fit:
    """The similarity transform from bank image to query most matches agree on."""
    pairs = mutual_matches(query.descriptors, bank.descriptors)
    if pairs.shape[0] < _MIN_MATCHES:
        return Fit(0)
    source = bank.points[pairs[:, 1]].astype(np.float32)
    target = query.points[pairs[:, 0]].astype(np.float32)
    threshold = max(_MIN_REPROJECTION_PX, REPROJECTION_SHARE * max(query.width, query.height))
    model, mask = cv2.estimateAffinePartial2D(
        source,
        target,
        method=cv2.RANSAC,
        ransacReprojThreshold=threshold,
        maxIters=_RANSAC_ITERATIONS,
        confidence=0.995,
    )
    if model is None or mask is None:
        return Fit(0)
    inliers = mask.ravel().astype(bool)
    agreeing = int(inliers.sum())
    degrees = math.degrees(math.atan2(model[1, 0], model[0, 0]))
    scale = float(np.hypot(model[0, 0], model[1, 0]))
    if not MIN_SCALE <= scale <= MAX_SCALE:
        return Fit(0, agreeing, degrees)
    if agreeing < MIN_INLIER_SHARE * pairs.shape[0]:
        return Fit(0, agreeing, degrees)  # a repeated pattern's shift, not a copy
    distinct = min(_distinct(source[inliers]), _distinct(target[inliers]))
    return Fit(distinct, agreeing, degrees)


def inlier_count(query: Features, bank: Features) -> int:
    """Matches consistent with one similarity transform from bank to query (0 if none)."""
    return similarity_fit(query, bank).inliers
