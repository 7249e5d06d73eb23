"""benchmarks/exchange_speed.py runs and prints its RESULT lines (never timed)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "exchange_speed.py"


@pytest.mark.slow
def test_exchange_speed_quick_run() -> None:
    stdout = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    formats = re.findall(r"^RESULT exchange_file format=(\w+) n=2000 engine=sqlite ", stdout, re.M)
    assert formats == ["pdq", "jsonl"]
    assert re.search(r"^RESULT exchange_ncmec n=2000 engine=sqlite seconds=", stdout, re.M)
    resumed = re.search(
        r"^RESULT exchange_resume n=3000 engine=sqlite killed_after=(\d+) contents=(\d+) "
        r"external_ids=(\d+) signals=(\d+)$",
        stdout,
        re.M,
    )
    assert resumed is not None
    assert int(resumed.group(1)) < 3000
    assert resumed.groups()[1:] == ("3000", "3000", "6000")
    assert re.search(r"^RESULT exchange_matchable engine=sqlite seconds=[\d.]+$", stdout, re.M)
