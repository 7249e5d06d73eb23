"""Saving a Hamming index to disk and mapping it back in, instead of rebuilding.

A snapshot is a folder of ``.npy`` arrays (the main part's ids, hashes and
multi-index tables) plus ``meta.json``, which records the change-log entry
the snapshot includes.  Loading maps the arrays into memory (``mmap_mode``),
so start-up costs page faults on first use rather than a rebuild, and pages
are shared between processes on one host.  The caller then applies the
changes logged after that entry.

Snapshots are written to a temporary folder and renamed into place, so a
reader never sees half of one.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hashmatch.index.live import HammingIndex
from hashmatch.index.mih import MultiIndex

FORMAT_VERSION = 1
_ARRAYS = ("ids", "hashes", "layout", "bases", "offsets", "rows")


@dataclass(frozen=True)
class SnapshotInfo:
    """What a snapshot covers: the change-log entry it includes, and its size."""

    #: The database it was taken from (its instance id).
    database_id: str
    seq: int
    count: int


def _lock_file(folder: Path) -> Path:
    folder.parent.mkdir(parents=True, exist_ok=True)
    return folder.parent / f".{folder.name}.lock"


@contextmanager
def exclusive(folder: Path) -> Iterator[None]:
    """Hold the snapshot's lock (waiting for it): for a process that loads or
    builds the index and writes the snapshot, while the others wait and then
    map what it wrote."""
    with _lock_file(folder).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def save(folder: Path, index: HammingIndex, info: SnapshotInfo) -> bool:
    """Write ``index`` (every live entry, compacted into one main part) to ``folder``.

    Several processes may try at once: one writes, the others skip and return
    False.
    """
    with _lock_file(folder).open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        write(folder, index, info)
        return True


def write(folder: Path, index: HammingIndex, info: SnapshotInfo) -> None:
    """Write the snapshot; the caller holds :func:`exclusive`."""
    ids, _, tables = index.main
    if not (index.compact and tables is not None):
        ids, hashes = index.live()
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        tables = MultiIndex.build(hashes[order]) if ids.shape[0] else None
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        np.save(staging / "ids.npy", ids)
        if tables is not None:
            for name in _ARRAYS[1:]:
                np.save(staging / f"{name}.npy", np.asarray(getattr(tables, name)))
        meta = {
            "version": FORMAT_VERSION,
            "database_id": info.database_id,
            "seq": info.seq,
            "count": int(ids.shape[0]),
        }
        (staging / "meta.json").write_text(json.dumps(meta))
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def read_info(folder: Path) -> SnapshotInfo | None:
    """The snapshot's metadata, or None if there is no usable snapshot."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if meta.get("version") != FORMAT_VERSION:
        return None
    return SnapshotInfo(str(meta["database_id"]), int(meta["seq"]), int(meta["count"]))


def load(folder: Path) -> HammingIndex:
    """Map a snapshot's arrays into memory as an index (no rebuild)."""
    ids = np.load(folder / "ids.npy")
    if not ids.shape[0]:
        return HammingIndex()
    arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _ARRAYS[1:]}
    tables = MultiIndex(
        hashes=arrays["hashes"],
        layout=np.asarray(arrays["layout"]),
        bases=np.asarray(arrays["bases"]),
        offsets=arrays["offsets"],
        rows=arrays["rows"],
    )
    return HammingIndex.from_parts(tables, ids, arrays["hashes"])
