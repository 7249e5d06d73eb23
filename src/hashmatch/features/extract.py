"""ORB keypoints and 256-bit descriptors, spread over the image.

Three choices differ from OpenCV's defaults, each for a measured reason:

* **The lowest FAST threshold, with a cap.**  At the default 20, soft or
  blurry photos give fewer than 20 keypoints; we detect at
  :data:`FAST_THRESHOLD` (1), and a busy photo's flood of corners is capped
  by ORB's Harris ranking (:data:`CANDIDATES_PER_KEPT` per keypoint kept)
  and then by the grid.  There is no absolute floor on the Harris score:
  it scales with contrast, and a floor (1e-5) left 38% of the wallpaper
  tiles of the evaluation sets with no features at all.
* **Keypoints spread over a grid.**  Overlays (stickers, watermark text) and
  the chrome of a screenshot have the strongest corners; taking the best
  keypoints per grid cell in turn keeps the picture's own corners.
* **A working size, no smaller.**  Images are brought down to
  :data:`WORKING_SIZE` on the longest side and never further, so a photo at
  60% of a large screenshot keeps its detail.  Very small images are
  enlarged to :data:`MIN_WORKING_SIZE`.

An image with almost no texture yields no features: it belongs to the global
hash stage only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

#: Longest side, in pixels, images are reduced to (never below).
WORKING_SIZE = 1024
#: Smaller images are enlarged to this longest side: a half-size copy of a
#: small photo then keeps enough corners (0.77 -> 0.87 recall at half size of
#: 480-pixel photos; enlarging to 512 cost crops more than it gained).
MIN_WORKING_SIZE = 360
#: FAST threshold: the lowest, so that soft, low-contrast pictures (gradients,
#: wallpaper) have corners; the Harris ranking then keeps the best.
FAST_THRESHOLD = 1
#: Corners detected per keypoint kept: the grid then chooses among them.
CANDIDATES_PER_KEPT = 4
#: Keypoints kept for a query; a stored bank image keeps the first 200 of
#: them (see storage).  1,000 rather than 500: a query's corners must include
#: the bank image's few, and an overlay or a screenshot's interface takes
#: its share (photo in a screenshot 0.82 -> 0.91, watermark 0.89 -> 0.97 on
#: the evaluation sets; about 4 ms more per extraction).
MAX_KEYPOINTS = 1000
#: Fewer keypoints than this: too little texture for the second stage.
MIN_KEYPOINTS = 40
#: Grid cells per side used to spread keypoints.
GRID = 8
#: Pyramid levels per scale band: every band gets its share of keypoints, so
#: a copy at half size still meets the bank image's coarser corners.
OCTAVES_PER_BAND = 3
_PYRAMID_LEVELS = 8
_PYRAMID_SCALE = 1.2
_PATCH = 31


@dataclass(frozen=True)
class Features:
    """Keypoints of one image in working-size pixels, best first.

    ``points`` is (n, 2) float32 x, y; ``octaves`` (n,) uint8 pyramid level;
    ``angles`` (n,) float32 degrees; ``descriptors`` (n, 32) uint8.
    """

    width: int
    height: int
    points: np.ndarray
    octaves: np.ndarray
    angles: np.ndarray
    descriptors: np.ndarray

    def __len__(self) -> int:
        return int(self.descriptors.shape[0])

    def head(self, count: int) -> Features:
        """The first ``count`` keypoints (the spread order keeps coverage)."""
        return Features(
            self.width,
            self.height,
            self.points[:count],
            self.octaves[:count],
            self.angles[:count],
            self.descriptors[:count],
        )

    @classmethod
    def empty(cls, width: int = 0, height: int = 0) -> Features:
        return cls(
            width,
            height,
            np.zeros((0, 2), np.float32),
            np.zeros(0, np.uint8),
            np.zeros(0, np.float32),
            np.zeros((0, 32), np.uint8),
        )


def working_gray(image: Image.Image | np.ndarray) -> np.ndarray:
    """8-bit grayscale at most :data:`WORKING_SIZE` on its longest side."""
    if isinstance(image, Image.Image):
        gray = np.asarray(image.convert("L"))
    else:
        array = np.asarray(image)
        if array.ndim == 3:
            code = cv2.COLOR_RGBA2GRAY if array.shape[2] == 4 else cv2.COLOR_RGB2GRAY
            array = cv2.cvtColor(array, code)
        gray = array
    if gray.dtype != np.uint8:
        raise ValueError(f"expected an 8-bit image, got {gray.dtype}")
    height, width = gray.shape
    longest = max(height, width)
    if longest > WORKING_SIZE or longest < MIN_WORKING_SIZE:
        factor = min(WORKING_SIZE, max(MIN_WORKING_SIZE, longest)) / longest
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        shrink = factor < 1
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return np.ascontiguousarray(gray)


def _detect(gray: np.ndarray, limit: int, mask: np.ndarray | None) -> list[cv2.KeyPoint]:
    """Corners at the low threshold, capped: ORB keeps the best by Harris score."""
    return list(_orb(FAST_THRESHOLD, nfeatures=limit * CANDIDATES_PER_KEPT).detect(gray, mask))


def _orb(threshold: int, nfeatures: int) -> cv2.ORB:
    return cv2.ORB.create(
        nfeatures=nfeatures,
        scaleFactor=_PYRAMID_SCALE,
        nlevels=_PYRAMID_LEVELS,
        edgeThreshold=_PATCH,
        patchSize=_PATCH,
        fastThreshold=threshold,
    )


def spread(keypoints: Sequence[cv2.KeyPoint], width: int, height: int, limit: int) -> list[int]:
    """Indices of up to ``limit`` keypoints, taken round-robin over a grid.

    Each round takes the next-best keypoint of every cell that has one, so
    a cell full of overlay text gives one keypoint per round like any other
    cell.  The order is the order of rounds: any prefix is spread too.
    """
    if not keypoints:
        return []
    xs = np.array([kp.pt[0] for kp in keypoints])
    ys = np.array([kp.pt[1] for kp in keypoints])
    responses = np.array([kp.response for kp in keypoints])
    bands = np.array([kp.octave for kp in keypoints]) // OCTAVES_PER_BAND
    cells = (
        bands * GRID * GRID
        + np.minimum((ys * GRID / height).astype(int), GRID - 1) * GRID
        + np.minimum((xs * GRID / width).astype(int), GRID - 1)
    )
    # Rank within the cell by response, then sort by (rank, -response).
    order = np.lexsort((-responses, cells))
    sorted_cells = cells[order]
    starts = np.searchsorted(sorted_cells, sorted_cells, side="left")
    rank = np.arange(order.shape[0]) - starts
    by_round = np.lexsort((-responses[order], rank))
    return [int(i) for i in order[by_round][:limit]]


def extract_features(
    image: Image.Image | np.ndarray, max_keypoints: int = MAX_KEYPOINTS
) -> Features:
    """ORB features of a decoded image (PIL image or RGB/gray uint8 array).

    Returns empty features when the image has too little texture.
    """
    return _gray_features(working_gray(image), max_keypoints)


def turned_features(gray: np.ndarray, degrees: float) -> Features:
    """Features of a working-size gray image turned by ``degrees`` (the
    angle of a fit from bank image to query, y pointing down), so that a
    rotated copy stands as its bank image does.

    ORB's descriptors follow a rotation only roughly: on copies rotated by
    10 degrees the right fit explained a fifth to a quarter of the matches,
    and the same copy turned upright two fifths or more.  The turned image
    is drawn on a canvas that holds all of it, its corners filled by
    reflection; no keypoint is taken within half a patch of the fill.
    """
    height, width = gray.shape
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    cos, sin = abs(turn[0, 0]), abs(turn[0, 1])
    size = (math.ceil(width * cos + height * sin), math.ceil(width * sin + height * cos))
    turn[:, 2] += (size[0] - width) / 2, (size[1] - height) / 2
    turned = cv2.warpAffine(gray, turn, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    inside = cv2.warpAffine(np.full_like(gray, 255), turn, size, flags=cv2.INTER_NEAREST)
    inside = cv2.erode(inside, np.ones((_PATCH, _PATCH), np.uint8))
    return _gray_features(turned, MAX_KEYPOINTS, inside)


def _gray_features(
    gray: np.ndarray, max_keypoints: int, mask: np.ndarray | None = None
) -> Features:
    """Features of a gray image as it is, keypoints only where ``mask`` is set."""
    height, width = gray.shape
    if min(height, width) <= 2 * _PATCH:
        return Features.empty(width, height)
    detected = _detect(gray, max_keypoints, mask)
    chosen = [detected[i] for i in spread(detected, width, height, max_keypoints)]
    if len(chosen) < MIN_KEYPOINTS:
        return Features.empty(width, height)
    keypoints, descriptors = _orb(FAST_THRESHOLD, len(chosen)).compute(gray, chosen)
    if descriptors is None or len(keypoints) < MIN_KEYPOINTS:
        return Features.empty(width, height)
    # ORB returns keypoints grouped by pyramid level: put them back in spread order.
    order = spread(keypoints, width, height, len(keypoints))
    keypoints = [keypoints[i] for i in order]
    return Features(
        width,
        height,
        np.array([kp.pt for kp in keypoints], np.float32).reshape(-1, 2),
        np.array([kp.octave for kp in keypoints], np.uint8),
        np.array([kp.angle for kp in keypoints], np.float32),
        np.ascontiguousarray(descriptors[order], np.uint8),
    )
