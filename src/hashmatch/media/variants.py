"""Stored variants of a bank image: the crops and small rotations people
re-share, hashed when the image goes into a bank so that those copies match.

    for name, pixels in image_variants(rgb):   # 18 (name, pixels) pairs
        ...

PDQ does not survive a crop of a few percent, nor a small rotation: a copy
with 5% cut off each side is typically 70-120 bits from its original.  A
bank that also holds the hashes of a fixed set of cropped and rotated copies
finds such a re-share through the variant nearest to it.  The set is the
one measured on benign photos (issue 18): centre crops from 95% to 70%, the
four corner and the four one-side 90% windows, and ±2°/±4° rotations
cropped to the largest upright rectangle inside them (no fill colour is
ever hashed).  Orientations stay the original's: storing every variant in
its 8 rotations and flips too gave the first false match.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from PIL import Image

from hashmatch.pdq import MIN_MATCH_QUALITY, hasher

#: Centre crops: the share of width and height kept, in percent.
CENTRE_CROPS = (95, 90, 85, 80, 75, 70)
#: 90% windows in a corner, named by the corner kept (top-left...).
CORNERS = ("tl", "tr", "bl", "br")
#: 90% windows cut on one side only, named by the side kept ("top90" keeps
#: the top 90%: its bottom 10% is cut off).
SIDES = ("top", "bottom", "left", "right")
#: Rotations, in degrees counter-clockwise, each cropped to the largest
#: upright rectangle inside the rotated picture.
ROTATIONS = (-4, -2, 2, 4)
#: The share kept by the corner and one-side windows.
WINDOW = 0.9
#: Variants are hashed from a copy at most this many pixels on its long
#: side.  Rotating a big photo is what costs: the 18 variants of a 12-megapixel
#: photo took 9 s at full size, 0.2 s from the copy.  A 5% crop of a
#: 1920 x 1440 photo then lands at most 16 bits (median 4) from the copy's
#: ``crop90``, where the full size's was 0: well within PDQ's 31.
WORKING_SIDE = 1024

VARIANT_NAMES: tuple[str, ...] = (
    *(f"crop{share}" for share in CENTRE_CROPS),
    *(f"{corner}90" for corner in CORNERS),
    *(f"{side}90" for side in SIDES),
    *(f"rot{degrees}" for degrees in ROTATIONS),
)


def image_variants(rgb: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """Each variant's name and pixels, in :data:`VARIANT_NAMES` order, from
    one decoded (H, W, 3 or 4) uint8 image; crops are views, not copies."""
    height, width = rgb.shape[:2]
    for share in CENTRE_CROPS:
        keep_h, keep_w = _kept(height, share / 100), _kept(width, share / 100)
        top, left = (height - keep_h) // 2, (width - keep_w) // 2
        yield f"crop{share}", rgb[top : top + keep_h, left : left + keep_w]
    keep_h, keep_w = _kept(height, WINDOW), _kept(width, WINDOW)
    rows = {"t": slice(0, keep_h), "b": slice(height - keep_h, height)}
    columns = {"l": slice(0, keep_w), "r": slice(width - keep_w, width)}
    for corner in CORNERS:
        yield f"{corner}90", rgb[rows[corner[0]], columns[corner[1]]]
    yield "top90", rgb[rows["t"]]
    yield "bottom90", rgb[rows["b"]]
    yield "left90", rgb[:, columns["l"]]
    yield "right90", rgb[:, columns["r"]]
    if width < 2 or height < 2:
        return  # nothing to rotate: PDQ hashes such an image as all zeros anyway
    picture = Image.fromarray(np.ascontiguousarray(rgb[..., :3]))
    for degrees in ROTATIONS:
        yield f"rot{degrees}", rotated_and_cropped(picture, degrees)


def rotated_and_cropped(picture: Image.Image, degrees: float) -> np.ndarray:
    """The picture rotated by ``degrees`` (counter-clockwise) and cropped to
    the largest upright rectangle with no pixel from outside the picture.

    Only that rectangle is sampled (one affine transform, as ``rotate``
    does internally): rotating the whole expanded canvas cost twice as much.
    """
    inner_w, inner_h = inscribed_size(picture.width, picture.height, math.radians(degrees))
    # One pixel less on each side: bilinear sampling blends the edge with fill.
    width, height = max(int(inner_w) - 2, 1), max(int(inner_h) - 2, 1)
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    # Output (x, y) samples the input at its centre plus the offset from the
    # output's centre turned back by the angle.
    half_w, half_h = width / 2, height / 2
    matrix = (
        cos,
        -sin,
        picture.width / 2 - cos * half_w + sin * half_h,
        sin,
        cos,
        picture.height / 2 - sin * half_w - cos * half_h,
    )
    turned = picture.transform(
        (width, height), Image.Transform.AFFINE, matrix, resample=Image.Resampling.BILINEAR
    )
    return np.asarray(turned)


def inscribed_size(width: float, height: float, angle: float) -> tuple[float, float]:
    """Width and height of the largest upright rectangle inside a
    ``width`` by ``height`` rectangle rotated by ``angle`` radians.

    When the short side is long enough, all four corners of the upright
    rectangle touch the rotated one's sides; otherwise (a thin strip, or a
    turn near 45°) two corners touch the long sides and the rectangle is
    limited by the short side alone."""
    sin, cos = abs(math.sin(angle)), abs(math.cos(angle))
    long_side, short_side = max(width, height), min(width, height)
    if short_side <= 2 * sin * cos * long_side or abs(sin - cos) < 1e-10:
        half = short_side / 2
        across, along = half / sin if sin else long_side, half / cos
        return (across, along) if width >= height else (along, across)
    cos_2a = cos * cos - sin * sin
    return (width * cos - height * sin) / cos_2a, (height * cos - width * sin) / cos_2a


def pdq_variants(rgb: np.ndarray, original: str) -> dict[str, str]:
    """The PDQ hash of each variant good enough to match (quality at least
    the floor; a flat crop would match too much) and unlike the original's
    and every earlier variant's hash, by variant name."""
    seen = {original}
    hashes: dict[str, str] = {}
    for name, pixels in image_variants(working_copy(rgb)):
        result = hasher.pdq_from_rgb(pixels)
        if result.quality < MIN_MATCH_QUALITY or result.hash.hex in seen:
            continue
        seen.add(result.hash.hex)
        hashes[name] = result.hash.hex
    return hashes


def working_copy(rgb: np.ndarray) -> np.ndarray:
    """The image, reduced (box filter, as PDQ's own blur averages) to at
    most :data:`WORKING_SIDE` pixels on its long side."""
    height, width = rgb.shape[:2]
    scale = WORKING_SIDE / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(round(width * scale), 1), max(round(height * scale), 1))
    picture = Image.fromarray(np.ascontiguousarray(rgb[..., :3]))
    return np.asarray(picture.resize(size, Image.Resampling.BOX))


def _kept(length: int, share: float) -> int:
    return max(round(length * share), 1)
