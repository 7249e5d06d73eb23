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


def run(script: str, *arguments: str) -> str:
    """A benchmark's standard output, run as a user would."""
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *arguments],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout


@pytest.mark.slow
def test_pdq_speed_quick_run() -> None:
    stdout = run("pdq_speed.py", "--quick")
    engines = re.findall(
        r"^RESULT engine=(\w+) images_per_s=[\d.]+ ratio_vs_pdqhash=[\d.]+$",
        stdout,
        re.MULTILINE,
    )
    assert engines == ["hashmatch_exact", "hashmatch_fast", "pdqhash", "threatexchange"]
    drift = re.search(r"^RESULT drift max_bits=(\d+) mean_bits=([\d.]+)$", stdout, re.M)
    assert drift is not None
    assert int(drift.group(1)) <= 10


@pytest.mark.slow
def test_startup_speed_quick_run() -> None:
    stdout = run("startup_speed.py", "--quick")
    commands = re.findall(
        r"^RESULT command=(\w+) seconds=[\d.]+ target_seconds=[\d.]+$", stdout, re.M
    )
    assert commands == ["version", "help", "hash_one"]
    folder = r"^RESULT command=hash_folder files=24 seconds=[\d.]+ pdqhash_seconds=[\d.]+ "
    assert re.search(folder + r"ratio_vs_pdqhash=[\d.]+$", stdout, re.M)


@pytest.mark.slow
def test_add_speed_quick_run() -> None:
    stdout = run("add_speed.py", "--n", "2000", "--adds", "80", "--engines", "sqlite")
    banks = re.findall(
        r"^RESULT engine=sqlite bank=(\d+) sequential_adds_per_s=\d+ queued_adds_per_s=\d+ "
        r"refresh_ms=[\d.]+$",
        stdout,
        re.M,
    )
    assert banks == ["0", "2000"]


@pytest.mark.slow
def test_worker_stall_quick_run() -> None:
    stdout = run("worker_stall.py", "--n", "3000", "--seconds", "2", "--engines", "sqlite")
    stall = r"^RESULT engine=sqlite phase=stall live_p50_ms=[\d.]+ live_p99_ms=[\d.]+ "
    assert re.search(
        stall + r"live_max_ms=[\d.]+ probes=\d+ adds_during=\d+ import_s=", stdout, re.M
    )
    adds = re.search(
        r"^RESULT engine=sqlite phase=adds adds_per_s=\d+ .* errors=(\d+)$", stdout, re.M
    )
    assert adds is not None
    assert adds.group(1) == "0"


@pytest.mark.slow
def test_act_speed_quick_run() -> None:
    stdout = run(
        "act_speed.py", "--n", "2000", "--seconds", "2", "--events", "200", "--engines", "sqlite"
    )
    submit = re.search(
        r"^RESULT engine=sqlite phase=submit clients=8 submissions=(\d+) per_s=\d+ p50_ms=[\d.]+ "
        r"p99_ms=[\d.]+ errors=(\d+) events=(\d+) event_to_attempt_p50_ms=\d+ "
        r"event_to_attempt_p99_ms=\d+$",
        stdout,
        re.M,
    )
    assert submit is not None
    assert "phase=submit clients=1 " in stdout
    assert int(submit.group(1)) > 0
    assert submit.group(2) == "0"
    assert int(submit.group(3)) >= int(submit.group(1))  # a verdict event each, at least
    deliver = re.search(
        r"^RESULT engine=sqlite phase=deliver events=200 deliveries_per_s=\d+ seconds=[\d.]+ "
        r"duplicates=(\d+)$",
        stdout,
        re.M,
    )
    assert deliver is not None


@pytest.mark.slow
def test_ui_speed_quick_run() -> None:
    quick = "--size 2000 --requests 3 --submissions 20 --audit 100 --engines sqlite"
    stdout = run("ui_speed.py", *quick.split())
    pages = dict(
        re.findall(
            r"^RESULT engine=sqlite page=(\w+) status=(\d+) median_ms=[\d.]+ p95_ms=[\d.]+ "
            r"under_100ms=(?:yes|no|n/a|error)$",
            stdout,
            re.M,
        )
    )
    skipped = re.findall(r"^SKIPPED engine=sqlite page=(\w+) ", stdout, re.M)
    for page in ("dashboard", "audit", "audit_filtered", "settings", "system"):
        assert pages.get(page) == "200", stdout
    assert all(status == "200" for status in pages.values()), pages
    assert len(pages) + len(skipped) == 23


@pytest.mark.slow
def test_review_speed_quick_run() -> None:
    quick = "--items 600 --history 300 --ops 20 --engines sqlite"
    stdout = run("review_speed.py", *quick.split())
    ops = re.findall(
        r"^RESULT engine=sqlite items=600 op=(\w+) ops=20 p50_ms=[\d.]+ p95_ms=[\d.]+ "
        r"p99_ms=[\d.]+ sql_p50_ms=[\d.]+ under_50ms=(?:yes|no)$",
        stdout,
        re.M,
    )
    assert ops == ["claim_next", "decide"]


@pytest.mark.slow
def test_cybertip_speed_quick_run() -> None:
    stdout = run("cybertip_speed.py", "--reports", "3", "--engines", "sqlite")
    assert re.search(
        r"^RESULT engine=sqlite reports=3 files_per_report=3 reports_per_minute=\d+ "
        r"p50_ms=[\d.]+ p95_ms=[\d.]+ calls_per_report=8$",
        stdout,
        re.M,
    )


@pytest.mark.slow
def test_transparency_speed_quick_run() -> None:
    quick = "--submissions 20000 --runs 1 --engines sqlite"
    stdout = run("transparency_speed.py", *quick.split())
    assert "counted 20,000, 20 reports" in stdout  # one submission in a thousand is reported
    assert re.search(
        r"^RESULT engine=sqlite submissions=20000 fill_s=[\d.]+ report_s=[\d.]+ "
        r"under_10s=(yes|no)$",
        stdout,
        re.M,
    )


@pytest.mark.slow
def test_statements_speed_quick_run() -> None:
    stdout = run("statements_speed.py", "--quick")
    stages = re.findall(r"^RESULT stage=(\w+) statements=2000 per_s=\d+", stdout, re.M)
    assert stages == ["built", "recorded", "sent"]
