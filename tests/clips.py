"""Benign video clips made in code (moving gradients and noise), with PyAV.

Shot clips of the sample photos come from :mod:`hashmatch.demo.clips`.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from hashmatch.demo.clips import write_video


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
    return write_video(
        path,
        moving_frames(frames, width, height, seed),
        fps=fps,
        codec=codec,
        pix_fmt=pix_fmt,
        rotation=rotation,
        audio=audio,
    )


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
