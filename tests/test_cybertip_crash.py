"""A filer killed (SIGKILL) at any step of filing a CyberTipline report: the
report resumes from what is stored and ends with exactly one finished report
at NCMEC holding each file once, and no duplicate rows.  Both engines.

The filing runs in a separate process (``Reports.file``) whose client stops
the process dead just before a chosen call is sent (its ``call_in_flight``
committed, nothing on the wire) or just after NCMEC answered it (NCMEC did
the work, the answer is not stored): the two sides of every step.  The test
then kills it, lets its lease run out, and files the report again itself.
"""

from __future__ import annotations

import os
import select as select_module
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hashmatch.store.models import utcnow
from hashmatch.store.reporting_models import CybertipFile, CybertipReport, EvidencePackage
from tests.reporting_world import ReportingWorld

ROOT = Path(__file__).parent.parent
#: The child: file one report, stopping dead where the test says (argv:
#: database URL, test folder, simulator URL, report id, phase, endpoint, nth).
CHILD = """
import sys, time
from pathlib import Path
from hashmatch.actions.media_vault import load_vault
from hashmatch.reporting.reports import Reports
from hashmatch.store import Database
from tests.reporting_world import CREDENTIALS, ScriptedClient, reporting_settings

url, folder, ncmec_url, report_id, phase, endpoint, nth = sys.argv[1:]

def stop_here(*_args):
    print("stopped", flush=True)
    time.sleep(3600)

settings = reporting_settings(url, Path(folder))
database = Database.open(url)
client = ScriptedClient(ncmec_url, *CREDENTIALS, timeout=10, allow_private=True)
if endpoint != "preserve":
    getattr(client, phase)(endpoint, stop_here, nth=int(nth))
preserve = stop_here if endpoint == "preserve" else None
reports = Reports(database, settings, vault=load_vault(settings), client=client, preserve=preserve)
reports.file(int(report_id))
print("finished", flush=True)
"""
STOPS = [
    ("before", "submit", 1),
    ("after", "submit", 1),
    ("before", "upload", 1),
    ("after", "upload", 2),
    ("after", "upload", 3),
    ("before", "fileinfo", 1),
    ("after", "fileinfo", 3),
    ("before", "finish", 1),
    ("after", "finish", 1),
    ("before", "preserve", 1),
]

#: How often each call reaches NCMEC when nothing goes wrong.
SENT_ONCE = {"submit": 1, "fileinfo": 3, "finish": 1}


@pytest.fixture
def world(reporting: ReportingWorld) -> ReportingWorld:
    return reporting


def kill_filing_at(
    world: ReportingWorld,
    database_url: str,
    tmp_path: Path,
    report_id: int,
    stop: tuple[str, str, int],
) -> None:
    """Run the filing in a child process until it stops at the step, then SIGKILL it."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            database_url,
            str(tmp_path),
            world.ncmec.url,
            str(report_id),
            *map(str, stop),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stderr is not None
        # poll, not select: select() refuses descriptors past 1,024, which a
        # long test run's process can reach
        waiting = select_module.poll()
        waiting.register(child.stdout, select_module.POLLIN)
        ready = waiting.poll(120_000)
        line = child.stdout.readline().strip() if ready else "(nothing within 120 s)"
        exited = child.poll() is not None
        assert line == "stopped", f"{line}; stderr: {child.stderr.read() if exited else ''}"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize(
    ("phase", "endpoint", "nth"), STOPS, ids=[f"{p}-{e}-{n}" for p, e, n in STOPS]
)
def test_a_filer_killed_at_any_step_leaves_a_report_that_resumes_filed_once(
    world: ReportingWorld, database_url: str, tmp_path: Path, phase: str, endpoint: str, nth: int
) -> None:
    reports = world.reports()
    report_id = reports.draft(world.confirmed(3), actor="user:alice")
    kill_filing_at(world, database_url, tmp_path, report_id, (phase, endpoint, nth))
    with world.database.transaction() as session:  # the dead filer's lease runs out
        row = session.get_one(CybertipReport, report_id)
        assert row.leased_by is not None
        in_flight = row.call_in_flight
        row.leased_until = utcnow()
    # killed with its call in flight (a finished report waiting for its evidence has none)
    assert (in_flight or "preserve").split(":")[0] == endpoint
    report = reports.file(report_id)
    assert report["status"] == "finished"
    [finished] = world.ncmec.finished_reports()
    assert finished.report_id == report["ncmec_report_id"]
    assert sorted(f.md5 for f in finished.files.values()) == sorted(
        f["md5"] for f in report["files"]
    )
    assert len(finished.files) == 3
    assert {f["ncmec_file_id"] for f in report["files"]} == set(finished.files)
    with world.database.reading() as session:
        assert session.scalar(select(func.count()).select_from(CybertipReport)) == 1
        assert session.scalar(select(func.count()).select_from(CybertipFile)) == 3
        assert session.scalar(select(func.count()).select_from(EvidencePackage)) == 1
    assert report["evidence_package_id"] is not None
    timeline = [call["endpoint"] for call in report["calls"]]
    # an upload in flight: what NCMEC holds is unknown, so it was retracted and filed anew
    assert ("refile" in timeline) is (endpoint == "upload")
    assert ("retract" in timeline) is (endpoint == "upload")
    if endpoint in SENT_ONCE:  # sent again only if NCMEC had it already
        sent = [call for call in world.ncmec.calls if call.path == f"/{endpoint}"]
        assert len(sent) == SENT_ONCE[endpoint] + (phase == "after")
    if (phase, endpoint) == ("after", "finish"):
        assert report["calls"][-1]["response_code"] == 5102  # finished already: finished
