"""Hashing files: every requested signal of each file, many files in parallel.

>>> from hashmatch.hashing import HashRequest, hash_file
>>> hash_file("photo.jpg", HashRequest()).signals  # doctest: +SKIP
{'md5': '...', 'pdq': '...', 'sha256': '...'}

A file is read once for all byte digests and decoded once for all image
(or video) signals.  Failures are per file: the result carries the error message and the
batch goes on.  Threads run in parallel because decoding, digesting and the
PDQ kernel all release the GIL.

A file that is neither an image nor a video gets its exact hashes, and
``not_computed`` says why each perceptual type is missing.  A file whose
name or given content type says image or video, and that cannot be decoded
as one, is an error (unless only exact hashes were asked for), as is a file
that lacks a signal type asked for by name.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hashmatch.errors import EmptyFileError, HashmatchError, UnsupportedMediaError
from hashmatch.media import DecodeLimits, OpenedImage, open_image
from hashmatch.media.cleanup import clean_image
from hashmatch.media.kinds import Kind, declared_kind
from hashmatch.media.variants import pdq_variants
from hashmatch.media.video import VideoLimits, open_video
from hashmatch.pdq import hasher
from hashmatch.signals import (
    BytesSignalType,
    ImageSignalType,
    SignalType,
    get_signal_type,
    signal_types,
)
from hashmatch.signals.base import DihedralSignalType, FrameHash, VideoSignalType
from hashmatch.signals.exact import digest_file
from hashmatch.signals.pdq import PdqSignal


@dataclass(frozen=True)
class HashRequest:
    """What to compute for each file."""

    #: Signal type names; empty means every installed type that applies.
    signal_types: tuple[str, ...] = ()
    #: Also hash the 8 rotations and flips (for types that can).
    dihedral: bool = False
    #: Allow quicker decoding that may move perceptual hashes by a few bits.
    fast: bool = False
    limits: DecodeLimits = field(default_factory=DecodeLimits)
    video_limits: VideoLimits = field(default_factory=VideoLimits)
    #: Video: one frame hashed per this many seconds.
    seconds_per_hash: float = 1.0
    #: Video: also hash each frame with these shares cut off every side (for banks).
    crop_variants: tuple[float, ...] = ()
    #: Image: also hash the stored variants (crops, small rotations) of
    #: :mod:`hashmatch.media.variants`, for banks.
    image_variants: bool = False
    #: Image: also hash the image with a uniform border or a caption band cut
    #: off (:mod:`hashmatch.media.cleanup`), as an extra PDQ query hash.
    query_cleanup: bool = False
    #: Image: also extract its local features (:mod:`hashmatch.features`) as
    #: the blob a bank that stores them keeps, for the second stage.
    local_features: bool = False
    #: Image: also keep its grayscale pixels for a query of the second stage
    #: (``FileHashes.feature_pixels``; never in the JSON record).
    feature_query: bool = False

    def resolved(self) -> list[SignalType]:
        """The signal type objects, raising UnknownSignalTypeError for bad names."""
        if not self.signal_types:
            return list(signal_types().values())
        return [get_signal_type(name) for name in self.signal_types]


@dataclass(frozen=True)
class CleanedHash:
    """The hash of a query image with its border or caption band removed."""

    value: str
    quality: int
    #: What was removed: ``{"border": [t, r, b, l]}`` and/or ``{"caption": "bottom"}``.
    removed: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"hash": self.value, "quality": self.quality, "cleanup": self.removed}


#: Videos going into a bank are also hashed with these shares cut off every
#: side of each frame: PDQ alone does not survive a crop of a few percent.
BANK_CROP_VARIANTS = (0.025, 0.05)
#: What a file added to a bank is hashed with (``hashmatch bank add``, eval):
#: its video frames also cropped, its image's stored variants.
BANK_REQUEST = HashRequest(crop_variants=BANK_CROP_VARIANTS, image_variants=True)


@dataclass
class FileHashes:
    """The outcome for one file: its signals, or the reason it failed."""

    path: str
    signals: dict[str, str] = field(default_factory=dict)
    quality: dict[str, int] = field(default_factory=dict)
    dihedral: dict[str, list[str]] = field(default_factory=dict)
    #: Video signals: the sampled frames' hashes, by signal type.
    frames: dict[str, list[FrameHash]] = field(default_factory=dict)
    #: Image signals: each stored variant's hash, by signal type and variant name.
    variants: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Image signals: the hash after query clean-up, when it removed something.
    cleaned: dict[str, CleanedHash] = field(default_factory=dict)
    #: Image: its local features as stored in a bank (``HashRequest.local_features``).
    features: bytes | None = None
    #: Image: grayscale pixels for the second stage's query
    #: (``HashRequest.feature_query``); held until the file is matched.
    feature_pixels: np.ndarray | None = field(default=None, repr=False)
    #: Video: size, frame rate, duration and rotation, as the header says.
    video: dict[str, Any] | None = None
    #: Perceptual types asked for that this file did not give, and why
    #: (it is neither an image nor a video hashmatch decodes).
    not_computed: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        """The JSON-lines record ``hashmatch hash`` prints."""
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        record: dict[str, Any] = {"path": self.path, "signals": dict(sorted(self.signals.items()))}
        for name, quality in sorted(self.quality.items()):
            record[f"{name}_quality"] = quality
        for name, values in sorted(self.dihedral.items()):
            record[f"{name}_dihedral"] = values
        for name, frames in sorted(self.frames.items()):
            record[name] = [frame.to_json() for frame in frames]
        for name, variants in sorted(self.variants.items()):
            record[f"{name}_variants"] = variants
        for name, cleaned in sorted(self.cleaned.items()):
            record[f"{name}_cleaned"] = cleaned.to_json()
        if self.video is not None:
            record["video"] = self.video
        if self.not_computed:
            record["not_computed"] = dict(sorted(self.not_computed.items()))
        return record


def hash_file(
    path: str | os.PathLike[str],
    request: HashRequest,
    *,
    name: str | None = None,
    content_type: str = "",
) -> FileHashes:
    """Every requested signal of one file; errors are returned, not raised.

    ``name`` (default: the path) and ``content_type`` are what the file
    came as, e.g. an upload's file name and Content-Type: when they say
    image or video, a file that does not decode as one is an error.
    """
    types = request.resolved()
    result = FileHashes(str(path))
    try:
        _hash_into(result, Path(path), types, request)
        _check_perceptual(result, types, request, declared_kind(name or str(path), content_type))
    except HashmatchError as error:
        return FileHashes(str(path), error=str(error))
    except OSError as error:
        return FileHashes(str(path), error=f"{path}: cannot read: {error.strerror or error}")
    if not result.signals and not result.frames:
        return FileHashes(
            str(path), error=f"{path}: none of the requested signals apply to this file"
        )
    return result


def _hash_into(
    result: FileHashes, path: Path, types: list[SignalType], request: HashRequest
) -> None:
    if path.stat().st_size == 0:
        raise EmptyFileError(f"{path}: file is empty")
    image_types = [t for t in types if isinstance(t, ImageSignalType)]
    video_types = [t for t in types if isinstance(t, VideoSignalType)]
    if image_types or video_types:
        try:
            opened = open_image(path, request.limits)
        except UnsupportedMediaError as not_image:
            result.not_computed.update((t.name, str(not_image)) for t in image_types)
            if video_types:
                _hash_video(result, path, video_types, request)
        else:
            with opened:
                for signal in image_types:
                    _hash_image(result, signal, opened, request)
    bytes_types = [t for t in types if isinstance(t, BytesSignalType)]
    if bytes_types:
        result.signals.update(digest_file(path, bytes_types))


def _check_perceptual(
    result: FileHashes, types: list[SignalType], request: HashRequest, kind: Kind | None
) -> None:
    """Raise when a missing perceptual hash makes the outcome an error."""
    if not result.not_computed:
        return
    if result.video is not None:  # a video: an image hash does not apply
        result.not_computed.clear()
        return
    asked = [name for name in request.signal_types if name in result.not_computed]
    if asked:
        raise UnsupportedMediaError(result.not_computed[asked[0]])
    if kind is not None:
        wanted = VideoSignalType if kind == "video" else ImageSignalType
        names = [
            t.name for t in types if isinstance(t, wanted) and t.name in result.not_computed
        ] or sorted(result.not_computed)
        raise UnsupportedMediaError(
            f"{result.not_computed[names[0]]} (its name or type says {kind}: "
            f"no {', '.join(names)} computed)"
        )


def _hash_image(
    result: FileHashes, signal: ImageSignalType, opened: OpenedImage, request: HashRequest
) -> None:
    if (request.image_variants or request.local_features) and isinstance(signal, PdqSignal):
        _hash_pdq_with_variants(result, signal, opened, request)
        return
    if (request.query_cleanup or request.feature_query) and isinstance(signal, PdqSignal):
        _hash_pdq_with_cleanup(result, signal, opened, request)
        return
    if request.dihedral and isinstance(signal, DihedralSignalType):
        values = signal.hash_image_dihedral(opened, fast=request.fast)
        result.dihedral[signal.name] = [value.value for value in values]
        original = values[0]
    else:
        original = signal.hash_image(opened, fast=request.fast)
    result.signals[signal.name] = original.value
    if original.quality is not None:
        result.quality[signal.name] = original.quality


def _exact_pdq(result: FileHashes, signal: PdqSignal, rgb: Any, request: HashRequest) -> str:
    """The image's exact PDQ (and its rotations and flips when asked) into
    ``result``; the hash."""
    if request.dihedral:
        turned = hasher.pdq_dihedral_from_rgb(rgb)
        result.dihedral[signal.name] = [value.hex for value in turned.hashes]
        value, quality = turned.hashes[0].hex, turned.quality
    else:
        single = hasher.pdq_from_rgb(rgb)
        value, quality = single.hash.hex, single.quality
    result.signals[signal.name] = value
    result.quality[signal.name] = quality
    return value


def _hash_pdq_with_variants(
    result: FileHashes, signal: PdqSignal, opened: OpenedImage, request: HashRequest
) -> None:
    """PDQ, its stored variants' hashes and its local features, as asked,
    from one decode (never the fast one: a bank's hashes are exact)."""
    rgb = opened.rgb()
    value = _exact_pdq(result, signal, rgb, request)
    variants = pdq_variants(rgb, value) if request.image_variants else {}
    if variants:
        result.variants[signal.name] = variants
    if request.local_features:
        # OpenCV takes a quarter of a second to load: only when asked.
        from hashmatch.features import encode_features, extract_features

        result.features = encode_features(extract_features(rgb))


def _hash_pdq_with_cleanup(
    result: FileHashes, signal: PdqSignal, opened: OpenedImage, request: HashRequest
) -> None:
    """PDQ of a query image and, when clean-up removes a border or a caption
    band, of the cleaned image too, and the pixels the second stage queries
    with, as asked: one decode for all (never the fast one)."""
    rgb = opened.rgb()
    value = _exact_pdq(result, signal, rgb, request)
    if request.feature_query:
        # OpenCV takes a quarter of a second to load: only when asked.
        from hashmatch.features.extract import working_gray

        # What the stage extracts from (idempotent): at most a megabyte held.
        result.feature_pixels = working_gray(rgb)
    cleanup = clean_image(rgb) if request.query_cleanup else None
    if cleanup is not None:
        cleaned = hasher.pdq_from_rgb(cleanup.pixels)
        if cleaned.hash.hex != value:
            result.cleaned[signal.name] = CleanedHash(
                cleaned.hash.hex, cleaned.quality, cleanup.to_json()
            )


def _hash_video(
    result: FileHashes, path: Path, video_types: list[VideoSignalType], request: HashRequest
) -> None:
    try:
        video = open_video(path, request.video_limits)
    except UnsupportedMediaError as not_video:
        result.not_computed.update((t.name, str(not_video)) for t in video_types)
        return
    with video:
        for signal in video_types:
            result.frames[signal.name] = signal.hash_video(
                video,
                seconds_per_hash=request.seconds_per_hash,
                fast=request.fast,
                dihedral=request.dihedral,
                crop_variants=request.crop_variants,
            )
        info = video.info
        result.video = {
            "width": info.width,
            "height": info.height,
            "fps": round(info.fps, 6),
            "duration_seconds": info.duration_seconds,
            "rotation": video.rotation,
            "codec": info.codec,
        }


def hash_files(
    paths: Iterable[str | os.PathLike[str]], request: HashRequest, *, jobs: int = 1
) -> Iterator[FileHashes]:
    """Hash many files on ``jobs`` threads, yielding results in input order.

    Whatever goes wrong with one file is that file's error: a batch always
    finishes."""
    request.resolved()  # fail on unknown names before starting
    if jobs <= 1:
        for path in paths:
            yield _hash_one(path, request)
        return
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="hashmatch-hash") as pool:
        pending: deque[Future[FileHashes]] = deque()
        for path in paths:
            pending.append(pool.submit(_hash_one, path, request))
            if len(pending) >= jobs * 4:  # bounded look-ahead: memory stays flat
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _hash_one(path: str | os.PathLike[str], request: HashRequest) -> FileHashes:
    try:
        return hash_file(path, request)
    except Exception as error:  # noqa: BLE001 - a bug met on one file must not end the batch
        return FileHashes(
            str(path), error=f"{path}: could not be hashed ({type(error).__name__}: {error})"
        )


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Files named, and files under folders named (recursively, sorted).

    Symbolic links to folders are not followed, so a link loop cannot make a
    scan run forever.
    """
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            yield path
            continue
        for folder, subfolders, files in os.walk(path):
            subfolders.sort()
            for name in sorted(files):
                yield Path(folder) / name


def default_jobs() -> int:
    """Every core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1
