"""Content that arrives with a request, an upload or a URL, saved to a temporary file and hashed.

    async with received_file(service, upload=file) as received:
        hashes = await hashed(received, dihedral=True)

The file lives in a folder of its own that is removed when the block ends:
raw media is never kept.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from hashmatch.api.errors import ApiError
from hashmatch.api.service import Service
from hashmatch.hashing import FileHashes, HashRequest, hash_file
from hashmatch.media.download import download

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ReceivedFile:
    path: Path
    #: How the client named it: the upload's file name, or the URL.
    name: str
    #: The Content-Type the client or the URL's server gave ("" if none).
    content_type: str


@asynccontextmanager
async def received_file(
    service: Service, *, upload: UploadFile | None = None, url: str | None = None
) -> AsyncIterator[ReceivedFile]:
    """The upload, or the content at ``url``, as a temporary file."""
    with tempfile.TemporaryDirectory(prefix="hashmatch-upload-") as folder:
        path = Path(folder) / "content"
        if url is not None:
            fetched = await run_in_threadpool(download, url, service.url_policy, path)
            yield ReceivedFile(path, url, fetched.content_type)
        elif upload is not None:
            await _save_upload(upload, service.settings.max_upload_bytes, path)
            yield ReceivedFile(path, upload.filename or "upload", upload.content_type or "")
        else:
            raise ApiError(400, "no_content", "give a file upload or a url")


async def _save_upload(upload: UploadFile, limit: int, path: Path) -> None:
    """Write the upload to ``path``, refusing more than ``limit`` bytes (413)."""
    size = 0
    with path.open("wb") as stream:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "upload_too_large", f"uploads are limited to {limit} bytes")
            stream.write(chunk)


async def hashed(
    received: ReceivedFile,
    *,
    dihedral: bool,
    signal_types: tuple[str, ...] = (),
    crop_variants: tuple[float, ...] = (),
) -> FileHashes:
    """Hash a received file (off the event loop); one that cannot be hashed is
    a 400 naming it as the client did."""
    request = HashRequest(signal_types=signal_types, dihedral=dihedral, crop_variants=crop_variants)
    result = await run_in_threadpool(hash_file, received.path, request)
    if not result.ok:
        message = (result.error or "").replace(str(received.path), received.name)
        raise ApiError(400, "bad_media", message)
    return result
