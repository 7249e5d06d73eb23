"""What the review pages show of an item's media: small, and safe as it is.

    kept = service.submissions.media(submission_id)      # decrypted in memory
    shielded = shielded_preview(kept.data, blur_px=16, limits=limits, video_limits=video_limits)
    shielded.uri, shielded.kind, shielded.frames     # "data:image/jpeg;base64,...", "frames", 6
    clear = clear_preview(kept.data, grayscale=True, limits=limits, video_limits=video_limits)

Reviewers look at the worst content there is, so the shielded preview is
made safe on the server, not by the page: downscaled, grayscale and blurred
before it leaves.  A page whose stylesheet fails to load, a view of its
source or a saved copy shows nothing sharper.  The clear preview, shown
while a reveal lasts, is the same picture unblurred, and still small.

An image is shown at most :data:`IMAGE_SIZE` pixels a side; a video as a
strip of up to :data:`STRIP_FRAMES` frames at evenly spaced times, tiled left
to right, each at most :data:`FRAME_SIZE` pixels a side.  Both are turned the
way they are meant to be shown (EXIF orientation, a video's rotation).

Kept media is decoded from memory and never written to disk: Pillow reads
bytes, and PyAV gives FFmpeg a file-like object, so not even a temporary
file holds it.  Whatever a damaged or hostile file does to a decoder, the
answer is no preview (None), never an error: the limits of
:class:`~hashmatch.media.limits.DecodeLimits` and
:class:`~hashmatch.media.video.VideoLimits` hold as they do for hashing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageFilter

from hashmatch.media.limits import DecodeLimits
from hashmatch.media.video import OpenedVideo, VideoLimits, open_video
from hashmatch.web.thumbnails import downscaled, jpeg_uri

#: The longest side of an image's preview, in pixels.
IMAGE_SIZE = 320
#: The longest side of each frame of a video's strip, in pixels.
FRAME_SIZE = 160
#: Frames in a video's strip, at most.
STRIP_FRAMES = 6


@dataclass(frozen=True)
class Preview:
    #: "data:image/jpeg;base64,...": put in the page as it is.
    uri: str
    #: "image", or "frames" (a video's frame strip).
    kind: str
    #: Frames in the strip (1 for an image).
    frames: int


def shielded_preview(
    data: bytes, *, blur_px: int, limits: DecodeLimits, video_limits: VideoLimits
) -> Preview | None:
    """Downscaled (longest side at most 320 px; a strip's frames at most 160
    px each), grayscale and Gaussian-blurred by ``blur_px`` on the server:
    safe to put in a page as it is.  None when the media cannot be shown."""
    if blur_px < 1:
        raise ValueError(f"a shielded preview is blurred by at least 1 px, not {blur_px}")
    return _preview(data, limits, video_limits, gray=True, blur_px=blur_px)


def clear_preview(
    data: bytes, *, grayscale: bool, limits: DecodeLimits, video_limits: VideoLimits
) -> Preview | None:
    """The same picture or strip, downscaled, not blurred (grayscale unless
    the reviewer may see colour).  None when the media cannot be shown."""
    return _preview(data, limits, video_limits, gray=grayscale, blur_px=0)


def _preview(
    data: bytes, limits: DecodeLimits, video_limits: VideoLimits, *, gray: bool, blur_px: int
) -> Preview | None:
    picture = downscaled(data, limits, IMAGE_SIZE, gray=gray)
    kind, frames = "image", 1
    if picture is None:  # not a picture Pillow shows: perhaps a video
        strip = frame_strip(data, video_limits)
        if strip is None:
            return None
        picture, frames = strip
        kind = "frames"
        if gray:
            picture = picture.convert("L")
    if blur_px:
        picture = picture.filter(ImageFilter.GaussianBlur(blur_px))
    return Preview(jpeg_uri(picture), kind, frames)


def frame_strip(data: bytes, limits: VideoLimits) -> tuple[Image.Image, int] | None:
    """Up to :data:`STRIP_FRAMES` frames of the video, at most
    :data:`FRAME_SIZE` pixels a side, side by side in one RGB picture, and
    how many; None for what is not a video FFmpeg decodes within ``limits``."""
    try:
        with open_video(data, limits) as video:
            frames = _frames_at_even_times(video)
    except Exception:  # noqa: BLE001 - whatever hostile bytes make FFmpeg or PyAV raise
        return None
    if not frames:
        return None
    strip = Image.new("RGB", (sum(f.width for f in frames), max(f.height for f in frames)))
    left = 0
    for frame in frames:
        strip.paste(frame, (left, 0))
        left += frame.width
    return strip, len(frames)


def _frames_at_even_times(video: OpenedVideo) -> list[Image.Image]:
    """The first frame at or after the start of each of :data:`STRIP_FRAMES`
    equal spans of the video (each frame once: a video of fewer frames gives
    fewer), small and upright.  Frames are decoded in order, within the
    video's limits, up to the last one wanted.  A video whose header gives
    no duration is sampled once a second from its start."""
    duration = video.info.duration_seconds
    span = duration / STRIP_FRAMES if duration else 1.0
    wanted = iter([span * number for number in range(STRIP_FRAMES)])
    due = next(wanted)
    start: float | None = None
    taken: list[Image.Image] = []
    for number, frame in enumerate(video.decoded_frames()):
        at = float(frame.time) if frame.time is not None else number / video.info.fps
        start = at if start is None else start  # a stream need not start at 0
        if at - start < due:
            continue
        taken.append(_small_upright(frame, video.rotation))
        following = next((later for later in wanted if later > at - start), None)
        if following is None:
            break
        due = following
    return taken


def _small_upright(frame: Any, rotation: int) -> Image.Image:
    """A PyAV frame scaled by FFmpeg to at most :data:`FRAME_SIZE` a side,
    then turned by its display rotation (degrees, counterclockwise)."""
    scale = FRAME_SIZE / max(frame.width, frame.height, FRAME_SIZE)
    width, height = max(1, round(frame.width * scale)), max(1, round(frame.height * scale))
    picture: Image.Image = frame.reformat(
        width=width, height=height, format="rgb24", interpolation="AREA"
    ).to_image()
    return picture.rotate(rotation, expand=True) if rotation else picture
