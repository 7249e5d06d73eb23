"""Filing CyberTipline reports against the local simulator: end to end, each
kind of error, NCMEC's expiry, retraction and retries, the background filer,
and two filers over many reports.  Both engines."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from hashmatch.actions.upkeep import purge_kept_media
from hashmatch.errors import ReportConflictError
from hashmatch.reporting.filer import Filer
from hashmatch.reporting.reports import Reports
from hashmatch.settings import Settings
from hashmatch.store.models import AuditEntry, utcnow
from hashmatch.store.reporting_models import CybertipReport, EvidencePackage
from hashmatch.store.workflow import Event, KeptMedia
from tests.reporting_world import ReportingWorld, ScriptedClient, reporting_settings

ALL_STEPS = ["submit", "upload", "upload", "upload", "fileinfo", "fileinfo", "fileinfo", "finish"]


@pytest.fixture
def world(reporting: ReportingWorld) -> ReportingWorld:
    return reporting


def filer_for(world: ReportingWorld, settings: Settings) -> Filer:
    return Filer(world.database, settings, vault=world.review_world.vault, client=world.client())


def drafted(world: ReportingWorld, files: int = 3, **options: Any) -> tuple[Reports, int]:
    reports = world.reports(**options)
    return reports, reports.draft(world.confirmed(files), actor="user:alice")


def client_of(reports: Reports) -> ScriptedClient:
    assert isinstance(reports.client, ScriptedClient)
    return reports.client


def audited(world: ReportingWorld, action: str) -> list[AuditEntry]:
    with world.database.reading() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def assert_filed_once(world: ReportingWorld, report: dict[str, Any]) -> None:
    """Finished, and NCMEC holds exactly one finished report with each of its files once."""
    assert report["status"] == "finished"
    [finished] = world.ncmec.finished_reports()
    assert finished.report_id == report["ncmec_report_id"]
    assert sorted(f.md5 for f in finished.files.values()) == sorted(
        f["md5"] for f in report["files"]
    )
    assert {f["ncmec_file_id"] for f in report["files"]} == set(finished.files)
    assert all(f.details is not None for f in finished.files.values())


def test_a_report_is_filed_end_to_end(world: ReportingWorld) -> None:
    reports, report_id = drafted(world)
    report = reports.file(report_id)
    assert_filed_once(world, report)
    assert [call["endpoint"] for call in report["calls"]] == ALL_STEPS
    request_ids = [call["request_id"] for call in report["calls"]]
    assert all(request_ids)
    assert len(set(request_ids)) == len(request_ids)
    assert {call["response_code"] for call in report["calls"]} == {0}
    assert report["finished_at"] is not None
    assert reports.xml(report_id).encode() == world.ncmec.report(report["ncmec_report_id"]).xml
    with world.database.reading() as session:
        [body] = session.scalars(select(Event.body).where(Event.type == "report.filed"))
        kept = session.scalars(
            select(KeptMedia.id).where(
                KeptMedia.submission_id.in_([f["submission_id"] for f in report["files"]])
            )
        ).all()
    data = json.loads(body)["data"]
    assert data == {
        "report": report_id,
        "ncmec_report_id": report["ncmec_report_id"],
        "environment": "test",
        "user_ref": "user-1",
        "items": [f["item_key"] for f in report["files"]],
        "submissions": sorted(f["submission_id"] for f in report["files"]),
        "classifications": {"A1": 3},
        "files": 3,
    }
    assert [entry.target for entry in audited(world, "report.filed")] == [f"report:{report_id}"]
    evidence = world.evidence()
    package_id = report["evidence_package_id"]
    names = [o["name"] for o in evidence.show(package_id, actor="user:lee")["objects"]]
    assert names[:3] == [f"{f['id']}-{f['filename']}" for f in report["files"]]
    assert names[3] == "report.xml"
    assert sum(name.startswith("fileinfo-") for name in names) == 3
    assert names[-3:] == ["ncmec-responses.json", "submissions.json", "manifest.json"]
    first = evidence.read(package_id, names[0], actor="user:lee")
    assert hashlib.md5(first).hexdigest() == report["files"][0]["md5"]
    assert evidence.read(package_id, "report.xml", actor="user:lee").decode() == reports.xml(
        report_id
    )
    answers = json.loads(evidence.read(package_id, "ncmec-responses.json", actor="user:lee"))
    assert [a["request_id"] for a in answers] == request_ids
    assert kept == []  # preserved: the kept media went
    assert reports.file(report_id)["evidence_package_id"] == package_id  # nothing more to do


@pytest.mark.parametrize(
    ("endpoint", "fault"),
    [("submit", "500"), ("upload", "code:1000"), ("fileinfo", "code:1300"), ("finish", "500")],
)
def test_a_server_side_error_is_retried_later_with_backoff(
    world: ReportingWorld, endpoint: str, fault: str
) -> None:
    reports, report_id = drafted(world)
    client_of(reports).before(endpoint, lambda: world.ncmec.fail_next(fault))
    before = utcnow()
    waiting = reports.file(report_id)
    assert waiting["status"] != "failed"
    assert waiting["attempts"] == 1
    assert waiting["error_kind"] == "retry"
    assert waiting["last_error"]
    # the first wait is drawn from 15-30 s (backoff 30 s, jitter in its upper half)
    assert datetime.fromisoformat(waiting["next_attempt_at"]) >= before + timedelta(seconds=15)
    assert_filed_once(world, reports.file(report_id))


def test_a_call_that_times_out_is_retried(world: ReportingWorld) -> None:
    reports, report_id = drafted(world, timeout=0.5)
    client_of(reports).before("submit", lambda: world.ncmec.fail_next("stall"))
    waiting = reports.file(report_id)
    assert (waiting["status"], waiting["error_kind"], waiting["attempts"]) == ("draft", "retry", 1)
    assert waiting["calls"][-1]["http_status"] is None
    assert_filed_once(world, reports.file(report_id))


@pytest.mark.parametrize(
    ("endpoint", "fault", "kind", "message"),
    [
        ("submit", "code:2000", "credentials", None),
        ("upload", "code:3100", "credentials", None),
        (
            "fileinfo",
            "code:4100",
            "invalid",
            "Validation failed: element out of the schema's order",
        ),
        ("submit", "html", "protocol", None),
        ("fileinfo", "malformed", "protocol", None),
    ],
)
def test_an_error_an_admin_must_act_on_fails_the_report(
    world: ReportingWorld, endpoint: str, fault: str, kind: str, message: str | None
) -> None:
    reports, report_id = drafted(world)
    client_of(reports).before(endpoint, lambda: world.ncmec.fail_next(fault))
    failed = reports.file(report_id)
    assert (failed["status"], failed["error_kind"]) == ("failed", kind)
    if message is not None:
        assert failed["last_error"] == message  # NCMEC's own words
    assert failed["next_attempt_at"] is None
    [entry] = audited(world, "report.failed")
    assert entry.after == {"error_kind": kind, "error": failed["last_error"]}
    retried = reports.retry(report_id, actor="user:admin")
    assert_filed_once(world, retried)
    assert [e.actor for e in audited(world, "report.retry")] == ["user:admin"]


def test_garbage_after_finishing_fails_and_a_retry_finds_it_finished(world: ReportingWorld) -> None:
    reports, report_id = drafted(world)
    client_of(reports).before("finish", lambda: world.ncmec.fail_next("malformed"))
    assert reports.file(report_id)["error_kind"] == "protocol"
    retried = reports.retry(report_id, actor="user:admin")
    assert_filed_once(world, retried)
    assert retried["calls"][-1]["response_code"] == 5102  # "already finished": finished


@pytest.mark.parametrize("fault", ["wrong_md5", "drop_after"])
def test_an_upload_that_may_have_left_a_file_is_filed_again_from_the_start(
    world: ReportingWorld, fault: str
) -> None:
    reports, report_id = drafted(world)
    client_of(reports).before("upload", lambda: world.ncmec.fail_next(fault), nth=2)
    stopped = reports.file(report_id)
    first_ncmec_id = stopped["ncmec_report_id"]
    assert stopped["error_kind"] == ("invalid" if fault == "wrong_md5" else "retry")
    report = reports.retry(report_id, actor="user:admin")
    assert_filed_once(world, report)
    assert report["ncmec_report_id"] != first_ncmec_id
    assert world.ncmec.report(first_ncmec_id).status == "retracted"
    endpoints = [call["endpoint"] for call in report["calls"]]
    assert endpoints[endpoints.index("retract") + 1] == "refile"


@pytest.mark.parametrize("idle", [{"hours": 25}, {"minutes": 61}])
def test_a_report_ncmec_deleted_for_its_age_is_filed_again(
    world: ReportingWorld, idle: dict[str, float]
) -> None:
    reports, report_id = drafted(world)
    client_of(reports).before("upload", lambda: world.ncmec.advance(**idle), nth=2)
    report = reports.file(report_id)
    assert_filed_once(world, report)
    endpoints = [call["endpoint"] for call in report["calls"]]
    assert endpoints[:3] == ["submit", "upload", "upload"]
    assert report["calls"][2]["response_code"] == 5001
    assert endpoints[3:] == ["refile", *ALL_STEPS]
    assert "NCMEC no longer knows the report (5001" in report["calls"][3]["response_description"]
    assert len(world.ncmec.reports) == 1  # the first one is gone


def test_a_report_whose_stored_clock_ran_out_is_filed_again_without_asking(
    world: ReportingWorld,
) -> None:
    reports, report_id = drafted(world)
    client_of(reports).before("upload", lambda: world.ncmec.fail_next("code:1000"))
    first_ncmec_id = reports.file(report_id)["ncmec_report_id"]
    with world.database.transaction() as session:
        session.execute(
            update(CybertipReport)
            .where(CybertipReport.id == report_id)
            .values(changed_at=utcnow() - timedelta(minutes=61))
        )
    report = reports.file(report_id)
    assert_filed_once(world, report)
    assert report["ncmec_report_id"] != first_ncmec_id
    endpoints = [call["endpoint"] for call in report["calls"]]
    assert endpoints == ["submit", "upload", "refile", *ALL_STEPS]
    assert "1 h after its last change" in report["calls"][2]["response_description"]


def test_an_open_report_is_retracted_and_a_finished_one_is_not(world: ReportingWorld) -> None:
    reports, report_id = drafted(world)
    with pytest.raises(ReportConflictError, match="only a report open at NCMEC"):
        reports.retract(report_id, actor="user:admin")
    client_of(reports).before("fileinfo", lambda: world.ncmec.fail_next("code:1000"))
    open_report = reports.file(report_id)
    retracted = reports.retract(report_id, actor="user:admin")
    assert retracted["status"] == "retracted"
    assert retracted["retracted_at"] is not None
    assert world.ncmec.report(open_report["ncmec_report_id"]).status == "retracted"
    assert [e.actor for e in audited(world, "report.retract")] == ["user:admin"]
    assert reports.file(report_id)["status"] == "retracted"  # nothing more happens
    other_reports, other = drafted(world)
    other_reports.file(other)
    with pytest.raises(ReportConflictError, match="does not retract a finished report"):
        other_reports.retract(other, actor="user:admin")


def test_a_report_is_filed_by_one_filer_at_a_time(world: ReportingWorld) -> None:
    reports, report_id = drafted(world)
    holder = reports.filing.leases.acquire(report_id)
    with pytest.raises(ReportConflictError, match="being filed by"):
        reports.file(report_id)
    reports.filing.leases.release(report_id, holder)
    assert reports.file(report_id)["status"] == "finished"


def test_the_filer_files_report_requests_when_enabled(
    world: ReportingWorld, database_url: str, tmp_path: Path
) -> None:
    world.confirmed(2, user="user-a")
    world.confirmed(1, user="user-b")
    disabled = filer_for(world, world.settings)
    assert disabled.run_once() == 0
    settings = reporting_settings(database_url, tmp_path, cybertip_enabled=True)
    filer = filer_for(world, settings)
    assert filer.run_once() == 2
    assert sorted(len(r.files) for r in world.ncmec.finished_reports()) == [1, 2]
    assert filer.run_once() == 0


def test_a_filer_resumes_a_report_a_person_started_even_when_not_enabled(
    world: ReportingWorld,
) -> None:
    reports = world.reports()
    report_id = reports.draft(world.confirmed(1), actor="user:alice")
    world.ncmec.fail_next("500")
    waiting = reports.file(report_id)
    assert (waiting["status"], waiting["error_kind"]) == ("draft", "retry")
    filer = filer_for(world, world.settings)  # cybertip_enabled is off
    assert filer.run_once() == 0  # not due yet
    with world.database.transaction() as session:
        session.execute(
            update(CybertipReport).values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
    assert filer.run_once() == 1
    assert reports.get(report_id)["status"] == "finished"


def test_two_filers_file_twenty_reports_each_once(
    world: ReportingWorld, database_url: str, tmp_path: Path
) -> None:
    for number in range(20):
        world.confirmed(1, user=f"user-{number}")
    settings = reporting_settings(database_url, tmp_path, cybertip_enabled=True)
    report_ids = world.reports(settings=settings).take_requests()
    assert len(report_ids) == 20
    filers = [filer_for(world, settings) for _ in range(2)]
    start = threading.Barrier(2, timeout=30)
    worked: list[int] = []

    def run(filer: Filer) -> None:
        start.wait()
        worked.append(filer.run_once())

    threads = [threading.Thread(target=run, args=(filer,)) for filer in filers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sum(worked) == 20
    submits = [call for call in world.ncmec.calls if call.path == "/submit"]
    assert len(submits) == 20
    assert len(world.ncmec.finished_reports()) == 20
    with world.database.reading() as session:
        statuses = session.scalars(select(CybertipReport.status)).all()
    assert statuses == ["finished"] * 20
    with world.database.reading() as session:
        preserved = session.scalars(select(EvidencePackage.report_id)).all()
    assert sorted(preserved) == sorted(report_ids)


def test_evidence_that_cannot_be_preserved_yet_is_preserved_on_a_later_try(
    world: ReportingWorld, database_url: str, tmp_path: Path
) -> None:
    keyless = reporting_settings(database_url, tmp_path, evidence_key_file=None)
    reports, report_id = drafted(world, settings=keyless)
    waiting = reports.file(report_id)
    assert (waiting["status"], waiting["error_kind"]) == ("finished", "evidence")
    assert waiting["evidence_package_id"] is None
    assert waiting["last_error"].startswith("preserving the evidence: ")
    assert waiting["next_attempt_at"] is not None
    purge_kept_media(world.database, keep_confirmed=timedelta(0))
    with world.database.reading() as session:  # still needed: the files are not preserved
        kept = session.scalars(select(KeptMedia.id)).all()
    assert len(kept) == 3
    preserved = world.reports().file(report_id)
    assert preserved["evidence_package_id"] is not None
    assert (preserved["error_kind"], preserved["next_attempt_at"]) == (None, None)
    assert len(world.ncmec.finished_reports()) == 1


def test_the_filer_runs_in_a_thread_until_stopped(
    world: ReportingWorld, database_url: str, tmp_path: Path
) -> None:
    world.confirmed(1, user="user-t")
    settings = reporting_settings(database_url, tmp_path, cybertip_enabled=True)
    rounds_with_work = threading.Event()

    class Watched(Filer):
        def run_once(self) -> int:
            worked = super().run_once()
            if worked:
                rounds_with_work.set()
            return worked

    filer = Watched(
        world.database,
        settings,
        vault=world.review_world.vault,
        client=world.client(),
        poll_seconds=0.05,
    )
    filer.start()
    try:
        assert rounds_with_work.wait(60)
    finally:
        filer.stop(timeout=30)
    assert filer._thread is None
    [finished] = world.ncmec.finished_reports()
    assert len(finished.files) == 1
