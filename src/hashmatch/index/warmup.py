"""Compiling the index kernels before the first lookup needs them.

numba specialises a kernel for the arrays it is given, down to whether they
are read-only: an index built in memory and one mapped from a snapshot run
different machine code.  :func:`warm_up` builds a small index of each kind
(large enough for the multi-index tables) and searches it, so a server's
first lookup compiles nothing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from hashmatch.index import snapshot
from hashmatch.index.live import MIN_TABLE_SIZE, HammingIndex


def warm_up() -> None:
    """Compile, or load from numba's cache, what building, following and
    searching an index runs."""
    hashes = np.random.default_rng(0).integers(0, 2**64, size=(MIN_TABLE_SIZE, 4), dtype=np.uint64)
    built = HammingIndex(np.arange(MIN_TABLE_SIZE), hashes)
    built.add(np.array([MIN_TABLE_SIZE]), hashes[:1])  # the delta, scanned
    with tempfile.TemporaryDirectory(prefix="hashmatch-warmup-") as folder:
        info = snapshot.SnapshotInfo("warm-up", 0, MIN_TABLE_SIZE)
        snapshot.save(Path(folder) / "index", built, info)
        mapped = snapshot.load(Path(folder) / "index")  # read-only arrays
        for index in (built, mapped):
            index.search(hashes[0], 31)
            index.search(hashes[0], 64)  # past the tables' radius: a scan
            index.search_batch(hashes[:2], 24, max_probe=0)  # the local-features vote
