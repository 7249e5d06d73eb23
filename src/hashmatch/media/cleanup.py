"""Query clean-up: cut a uniform border or a plain caption band off an image,
so that a re-shared copy framed that way hashes like its original.

    cleaned = clean_image(rgb)          # None when there is nothing to remove
    if cleaned is not None:
        pdq_from_rgb(cleaned.pixels)    # an extra query hash
        cleaned.to_json()               # {"border": [t, r, b, l]} or {"caption": "bottom"}

A border is a run of lines at an edge that are flat in one colour (any
colour, black included).  A caption band is a run of lines at the top or
bottom in one flat colour with text drawn on it.  Both must end in a *step*:
the picture next to them differs from their colour over much of the line.
That is the guard for photos whose own edges are flat (a night scene fading
to black, a clear sky): their flat part fades into the picture instead of
stopping at a line, and nothing is cut.

The scan looks at a strided sample of at most :data:`SAMPLES` pixels per line
and only at the outer :data:`MAX_SIDE_SHARE` of each side, so it costs about
the same on any image size; a cut can leave a line or two of border behind
on a large image (PDQ does not see them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

#: Largest share of the height or width one side may lose.
MAX_SIDE_SHARE = 0.35
#: The cleaned image keeps at least this share of the area.
MIN_KEPT_AREA = 0.4
#: A side's border or band is at least this share of the side (and 2 pixels).
MIN_SHARE = 0.005
#: Sampled pixels per line: the stride is the long side over this.
SAMPLES = 128
#: A pixel is "of the colour" when no channel differs by more than this.
TOLERANCE = 14
#: A line is flat when this share of its samples is of the colour.
FLAT = 0.94
#: A caption line (text on the band) still has this share of the colour.
BAND = 0.5
#: The step: within STEP_LINES sampled lines past a border, this share of a
#: line differs from the border's colour.
STEP = 0.35
STEP_LINES = 3
#: A text line changes between band colour and ink this many times.
TEXT_CHANGES = 6
#: A caption band has text on at least this share of its lines.
TEXT_SHARE = 0.15

Side = Literal["top", "right", "bottom", "left"]


@dataclass(frozen=True)
class Cleanup:
    """The cleaned image and what was cut off it."""

    #: The kept pixels (a view of the input, not a copy).
    pixels: np.ndarray
    #: Pixels cut as a uniform border: top, right, bottom, left.
    border: tuple[int, int, int, int] | None = None
    #: The edge a caption band was cut from.
    caption: Literal["top", "bottom"] | None = None
    #: Rows cut as the caption band.
    caption_rows: int = 0

    def to_json(self) -> dict[str, Any]:
        """What was removed, as a match reports it."""
        record: dict[str, Any] = {}
        if self.border is not None:
            record["border"] = list(self.border)
        if self.caption is not None:
            record["caption"] = self.caption
        return record


def clean_image(pixels: np.ndarray) -> Cleanup | None:
    """Remove a uniform border, then a caption band at the top or bottom, from
    an (H, W), (H, W, 3) or (H, W, 4) uint8 image (a fourth channel is
    ignored); None when neither is found or the rest would be too small."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    height, width = pixels.shape[:2]
    if min(height, width) < 16:
        return None
    colour = pixels[:, :, :3]
    stride = max(1, max(height, width) // SAMPLES)
    cuts = [_edge_run(colour, side, stride, caption=False) for side in _SIDES]
    top, right, bottom, left = cuts
    inner = colour[top : height - bottom, left : width - right]
    border = tuple(cuts) if any(cuts) else None
    caption: Literal["top", "bottom"] | None = None
    rows = 0
    if min(inner.shape[:2]) >= 16:
        for edge in ("bottom", "top"):
            rows = _edge_run(inner, edge, stride, caption=True)
            if rows:
                caption = edge
                break
    if caption == "bottom":
        bottom += rows
    elif caption == "top":
        top += rows
    if border is None and caption is None:
        return None
    kept_h, kept_w = height - top - bottom, width - left - right
    if min(kept_h, kept_w) < 16 or kept_h * kept_w < MIN_KEPT_AREA * height * width:
        return None
    kept = pixels[top : top + kept_h, left : left + kept_w]
    if kept.shape[2] == 1:
        kept = kept[:, :, 0]
    return Cleanup(kept, border, caption, rows)  # type: ignore[arg-type]


_SIDES: tuple[Side, ...] = ("top", "right", "bottom", "left")


def _lines(colour: np.ndarray, side: Side, stride: int) -> np.ndarray:
    """The outer lines of one side, outermost first, sampled: (lines, samples, C)."""
    height, width = colour.shape[:2]
    depth = int((height if side in ("top", "bottom") else width) * MAX_SIDE_SHARE)
    if side == "top":
        return colour[:depth:stride, ::stride]
    if side == "bottom":
        return colour[height - 1 : height - 1 - depth : -stride, ::stride]
    if side == "left":
        return colour[::stride, :depth:stride].transpose(1, 0, 2)
    return colour[::stride, width - 1 : width - 1 - depth : -stride].transpose(1, 0, 2)


def _edge_run(colour: np.ndarray, side: Side, stride: int, *, caption: bool) -> int:
    """Pixels to cut at one side: a flat border (or, with ``caption``, a band
    with text) ending in a step; 0 when there is none."""
    lines = _lines(colour, side, stride)
    if len(lines) < 2:
        return 0
    reference = np.median(lines[0], axis=0).astype(np.int16)
    near = np.abs(lines.astype(np.int16) - reference).max(axis=2) <= TOLERANCE
    share = near.mean(axis=1)
    if share[0] < FLAT:
        return 0
    limit = BAND if caption else FLAT
    outside = np.flatnonzero(share < limit)
    if len(outside) == 0:
        return 0  # flat as deep as we look: the picture's own, or too deep to be a frame
    end = int(outside[0])  # sampled lines [0, end) are the border or band
    if 1 - share[end : end + STEP_LINES].min() < STEP:
        return 0  # the flat part fades into the picture: no added frame
    if caption:
        if share[max(0, end - 2) : end].max() < FLAT:
            return 0  # a band ends in a flat margin
        changes = np.count_nonzero(np.diff(near[:end], axis=1), axis=1)
        text = (share[:end] < FLAT) & (changes >= TEXT_CHANGES)
        if text.sum() < max(1, TEXT_SHARE * end):
            return 0  # flat with no text: a border, or a sky
    extent = colour.shape[0] if side in ("top", "bottom") else colour.shape[1]
    pixels = (end - 1) * stride + 1
    # The sampled lines place the edge to within a stride: find it pixel by
    # pixel, as a few lines of border left on the picture move PDQ by tens of bits.
    while pixels < extent // 2 and _share(_line(colour, side, pixels, stride), reference) >= FLAT:
        pixels += 1
    pixels += 1  # the line where JPEG blends the border into the picture
    return pixels if pixels >= max(2, MIN_SHARE * extent) else 0


def _line(colour: np.ndarray, side: Side, index: int, stride: int) -> np.ndarray:
    """The sampled pixels of the line ``index`` pixels in from one side: (samples, C)."""
    if side == "top":
        return colour[index, ::stride]
    if side == "bottom":
        return colour[colour.shape[0] - 1 - index, ::stride]
    if side == "left":
        return colour[::stride, index]
    return colour[::stride, colour.shape[1] - 1 - index]


def _share(line: np.ndarray, reference: np.ndarray) -> float:
    """The share of a line's samples that are of the reference colour."""
    return float((np.abs(line.astype(np.int16) - reference).max(axis=1) <= TOLERANCE).mean())
