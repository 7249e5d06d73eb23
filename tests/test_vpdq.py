"""vPDQ: identical to the reference on the shared clips; limits and bad files."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from hashmatch.errors import (
    CorruptMediaError,
    FileTooLargeError,
    ImageTooLargeError,
    MediaError,
    UnsupportedMediaError,
)
from hashmatch.hashing import HashRequest, hash_file
from hashmatch.media.video import VideoLimits, open_video
from hashmatch.signals.vpdq import VpdqSignal
from tests.clips import make_audio_only, make_clip
from tests.conftest import DATA

EXPECTED = json.loads((DATA / "expected_vpdq.json").read_text())
VPDQ_ONLY = HashRequest(signal_types=("vpdq",))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_identical_to_the_reference(name: str) -> None:
    """Same frames, hashes, qualities and timestamps as vpdq 0.2.5."""
    result = hash_file(DATA / name, VPDQ_ONLY)
    assert result.ok, result.error
    assert [frame.to_json() for frame in result.frames["vpdq"]] == EXPECTED[name]


def test_a_video_gets_exact_hashes_and_its_description() -> None:
    result = hash_file(DATA / "video" / "v1.m4v", HashRequest())
    assert set(result.signals) == {"md5", "sha256"}
    assert "pdq" not in result.signals
    record = result.to_json()
    assert record["vpdq"] == EXPECTED["video/v1.m4v"]
    assert record["video"]["width"] > 0
    assert record["video"]["fps"] == pytest.approx(24000 / 1001)
    assert record["video"]["rotation"] == 0


def test_sampling_interval(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mp4", frames=40, fps=10)
    every_second = hash_file(clip, VPDQ_ONLY).frames["vpdq"]
    assert [frame.frame for frame in every_second] == [0, 10, 20, 30]
    assert [frame.timestamp for frame in every_second] == [0.0, 1.0, 2.0, 3.0]
    twice_a_second = hash_file(clip, HashRequest(("vpdq",), seconds_per_hash=0.5)).frames["vpdq"]
    assert [frame.frame for frame in twice_a_second] == list(range(0, 40, 5))
    every_frame = hash_file(clip, HashRequest(("vpdq",), seconds_per_hash=0.01)).frames["vpdq"]
    assert len(every_frame) == 40  # mod comes out 0: every frame


@pytest.mark.parametrize(
    ("codec", "pix_fmt", "size"),
    [
        ("libx264", "yuv420p", (130, 98)),
        ("libx264", "yuv420p10le", (128, 72)),  # 10-bit
        ("ffv1", "yuv444p", (131, 97)),  # odd sizes
        ("mjpeg", "yuvj420p", (160, 90)),  # full range
    ],
)
def test_codecs_sizes_and_depths(
    tmp_path: Path, codec: str, pix_fmt: str, size: tuple[int, int]
) -> None:
    clip = make_clip(tmp_path / "clip.mkv", size=size, codec=codec, pix_fmt=pix_fmt)
    frames = hash_file(clip, VPDQ_ONLY).frames["vpdq"]
    assert [frame.frame for frame in frames] == [0, 10, 20]
    assert all(frame.quality > 0 for frame in frames)
    assert len({frame.hash for frame in frames}) == 3  # the picture moves


def test_rotation_metadata_is_kept(tmp_path: Path) -> None:
    plain = hash_file(make_clip(tmp_path / "p.mp4"), VPDQ_ONLY)
    turned = hash_file(make_clip(tmp_path / "r.mp4", rotation=90), VPDQ_ONLY)
    assert turned.video is not None
    assert plain.video is not None
    assert turned.video["rotation"] in (90, 270)
    assert plain.video["rotation"] == 0
    # Frames are hashed as stored: the rotated copy is found through the
    # dihedral hashes, not by turning frames here.
    assert [f.hash for f in turned.frames["vpdq"]] == [f.hash for f in plain.frames["vpdq"]]


def test_video_streams_after_audio(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "av.mkv", audio=True)
    with open_video(clip) as video:
        assert video.info.stream_index == 0
    assert len(hash_file(clip, VPDQ_ONLY).frames["vpdq"]) == 3


def test_limits(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mp4", frames=30, size=(96, 64))
    with pytest.raises(FileTooLargeError, match=r"c\.mp4.*byte limit"):
        open_video(clip, VideoLimits(max_file_bytes=100))
    with pytest.raises(ImageTooLargeError, match=r"96x64 frames"):
        open_video(clip, VideoLimits(max_pixels=96 * 63))
    with pytest.raises(FileTooLargeError, match=r"limit"):
        open_video(clip, VideoLimits(max_seconds=1.0))
    with (
        open_video(clip, VideoLimits(max_decode_seconds=0.0)) as video,
        pytest.raises(CorruptMediaError, match="decoding took longer"),
    ):
        VpdqSignal().hash_video(video)


def test_files_that_are_not_videos(tmp_path: Path) -> None:
    audio = make_audio_only(tmp_path / "tone.m4a")
    with pytest.raises(UnsupportedMediaError, match=r"tone\.m4a: has no video stream"):
        open_video(audio)
    text = tmp_path / "notes.txt"
    text.write_text("hello, not a video\n" * 50)
    with pytest.raises(UnsupportedMediaError, match=r"notes\.txt"):
        open_video(text)
    with pytest.raises(UnsupportedMediaError, match="no video stream"):
        open_video(DATA / "photos" / "nature-beach-malibu.jpg")
    refused = hash_file(audio, VPDQ_ONLY)
    assert refused.error is not None
    assert "tone.m4a" in refused.error
    # Without asking for vPDQ, a non-video just gets its exact hashes.
    assert set(hash_file(audio, HashRequest()).signals) == {"md5", "sha256"}


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9])
def test_truncated_and_damaged_videos(tmp_path: Path, keep: float) -> None:
    data = (DATA / "video" / "v1.m4v").read_bytes()
    cut = tmp_path / "cut.m4v"
    cut.write_bytes(data[: int(len(data) * keep)])
    result = hash_file(cut, VPDQ_ONLY)
    # Either a clean error naming the file, or the frames that could be read.
    if result.error is not None:
        assert "cut.m4v" in result.error
    else:
        assert result.frames["vpdq"]
    damaged = bytearray(data)
    for offset in range(2000, len(damaged), 997):
        damaged[offset] ^= 0xFF
    broken = tmp_path / "broken.m4v"
    broken.write_bytes(bytes(damaged))
    outcome = hash_file(broken, VPDQ_ONLY)
    assert outcome.error is None or "broken.m4v" in outcome.error


def test_errors_are_media_errors() -> None:
    assert issubclass(UnsupportedMediaError, MediaError)


def test_fast_mode_decodes_keyframes_only(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mp4", frames=60, fps=10, codec="mpeg4")
    exact = hash_file(clip, VPDQ_ONLY).frames["vpdq"]
    fast = hash_file(clip, HashRequest(("vpdq",), fast=True)).frames["vpdq"]
    assert fast[0].frame == 0
    assert 0 < len(fast) <= len(exact)
    times = [frame.timestamp for frame in fast]
    assert all(later - earlier >= 0.99 for earlier, later in itertools.pairwise(times))
    assert all(frame.frame == round(frame.timestamp * 10) for frame in fast)
