"""Content that arrives with a request, an upload or a URL, saved to a temporary file and hashed.

    async with received_file(service, upload=file) as received:
        hashes = await hashed(received, dihedral=True)

The file lives in a folder of its own that is removed when the block ends:
raw media is never kept.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from hashmatch.api.errors import ApiError
from hashmatch.api.service import Service
from hashmatch.hashing import FileHashes, HashRequest, hash_file
from hashmatch.media.download import download
from hashmatch.media.limits import DecodeLimits
from hashmatch.media.video import VideoLimits

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ReceivedFile:
    path: Path
    #: How the client named it: the upload's file name, or the URL.
    name: str
    #: The Content-Type the client or the URL's server gave ("" if none).
    content_type: str
    #: The server's decoding limits (settings max_decode_bytes, max_image_pixels, ...).
    limits: DecodeLimits
    video_limits: VideoLimits


@asynccontextmanager
async def received_file(
    service: Service, *, upload: UploadFile | None = None, url: str | None = None
) -> AsyncIterator[ReceivedFile]:
    """The upload, or the content at ``url``, as a temporary file."""
    limits = DecodeLimits.from_settings(service.settings)
    video_limits = VideoLimits.from_settings(service.settings)
    with tempfile.TemporaryDirectory(prefix="hashmatch-upload-") as folder:
        path = Path(folder) / "content"
        if url is not None:
            fetched = await run_in_threadpool(download, url, service.url_policy, path)
            yield ReceivedFile(path, url, fetched.content_type, limits, video_limits)
        elif upload is not None:
            await run_in_threadpool(_save_upload, upload, service.settings.max_upload_bytes, path)
            name, content_type = upload.filename or "upload", upload.content_type or ""
            yield ReceivedFile(path, name, content_type, limits, video_limits)
        else:
            raise ApiError(400, "no_content", "give a file upload or a url")


@contextmanager
def received_upload(service: Service, upload: UploadFile) -> Iterator[ReceivedFile]:
    """As :func:`received_file` for an upload, for code already in the thread
    pool (the web UI's plain ``def`` pages)."""
    limits = DecodeLimits.from_settings(service.settings)
    video_limits = VideoLimits.from_settings(service.settings)
    with tempfile.TemporaryDirectory(prefix="hashmatch-upload-") as folder:
        path = Path(folder) / "content"
        _save_upload(upload, service.settings.max_upload_bytes, path)
        name, content_type = upload.filename or "upload", upload.content_type or ""
        yield ReceivedFile(path, name, content_type, limits, video_limits)


def _save_upload(upload: UploadFile, limit: int, path: Path) -> None:
    """Write the upload to ``path`` (disk work: in the thread pool), refusing
    more than ``limit`` bytes (413)."""
    size = 0
    with path.open("wb") as stream:
        while chunk := upload.file.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "upload_too_large", f"uploads are limited to {limit} bytes")
            stream.write(chunk)


async def hash_received(
    received: ReceivedFile,
    *,
    dihedral: bool,
    signal_types: tuple[str, ...] = (),
    crop_variants: tuple[float, ...] = (),
    image_variants: bool = False,
    query_cleanup: bool = False,
    local_features: bool = False,
    feature_query: bool = False,
) -> FileHashes:
    """Hash a received file (off the event loop) under the server's limits;
    what went wrong is in the result, naming the file as the client did."""
    return await run_in_threadpool(
        hash_received_now,
        received,
        dihedral=dihedral,
        signal_types=signal_types,
        crop_variants=crop_variants,
        image_variants=image_variants,
        query_cleanup=query_cleanup,
        local_features=local_features,
        feature_query=feature_query,
    )


def hash_received_now(
    received: ReceivedFile,
    *,
    dihedral: bool,
    signal_types: tuple[str, ...] = (),
    crop_variants: tuple[float, ...] = (),
    image_variants: bool = False,
    query_cleanup: bool = False,
    local_features: bool = False,
    feature_query: bool = False,
) -> FileHashes:
    """As :func:`hash_received`, in this thread (call it in the thread pool)."""
    request = HashRequest(
        signal_types=signal_types,
        dihedral=dihedral,
        crop_variants=crop_variants,
        image_variants=image_variants,
        query_cleanup=query_cleanup,
        local_features=local_features,
        feature_query=feature_query,
        limits=received.limits,
        video_limits=received.video_limits,
    )
    result = hash_file(
        received.path, request, name=received.name, content_type=received.content_type
    )
    named = str(received.path)
    result.not_computed = {
        kind: why.replace(named, received.name) for kind, why in result.not_computed.items()
    }
    if result.error is not None:
        result.error = result.error.replace(named, received.name)
    return result


async def hashed(
    received: ReceivedFile,
    *,
    dihedral: bool,
    signal_types: tuple[str, ...] = (),
    crop_variants: tuple[float, ...] = (),
    query_cleanup: bool = False,
    local_features: bool = False,
    feature_query: bool = False,
) -> FileHashes:
    """As :func:`hash_received`; a file that cannot be hashed is a 400."""
    result = await hash_received(
        received,
        dihedral=dihedral,
        signal_types=signal_types,
        crop_variants=crop_variants,
        query_cleanup=query_cleanup,
        feature_query=feature_query,
    )
    if result.error is not None:
        raise ApiError(400, "bad_media", result.error)
    return result
