"""A video's vPDQ frames as one string: threatexchange's compact form.

A JSON list of ``"<pdq hex>,<quality>,<timestamp>"`` strings, in frame
order; frame numbers are list positions (the form has none), and
timestamps keep three significant digits, as threatexchange writes them
(``"<hex>,90,1.23e+02"``).  HMA's API and the hub's STIX indicators both
carry vPDQ this way.
"""

from __future__ import annotations

import json
import math

from hashmatch.signals import get_signal_type, names
from hashmatch.signals.base import FrameHash


def compact_frames(frames: list[FrameHash]) -> str:
    """Frames as threatexchange's vPDQ extension writes them (cropped variants left out)."""
    return json.dumps([f"{f.hash},{f.quality},{f.timestamp:.3}" for f in frames if not f.variant])


def frames_from_compact(text: str) -> list[FrameHash]:
    """The frames of a compact vPDQ signal.  ValueError for anything else."""
    try:
        items = json.loads(text or "[]")
    except RecursionError:
        raise ValueError("the frame list is nested too deeply") from None
    expected = "expected a JSON list of 'hash,quality,timestamp' strings"
    if not isinstance(items, list) or not items:
        raise ValueError(expected)
    parse = get_signal_type(names.PDQ).parse
    frames = []
    for number, item in enumerate(items):
        if not isinstance(item, str) or item.count(",") != 2:
            raise ValueError(expected)
        value, quality, seconds = item.split(",")
        if not 0 <= int(quality) <= 100 or not 0 <= float(seconds) < math.inf:
            raise ValueError(f"frame {number} is out of range")
        frames.append(FrameHash(number, int(quality), parse(value), float(seconds)))
    return frames
