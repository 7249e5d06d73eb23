"""Benign video clips made in code (moving gradients and noise), with PyAV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def moving_frames(count: int, width: int, height: int, seed: int = 0) -> list[np.ndarray]:
    """RGB frames of a gradient sliding under seeded noise: every frame differs."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 60, size=(height, width, 3), dtype=np.int16)
    y, x = np.mgrid[0:height, 0:width]
    frames = []
    for number in range(count):
        shift = number * 3
        base = np.stack(
            [
                (x + shift) * 255 // max(width, 1),
                (y + shift) * 255 // max(height, 1),
                ((x + y + 2 * shift) * 127 // max(width + height, 1)),
            ],
            axis=-1,
        )
        frames.append(np.clip(base + noise, 0, 255).astype(np.uint8))
    return frames


def make_clip(
    path: Path,
    *,
    frames: int = 30,
    size: tuple[int, int] = (96, 64),
    fps: int = 10,
    codec: str = "mpeg4",
    pix_fmt: str = "yuv420p",
    rotation: int | None = None,
    audio: bool = False,
    seed: int = 0,
) -> Path:
    """Write a clip; ``rotation`` sets the display-rotation metadata."""
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.time_base = Fraction(1, fps)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        if audio:
            container.add_stream("aac", rate=8000)
        for number, rgb in enumerate(moving_frames(frames, width, height, seed)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = number
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_audio_only(path: Path, seconds: float = 1.0) -> Path:
    """A clip with an audio stream and no video."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=8000)
        samples = int(seconds * 8000)
        tone = np.sin(np.arange(samples) / 8000 * 2 * np.pi * 440).astype(np.float32)
        for start in range(0, samples, 1024):
            chunk = tone[start : start + 1024].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate = 8000
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def pan_clip(
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
) -> Path:
    """Shots of a benign photo, a new part of it every 2 s, each drifting
    slowly; what is shown depends on the time only, so copies at another
    frame rate, size or start show the same scenes.  ``crop`` cuts that share
    off every side of each frame."""
    from PIL import Image

    picture = Image.open(photo).convert("RGB")
    picture = picture.resize((picture.width * 2, picture.height * 2))
    width, height = size
    view_w, view_h = picture.width // 3, picture.width // 3 * height // width
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = width, height
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
            view = picture.crop(box).resize(size)
            frame = av.VideoFrame.from_ndarray(np.asarray(view), format="rgb24")
            frame.pts = number
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
