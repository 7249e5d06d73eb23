"""benchmarks/user_history_speed.py runs and prints its machine-readable
lines (the shape only: tests never assert on speed)."""

from __future__ import annotations

import re

import pytest

from tests.test_benchmarks import run


@pytest.mark.slow
def test_user_history_speed_quick_run() -> None:
    quick = "--records 600 --others 500 --runs 3 --engines sqlite"
    stdout = run("user_history_speed.py", *quick.split())
    pages = re.findall(
        r"^RESULT engine=sqlite records=600 page=(\w+) runs=3 p50_ms=[\d.]+ p95_ms=[\d.]+ "
        r"under_200ms=(?:yes|no)$",
        stdout,
        re.M,
    )
    assert pages == ["first", "deep"]
