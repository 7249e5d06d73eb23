"""vPDQ as a signal type: the PDQ of frames sampled at a fixed interval.

Identical to the reference ``vpdq`` package on the same decoded frames (see
:mod:`hashmatch.media.video` for how frames are chosen and converted).  The
frame luma is the reference's float32 ``(0.299*R + 0.587*G) + 0.114*B``,
which is not the pdqhash binding's luma for images, so frames go to the PDQ
core as luma.  FFmpeg decodes on its own threads; the few sampled frames are
hashed in between (a separate hashing thread only competed for the cores:
measured slower).
"""

from __future__ import annotations

from typing import ClassVar

import numba
import numpy as np

from hashmatch.media.video import OpenedVideo, SampledFrame
from hashmatch.pdq import MIN_MATCH_QUALITY, hasher
from hashmatch.signals import names
from hashmatch.signals.base import FrameHash, HammingSignalType, VideoSignalType
from hashmatch.signals.pdq import PdqSignal


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


def warm_up() -> None:
    """Compile, or load from numba's cache, the frame luma kernel for the
    arrays PyAV gives: contiguous, and rows padded past the frame's width."""
    padded = np.zeros((2, 4, 3), np.uint8)
    frame_luma(padded)
    frame_luma(padded[:, :2])


class VpdqSignal(VideoSignalType, HammingSignalType):
    """Meta's vPDQ video hash; each frame's value is a PDQ hash, searched
    together with images' PDQ (a known image is found inside a video)."""

    name: ClassVar[str] = names.VPDQ
    bits: ClassVar[int] = PdqSignal.bits
    min_match_quality: ClassVar[int] = MIN_MATCH_QUALITY
    default_threshold: ClassVar[int] = PdqSignal.default_threshold

    @property
    def space(self) -> str:
        return PdqSignal.name

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
        for frame in chosen(seconds_per_hash):
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
