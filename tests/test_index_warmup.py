"""After the warm-ups, building, following and searching indexes (in memory
or mapped from a snapshot) and a video frame's luma compile nothing more."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import tempfile
from pathlib import Path
import numpy as np
from hashmatch.index import HammingIndex, snapshot
from hashmatch.index.warmup import warm_up
from hashmatch.pdq.warmup import announcing_compiles
from hashmatch.signals import vpdq

warm_up()
vpdq.warm_up()
compiled = []
packages = ("hashmatch.index", "hashmatch.signals.vpdq")
with announcing_compiles(lambda: compiled.append(1), packages=packages):
    frame = np.zeros((36, 72, 3), np.uint8)  # rows padded as PyAV pads them
    vpdq.frame_luma(frame[:, :64])
    vpdq.frame_luma(np.ascontiguousarray(frame))
    rng = np.random.default_rng(5)
    hashes = rng.integers(0, 2**64, size=(25_000, 4), dtype=np.uint64)
    index = HammingIndex(np.arange(25_000), hashes)
    index.add(np.array([99_999]), hashes[:1])
    with tempfile.TemporaryDirectory() as folder:
        snapshot.save(Path(folder) / "pdq", index, snapshot.SnapshotInfo("x", 1, 25_001))
        mapped = snapshot.load(Path(folder) / "pdq")
        for each in (index, mapped):
            assert 0 in each.search(hashes[0], 31)[0]
            each.search(hashes[1], 70)
print("compiled after warm-up:", len(compiled))
"""


@pytest.mark.slow
def test_nothing_compiles_after_the_warm_up(tmp_path: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}  # a machine's first run
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    assert "compiled after warm-up: 0" in result.stdout
