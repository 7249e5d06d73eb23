"""vPDQ throughput: hashmatch against the reference ``vpdq`` package, same clips, one run.

    python benchmarks/video_speed.py              # test clips + a generated 60 s clip, 3 rounds
    python benchmarks/video_speed.py --quick      # test clips only, 1 round

``vpdq`` builds against FFmpeg's development libraries (Debian: libavcodec-dev
libavformat-dev libavutil-dev libswscale-dev libavdevice-dev libavfilter-dev
pkg-config), so it is in the ``bench`` extra, not ``dev``.  The clips are the
benign ones in tests/data/video plus, unless ``--quick``, a 60 s 640x360
30 fps H.264 pan over a sample photo made here.  Engines run round-robin over
the rounds (a noisy machine slows each alike); the median is reported, and
the hashes of both engines are compared clip by clip.  Ends with::

    RESULT engine=<hashmatch|hashmatch_fast|vpdq> frames_per_s=<x> video_seconds_per_s=<x> ...
    RESULT agreement clips=<n> identical=<n>
    RESULT recall mode=<exact|fast> matched=<n> of=<n> false_matches=<n>

``frames_per_s`` counts hashed frames (one per second of video by default);
``video_seconds_per_s`` is how many seconds of video are hashed per second.
``hashmatch_fast`` decodes keyframes only.  Recall: shot clips of three
sample photos go in a bank (exact mode, with the cropped variants ``bank
add`` stores); their re-encoded, low-bitrate, scaled, trimmed, re-timed,
5%-cropped and turned copies are hashed in each mode and matched;
clips of three other photos must match nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import vpdq
from PIL import Image

from hashmatch.banks import Banks
from hashmatch.demo.clips import shot_clip, write_video
from hashmatch.hashing import BANK_CROP_VARIANTS, HashRequest, hash_file
from hashmatch.hashlists import Entry
from hashmatch.matching import Matcher
from hashmatch.media.video import open_video
from hashmatch.store import Database

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
Features = list[tuple[int, str]]


def pan_clip(
    path: Path, seconds: int = 60, fps: int = 30, size: tuple[int, int] = (640, 360)
) -> Path:
    """A slow pan and zoom over a sample photo, encoded with H.264."""
    photo = Image.open(DATA / "photos" / "nature-beach-malibu.jpg").convert("RGB")
    big = photo.resize((photo.width * 3, photo.height * 3), Image.Resampling.BICUBIC)
    width, height = size
    count = seconds * fps

    def views() -> Iterator[np.ndarray]:
        for number in range(count):
            t = number / count
            crop_w = int(big.width * (0.6 - 0.2 * t))
            crop_h = crop_w * height // width
            left = int((big.width - crop_w) * t)
            top = int((big.height - crop_h) * (0.5 + 0.3 * np.sin(2 * np.pi * t)) / 1.3)
            yield np.asarray(big.crop((left, top, left + crop_w, top + crop_h)).resize(size))

    return write_video(path, views(), fps=fps)


def hashmatch_engine(path: Path, *, fast: bool = False) -> Features:
    result = hash_file(path, HashRequest(signal_types=("vpdq",), fast=fast))
    if result.error:
        raise SystemExit(result.error)
    return [(frame.frame, frame.hash) for frame in result.frames["vpdq"]]


def hashmatch_fast_engine(path: Path) -> Features:
    return hashmatch_engine(path, fast=True)


COPIES: dict[str, dict[str, Any]] = {
    "re-encoded": {"codec": "mjpeg", "suffix": ".avi"},
    "low bitrate": {"bitrate": 150_000},
    "scaled": {"size": (224, 168)},
    "trimmed": {"start": 3.0, "seconds": 4.0},
    "15 fps": {"fps": 15},
    "23.976 fps": {"fps": 24000 / 1001},
    "cropped 5%": {"crop": 0.05},
    "turned": {"quarter_turns": 1},
}


def recall(folder: Path) -> None:
    """Copies of banked clips found, and unrelated clips not, in each mode."""
    photos = sorted((DATA / "photos").glob("*.jpg"))
    originals, unrelated = photos[25:28], photos[40:43]
    database = Database.open(f"sqlite:///{folder / 'recall.db'}")
    banks = Banks(database)
    banks.create("videos")
    ids = {}
    for photo in originals:
        clip = shot_clip(folder / f"{photo.stem}.mp4", photo)
        result = hash_file(clip, HashRequest(crop_variants=BANK_CROP_VARIANTS))
        entry = Entry(dict(result.signals), photo.stem, frames=result.frames["vpdq"])
        ids[photo.stem] = banks.add("videos", entry)
    queries: list[tuple[Path, int | None]] = []
    for photo in originals:
        for kind, options in COPIES.items():
            options = dict(options)
            suffix = options.pop("suffix", ".mp4")
            path = folder / f"{photo.stem}-{kind.replace(' ', '-')}{suffix}"
            queries.append((shot_clip(path, photo, **options), ids[photo.stem]))
    queries += [(shot_clip(folder / f"other-{p.stem}.mp4", p), None) for p in unrelated]
    matcher = Matcher(database, None)
    for mode, fast in (("exact", False), ("fast", True)):
        matched = false_matches = 0
        for path, expected in queries:
            found = {
                m.content_id
                for m in matcher.match_result(
                    hash_file(path, HashRequest(fast=fast, dihedral=True))
                )
                if m.video is not None
            }
            matched += expected is not None and expected in found
            false_matches += len(found - {expected})
        positives = sum(expected is not None for _, expected in queries)
        print(
            f"RESULT recall mode={mode} matched={matched} of={positives} "
            f"false_matches={false_matches}"
        )
    database.close()


def vpdq_engine(path: Path) -> Features:
    features = vpdq.computeHash(str(path), seconds_per_hash=1)
    return [(feature.frame_number, feature.hex) for feature in features]


def video_seconds(path: Path) -> float:
    """Decoded frames / frame rate: the length vPDQ sees."""
    with open_video(path) as video:
        frames = sum(1 for _ in video.decoded_frames())
        return frames / video.info.fps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="test clips only, one round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    engines: dict[str, Callable[[Path], Features]] = {
        "hashmatch": hashmatch_engine,
        "hashmatch_fast": hashmatch_fast_engine,
        "vpdq": vpdq_engine,
    }
    with tempfile.TemporaryDirectory(prefix="video-speed-") as folder:
        clips = sorted((DATA / "video").iterdir())
        if not args.quick:
            print("making a 60 s clip ...", flush=True)
            clips.append(pan_clip(Path(folder) / "pan.mp4"))
        seconds = sum(video_seconds(clip) for clip in clips)
        print(f"{len(clips)} clips, {seconds:.1f} s of video", flush=True)
        timings: dict[str, list[float]] = {name: [] for name in engines}
        outputs: dict[str, dict[Path, Features]] = {name: {} for name in engines}
        for _ in range(rounds):
            for name, engine in engines.items():
                started = time.perf_counter()
                for clip in clips:
                    outputs[name][clip] = engine(clip)
                timings[name].append(time.perf_counter() - started)
        recall(Path(folder))
    hashed = len([f for clip in clips for f in outputs["hashmatch"][clip]])
    identical = sum(outputs["hashmatch"][clip] == outputs["vpdq"][clip] for clip in clips)
    reference = statistics.median(timings["vpdq"])
    for name in engines:
        elapsed = statistics.median(timings[name])
        frames = sum(len(outputs[name][clip]) for clip in clips)
        print(
            f"RESULT engine={name} frames_per_s={frames / elapsed:.1f} "
            f"video_seconds_per_s={seconds / elapsed:.1f} ratio_vs_vpdq={reference / elapsed:.2f}"
        )
    print(f"RESULT agreement clips={len(clips)} identical={identical} hashed_frames={hashed}")
    if identical != len(clips):
        sys.exit(1)


if __name__ == "__main__":
    main()
