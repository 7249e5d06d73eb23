"""Where preserved evidence's (encrypted) bytes go: a local folder, or any
fsspec filesystem (an S3-compatible bucket in production, ``memory://`` in
tests).

    store = open_store(settings)           # evidence_store, or data_dir/evidence
    store.write("report-3/0000.bin", sealed_bytes)
    store.read("report-3/0000.bin")
    store.list("report-3/")                # ["report-3/0000.bin", ...]
    store.delete("report-3/0000.bin")

Paths are relative, ``/``-separated, and chosen by ``reporting/evidence.py``
(never from a file's name).  A store only holds ciphertext: encryption is
``evidence_keys``'s job.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from hashmatch.errors import EvidenceError

if TYPE_CHECKING:
    from hashmatch.settings import Settings


@runtime_checkable
class EvidenceStore(Protocol):
    """Bytes by relative path.  ``location`` says where (recorded on each package)."""

    location: str

    def write(self, path: str, data: bytes) -> None:
        """Store ``data`` at ``path`` whole or not at all, replacing what was there."""

    def read(self, path: str) -> bytes:
        """The bytes at ``path``; EvidenceError when there are none."""

    def delete(self, path: str) -> None:
        """Remove ``path``; nothing when it is already gone."""

    def exists(self, path: str) -> bool: ...

    def list(self, prefix: str) -> list[str]:
        """The paths under the folder ``prefix`` (sorted)."""


def _checked(path: str) -> PurePosixPath:
    relative = PurePosixPath(path)
    if not path or relative.is_absolute() or ".." in relative.parts or "\\" in path:
        raise EvidenceError(f"not a relative evidence path: {path!r}")
    return relative


class LocalEvidenceStore:
    """A folder only its owner can read: folders 0700, files 0600, each file
    written to a temporary name and renamed (a crash never leaves half a file)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    def _file(self, path: str) -> Path:
        return self.root.joinpath(*_checked(path).parts)

    def write(self, path: str, data: bytes) -> None:
        target = self._file(path)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder = self.root
        for part in target.relative_to(self.root).parts[:-1]:
            folder = folder / part
            folder.mkdir(mode=0o700, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def read(self, path: str) -> bytes:
        try:
            return self._file(path).read_bytes()
        except FileNotFoundError:
            raise EvidenceError(f"evidence object {path} is missing from {self.root}") from None

    def delete(self, path: str) -> None:
        file = self._file(path)
        file.unlink(missing_ok=True)
        for folder in file.parents:  # no empty folders left behind, up to the root
            if folder == self.root or self.root not in folder.parents:
                break
            try:
                folder.rmdir()
            except OSError:
                break

    def exists(self, path: str) -> bool:
        return self._file(path).is_file()

    def list(self, prefix: str) -> list[str]:
        folder = self._file(prefix)
        if not folder.is_dir():
            return []
        return sorted(
            file.relative_to(self.root).as_posix()
            for file in folder.rglob("*")
            if file.is_file() and not file.name.startswith(".tmp-")
        )


class FsspecEvidenceStore:
    """Any fsspec URL: ``s3://bucket/prefix`` (with s3fs), ``memory://evidence``, ...
    Object stores write an object whole, so no temporary names are needed."""

    def __init__(self, url: str, **options: Any) -> None:
        try:
            import fsspec
        except ImportError:
            raise EvidenceError(
                f"evidence_store {url!r} needs fsspec: pip install 'hashmatch[s3]'"
            ) from None
        try:
            self._fs, root = fsspec.core.url_to_fs(url, **options)
        except (ImportError, ValueError) as error:
            raise EvidenceError(f"evidence_store {url!r} cannot be opened: {error}") from None
        self._root = str(root).rstrip("/")
        self.location = url

    def _full(self, path: str) -> str:
        return f"{self._root}/{_checked(path).as_posix()}"

    def write(self, path: str, data: bytes) -> None:
        self._fs.pipe_file(self._full(path), data)

    def read(self, path: str) -> bytes:
        try:
            return bytes(self._fs.cat_file(self._full(path)))
        except FileNotFoundError:
            raise EvidenceError(f"evidence object {path} is missing from {self.location}") from None

    def delete(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._fs.rm_file(self._full(path))

    def exists(self, path: str) -> bool:
        return bool(self._fs.isfile(self._full(path)))

    def list(self, prefix: str) -> list[str]:
        folder = self._full(prefix).rstrip("/")
        if not self._fs.isdir(folder):
            return []
        start = len(self._root.lstrip("/")) + 1
        return sorted(str(found).lstrip("/")[start:] for found in self._fs.find(folder))


def open_store(settings: Settings) -> EvidenceStore:
    """The configured store: ``evidence_store`` as a URL (``scheme://``) or a
    folder; empty means ``evidence`` in the data directory."""
    configured = settings.evidence_store.strip()
    if "://" in configured and not configured.startswith("file://"):
        return FsspecEvidenceStore(configured)
    if configured.startswith("file://"):
        configured = configured.removeprefix("file://")
    root = Path(configured).expanduser() if configured else settings.data_dir / "evidence"
    return LocalEvidenceStore(root)
