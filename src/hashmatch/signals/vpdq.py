"""vPDQ as a signal type: the PDQ of frames sampled at a fixed interval.

Identical to the reference ``vpdq`` package on the same decoded frames (see
:mod:`hashmatch.media.video` for how frames are chosen and converted).  The
frame luma is the reference's float32 ``(0.299*R + 0.587*G) + 0.114*B``,
which is not the pdqhash binding's luma for images, so frames go to the PDQ
core as luma.  Decoding (FFmpeg's threads) runs ahead of hashing in a thread
of its own; both release the GIL.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import ClassVar

import numba
import numpy as np

from hashmatch.media.video import OpenedVideo, SampledFrame
from hashmatch.pdq import hasher
from hashmatch.signals.base import FrameHash, VideoSignalType
from hashmatch.signals.pdq import PdqSignal

#: Frames decoded ahead of the hasher.
_LOOKAHEAD = 8


@numba.njit(cache=True, nogil=True)
def frame_luma(rgb: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """vPDQ's luma: float32, in the reference's order of operations (no
    fused multiply-add: numba does not contract without fastmath)."""
    height, width = rgb.shape[0], rgb.shape[1]
    red, green, blue = np.float32(0.299), np.float32(0.587), np.float32(0.114)
    luma = np.empty((height, width), np.float32)
    for y in range(height):
        for x in range(width):
            luma[y, x] = (red * np.float32(rgb[y, x, 0]) + green * np.float32(rgb[y, x, 1])) + (
                blue * np.float32(rgb[y, x, 2])
            )
    return luma


class VpdqSignal(VideoSignalType):
    """Meta's vPDQ video hash; each frame's value is a PDQ hash."""

    name: ClassVar[str] = "vpdq"
    default_threshold: ClassVar[int] = PdqSignal.default_threshold

    def parse(self, text: str) -> str:
        return PdqSignal().parse(text)

    def distance(self, a: str, b: str) -> int:
        return PdqSignal().distance(a, b)

    def hash_video(
        self,
        video: OpenedVideo,
        *,
        seconds_per_hash: float = 1.0,
        fast: bool = False,
        dihedral: bool = False,
        crop_variants: tuple[float, ...] = (),
    ) -> list[FrameHash]:
        hashes = []
        # Fast mode decodes keyframes only: several times quicker, other frames.
        chosen = video.keyframes if fast else video.sampled_frames
        for frame in _decoded_ahead(chosen(seconds_per_hash)):
            luma = frame_luma(frame.rgb)
            for share in crop_variants:
                hashes.append(_cropped(frame, luma, share))
            if dihedral:
                turned = hasher.pdq_dihedral_from_luma(luma)
                values = tuple(value.hex for value in turned.hashes)
                hashes.append(
                    FrameHash(frame.number, turned.quality, values[0], frame.timestamp, values)
                )
                continue
            result = hasher.pdq_from_luma(luma)
            hashes.append(FrameHash(frame.number, result.quality, result.hash.hex, frame.timestamp))
        return hashes


def _cropped(frame: SampledFrame, luma: np.ndarray, share: float) -> FrameHash:
    """The hash of the frame with ``share`` cut off every side."""
    height, width = luma.shape
    dy, dx = int(height * share), int(width * share)
    result = hasher.pdq_from_luma(np.ascontiguousarray(luma[dy : height - dy, dx : width - dx]))
    variant = f"crop{round(share * 1000) / 10:g}"
    return FrameHash(frame.number, result.quality, result.hash.hex, frame.timestamp, (), variant)


def _decoded_ahead(frames: Iterator[SampledFrame]) -> Iterator[SampledFrame]:
    """``frames``, produced by a thread of their own a few frames ahead."""
    ready: queue.Queue[SampledFrame | BaseException | None] = queue.Queue(_LOOKAHEAD)
    stop = threading.Event()

    def produce() -> None:
        try:
            for frame in frames:
                if stop.is_set():
                    return
                ready.put(frame)
            ready.put(None)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, re-raised there
            ready.put(error)

    thread = threading.Thread(target=produce, name="hashmatch-video-decode", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # let a blocked producer finish its put
            try:
                ready.get_nowait()
            except queue.Empty:
                thread.join(0.05)
