"""The benchmark scripts run and print their machine-readable lines.

Only the shape of the output is checked: tests never assert on speed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_pdq_speed_quick_run() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "pdq_speed.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    engines = re.findall(
        r"^RESULT engine=(\w+) images_per_s=[\d.]+ ratio_vs_pdqhash=[\d.]+$",
        result.stdout,
        re.MULTILINE,
    )
    assert engines == ["hashmatch_exact", "hashmatch_fast", "pdqhash", "threatexchange"]
    drift = re.search(r"^RESULT drift max_bits=(\d+) mean_bits=([\d.]+)$", result.stdout, re.M)
    assert drift is not None
    assert int(drift.group(1)) <= 10


@pytest.mark.slow
def test_startup_speed_quick_run() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "startup_speed.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    commands = re.findall(
        r"^RESULT command=(\w+) seconds=[\d.]+ target_seconds=[\d.]+$", result.stdout, re.M
    )
    assert commands == ["version", "help", "hash_one"]
    folder = r"^RESULT command=hash_folder files=24 seconds=[\d.]+ pdqhash_seconds=[\d.]+ "
    assert re.search(folder + r"ratio_vs_pdqhash=[\d.]+$", result.stdout, re.M)
