"""Benign video clips made from a photo, for tests, benchmarks and demos.

    shot_clip(Path("clip.mp4"), photo)                      # 8 s, 10 fps, 320x240
    shot_clip(Path("copy.mp4"), photo, fps=15, start=3.0)   # the same scenes, re-timed

The clip shows a new part of the photo every 2 s, each part drifting slowly;
what is on screen depends on the time only, so copies made at another frame
rate, size, bitrate or start show the same scenes at the same times.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image


def write_video(
    path: Path,
    frames: Iterable[np.ndarray],
    *,
    fps: float,
    codec: str = "libx264",
    pix_fmt: str | None = None,
    bitrate: int | None = None,
    rotation: int | None = None,
    audio: bool = False,
) -> Path:
    """Encode RGB frames (uint8, all one size) into a video file; ``rotation``
    sets display-rotation metadata, ``audio`` adds a silent audio stream."""
    pending = iter(frames)
    first = next(pending)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        if not isinstance(stream, av.VideoStream):
            raise ValueError(f"{codec} is not a video codec")
        stream.height, stream.width = first.shape[:2]
        stream.pix_fmt = pix_fmt or ("yuvj420p" if codec == "mjpeg" else "yuv420p")
        if bitrate:
            stream.bit_rate = bitrate
        if rotation is not None:
            stream.set_display_rotation(rotation)
        if audio:
            container.add_stream("aac", rate=8000)
        for number, rgb in enumerate(itertools.chain([first], pending)):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = number
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


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

    def views() -> Iterator[np.ndarray]:
        for number in range(int(seconds * fps)):
            t = start + number / fps
            shot, within = divmod(t, 2.0)
            left = int((picture.width - view_w) * ((shot * 0.37 + within * 0.002) % 1.0))
            top = int((picture.height - view_h) * ((shot * 0.61 + 0.2) % 1.0))
            box = (left, top, left + view_w, top + view_h)
            if crop:
                dx, dy = int(view_w * crop), int(view_h * crop)
                box = (left + dx, top + dy, left + view_w - dx, top + view_h - dy)
            yield np.rot90(np.asarray(picture.crop(box).resize(size)), quarter_turns)

    return write_video(path, views(), fps=fps, codec=codec, bitrate=bitrate)
