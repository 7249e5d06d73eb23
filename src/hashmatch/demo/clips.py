"""Benign video clips made from a photo, for tests, benchmarks and demos.

    shot_clip(Path("clip.mp4"), photo)                      # 8 s, 10 fps, 320x240
    shot_clip(Path("copy.mp4"), photo, fps=15, start=3.0)   # the same scenes, re-timed

The clip shows a new part of the photo every 2 s, each part drifting slowly;
what is on screen depends on the time only, so copies made at another frame
rate, size, bitrate or start show the same scenes at the same times.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image


def shot_clip(
    path: Path,
    photo: Path,
    *,
    seconds: float = 8.0,
    fps: float = 10,
    size: tuple[int, int] = (320, 240),
    start: float = 0.0,
    crop: float = 0.0,
    codec: str = "libx264",
    bitrate: int | None = None,
    quarter_turns: int = 0,
) -> Path:
    """Write the clip; ``crop`` cuts that share off every side of each frame,
    ``quarter_turns`` turns the pictures themselves (not rotation metadata)."""
    picture = Image.open(photo).convert("RGB")
    picture = picture.resize((picture.width * 2, picture.height * 2))
    width, height = size
    view_w, view_h = picture.width // 3, picture.width // 3 * height // width
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        if not isinstance(stream, av.VideoStream):
            raise ValueError(f"{codec} is not a video codec")
        stream.width, stream.height = (height, width) if quarter_turns % 2 else (width, height)
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if bitrate:
            stream.bit_rate = bitrate
        for number in range(int(seconds * fps)):
            t = start + number / fps
            shot, within = divmod(t, 2.0)
            left = int((picture.width - view_w) * ((shot * 0.37 + within * 0.002) % 1.0))
            top = int((picture.height - view_h) * ((shot * 0.61 + 0.2) % 1.0))
            box = (left, top, left + view_w, top + view_h)
            if crop:
                dx, dy = int(view_w * crop), int(view_h * crop)
                box = (left + dx, top + dy, left + view_w - dx, top + view_h - dy)
            view = np.asarray(picture.crop(box).resize(size))
            view = np.ascontiguousarray(np.rot90(view, quarter_turns))
            frame = av.VideoFrame.from_ndarray(view, format="rgb24")
            frame.pts = number
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
