"""Decoding video safely with PyAV (FFmpeg inside the wheel), and sampling frames
the way the reference vPDQ does.

    with open_video(path) as video:
        for frame in video.sampled_frames(seconds_per_hash=1.0):
            frame.number, frame.timestamp, frame.rgb      # uint8 (height, width, 3)

The reference (``vpdq``'s C++): first video stream; the frame number is the
0-based count of decoded frames in output order (timestamps are not used);
``mod = int(seconds_per_hash * fps)`` with fps the stream's average rate (its
base rate if that is unknown), 1 if that comes out 0, and frame ``n`` is
hashed when ``n % mod == 0``; timestamp = float32(n) / float32(fps); pixels
are converted to RGB24 at full size with area interpolation, BT.601
coefficients and limited range (full range only for ``yuvj`` formats),
whatever the colour tags, rotation or aspect ratio say.  When the video
stream is not stream 0 the reference never flushes the decoder, so frames
that only come out at the final flush are not hashed: reproduced.

Limits (file size, resolution, duration, decoding time) are checked from the
header where possible and while decoding: a header may lie, so every decoded
frame's size is checked before it is converted, and FFmpeg itself refuses a
frame far over the limit before allocating it.  Every decoder failure (a
codec FFmpeg does not know included) becomes a
:class:`~hashmatch.errors.MediaError` naming the file.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hashmatch.errors import (
    CorruptMediaError,
    FileTooLargeError,
    ImageTooLargeError,
    MediaError,
    UnsupportedMediaError,
)

if TYPE_CHECKING:  # settings import pydantic, which hashing files does not need
    from hashmatch.settings import Settings

#: What FFmpeg will "play" that is not video: still images (hashed as images)
#: and text rendered as ANSI art (FFmpeg reads any text file that way).
NOT_VIDEO_FORMATS = frozenset({"image2", "tty", "bin", "xbin", "adf", "idf", "gif", "apng"})
NOT_VIDEO_CODECS = frozenset({"ansi", "bintext", "xbin", "idf"})
#: FFmpeg is told to refuse frames over this many times the pixel limit.
FFMPEG_PIXELS_FACTOR = 2


@dataclass(frozen=True)
class VideoLimits:
    #: Largest file opened.
    max_file_bytes: int = 4 * 1024**3
    #: Largest frame (width x height): 8K UHD.
    max_pixels: int = 7680 * 4320
    #: Longest video, by its header or by the frames decoded.
    max_seconds: float = 4 * 3600.0
    #: Longest the decoding of one file may take (a hostile file may never end).
    max_decode_seconds: float = 1800.0

    @classmethod
    def from_settings(cls, settings: Settings) -> VideoLimits:
        """The server's limits for videos."""
        return cls(
            max_file_bytes=settings.max_decode_bytes,
            max_pixels=settings.max_video_pixels,
            max_seconds=settings.max_video_seconds,
            max_decode_seconds=settings.max_decode_seconds,
        )


@dataclass(frozen=True)
class SampledFrame:
    number: int
    timestamp: float
    rgb: np.ndarray


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    #: The stream's average frame rate (its base rate if unknown), as vPDQ uses it.
    fps: float
    #: From the header; None when the container does not say.
    duration_seconds: float | None
    codec: str
    stream_index: int


class OpenedVideo:
    """A video file whose header was read and checked against the limits."""

    def __init__(self, path: Path, container: Any, limits: VideoLimits) -> None:
        self.path = path
        self.limits = limits
        self._container = container
        self._stream = container.streams.video[0]
        #: Degrees the picture is turned for display (rotation metadata), read
        #: from the first decoded frame; frames are hashed as stored.
        self.rotation = 0
        rate = self._stream.average_rate or self._stream.base_rate or self._stream.guessed_rate
        if not rate:
            raise CorruptMediaError(f"{path}: the video stream has no frame rate")
        context = self._stream.codec_context
        if context is None:
            raise CorruptMediaError(f"{path}: the video's codec is not one FFmpeg decodes")
        # FFmpeg refuses larger frames before allocating them.  Its check pads
        # the width to its row alignment, hence room over the limit; each
        # frame is then checked against the limit itself (decoded_frames).
        context.options = {"max_pixels": str(FFMPEG_PIXELS_FACTOR * limits.max_pixels)}
        duration = (
            float(self._stream.duration * self._stream.time_base)
            if self._stream.duration and self._stream.time_base
            else (container.duration / _av().time_base if container.duration else None)
        )
        self.info = VideoInfo(
            width=int(context.width),
            height=int(context.height),
            fps=float(rate),
            duration_seconds=duration,
            codec=str(context.name),
            stream_index=int(self._stream.index),
        )

    def __enter__(self) -> OpenedVideo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def sampled_frames(self, seconds_per_hash: float = 1.0) -> Iterator[SampledFrame]:
        """The frames vPDQ hashes, as RGB, with their numbers and timestamps."""
        fps = self.info.fps
        every = int(seconds_per_hash * fps) or 1
        fps32 = np.float32(fps)
        for number, frame in enumerate(self.decoded_frames()):
            if number % every == 0:
                yield SampledFrame(number, float(np.float32(number) / fps32), self._rgb(frame))

    def keyframes(self, seconds_per_hash: float = 1.0) -> Iterator[SampledFrame]:
        """Fast mode: only keyframes are decoded (the decoder skips the rest),
        at most one per ``seconds_per_hash``; numbers and timestamps come from
        the frames' presentation times.  Not the reference's frame choice."""
        self._stream.codec_context.skip_frame = "NONKEY"
        fps = self.info.fps
        last: float | None = None
        for frame in self.decoded_frames():
            seconds = float(frame.time) if frame.time is not None else 0.0
            if last is not None and seconds - last < seconds_per_hash * 0.999:
                continue
            last = seconds
            yield SampledFrame(round(seconds * fps), seconds, self._rgb(frame))

    def decoded_frames(self) -> Iterator[Any]:
        """Every frame, in output order (PyAV frames), within the limits."""
        stream = self._stream
        # FFmpeg's threads within each frame: the same frames in the same order
        # (frame threading was slower here), a few more threads than cores.
        stream.thread_type = "SLICE"
        stream.codec_context.thread_count = min(16, 2 * (os.cpu_count() or 1))
        started = time.monotonic()
        most_frames = int(self.limits.max_seconds * self.info.fps) + 1
        count = 0
        with _decoding(self.path):
            for packet in self._container.demux(stream):
                if packet.size == 0 and stream.index != 0:
                    continue  # the reference never flushes such a stream
                for frame in self._decode(packet):
                    self._check_frame(frame)
                    if count == 0:
                        self.rotation = round(frame.rotation or 0) % 360
                    count += 1
                    if count > most_frames:
                        raise FileTooLargeError(
                            f"{self.path}: longer than {self.limits.max_seconds:.0f} s of video"
                        )
                    if time.monotonic() - started > self.limits.max_decode_seconds:
                        raise CorruptMediaError(
                            f"{self.path}: decoding took longer than "
                            f"{self.limits.max_decode_seconds:.0f} s"
                        )
                    yield frame

    def _decode(self, packet: Any) -> list[Any]:
        try:
            frames: list[Any] = packet.decode()
        except _av().error.ArgumentError as error:
            # What FFmpeg answers for a frame over its max_pixels (or of no size).
            raise ImageTooLargeError(
                f"{self.path}: a frame has no valid size or is far over the "
                f"{self.limits.max_pixels}-pixel limit ({error})"
            ) from None
        return frames

    def _check_frame(self, frame: Any) -> None:
        """A frame larger than the limit is refused before anything converts it."""
        width, height = int(frame.width), int(frame.height)
        if width * height > self.limits.max_pixels:
            raise ImageTooLargeError(
                f"{self.path}: a {width}x{height} frame, over the "
                f"{self.limits.max_pixels}-pixel limit"
            )

    def _rgb(self, frame: Any) -> np.ndarray:
        with _decoding(self.path):
            return _rgb(frame)


def _av() -> Any:
    """PyAV, imported when a video is opened: hashing pictures does not need it."""
    import av
    import av.error

    return av


@contextmanager
def _decoding(path: Path) -> Iterator[None]:
    """Whatever FFmpeg makes of a damaged or hostile file becomes a MediaError."""
    try:
        yield
    except MediaError:
        raise
    except _av().error.FFmpegError as error:
        raise CorruptMediaError(f"{path}: cannot decode the video: {error}") from None
    except Exception as error:  # noqa: BLE001 - every decoder failure is a bad file
        raise CorruptMediaError(
            f"{path}: cannot decode the video ({type(error).__name__}: {error})"
        ) from None


def open_video(source: str | Path | bytes, limits: VideoLimits | None = None) -> OpenedVideo:
    """Open a video file, or a video's bytes (decoded in memory, never written
    out); MediaError (naming the file) for anything that is not one."""
    limits = limits or VideoLimits()
    if isinstance(source, bytes):
        path, size = Path("<bytes>"), len(source)
    else:
        path = Path(source)
        size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise FileTooLargeError(
            f"{path}: file is {size} bytes, over the {limits.max_file_bytes}-byte limit"
        )
    av = _av()
    try:
        container = av.open(
            io.BytesIO(source) if isinstance(source, bytes) else str(path),
            metadata_errors="ignore",
        )
    except av.error.FFmpegError as error:
        raise UnsupportedMediaError(f"{path}: not a video FFmpeg can read ({error})") from None
    try:
        with _decoding(path):
            if not _has_video(container):
                raise UnsupportedMediaError(f"{path}: has no video stream")
            video = OpenedVideo(path, container, limits)
            _check_limits(video)
    except MediaError:
        container.close()
        raise
    return video


def _has_video(container: Any) -> bool:
    if (
        container.format.name in NOT_VIDEO_FORMATS
        or container.format.name.endswith("_pipe")
        or not container.streams.video
    ):
        return False
    context = container.streams.video[0].codec_context
    return context is None or context.name not in NOT_VIDEO_CODECS


def _check_limits(video: OpenedVideo) -> None:
    info, limits = video.info, video.limits
    if info.width <= 0 or info.height <= 0:
        raise CorruptMediaError(f"{video.path}: the video stream has no picture size")
    if info.width * info.height > limits.max_pixels:
        raise ImageTooLargeError(
            f"{video.path}: {info.width}x{info.height} frames, over the "
            f"{limits.max_pixels}-pixel limit"
        )
    if info.duration_seconds is not None and info.duration_seconds > limits.max_seconds:
        raise FileTooLargeError(
            f"{video.path}: {info.duration_seconds:.0f} s long, over the "
            f"{limits.max_seconds:.0f} s limit"
        )


def _rgb(frame: Any) -> np.ndarray:
    """RGB24 as the reference converts: full size, area, BT.601, range by format."""
    full_range = frame.format.name.startswith("yuvj")
    rgb: np.ndarray = frame.to_ndarray(
        format="rgb24",
        src_colorspace="ITU601",
        src_color_range="JPEG" if full_range else "MPEG",
        interpolation="AREA",
    )
    return rgb
