"""Drafting CyberTipline reports: what a draft holds, its XML, the checks that
refuse a draft (and the race between two drafts of one item), listing, the
platform's additional-info webhook, and turning report requests into drafts.
Both engines; nothing here talks to NCMEC."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import delete, select

from hashmatch.actions.upkeep import purge_kept_media
from hashmatch.errors import ReportConflictError, ReportingError, UnknownReviewItemError
from hashmatch.reporting import drafts, report_content
from hashmatch.store.models import AuditEntry
from hashmatch.store.reporting_models import CybertipFile, CybertipReport
from hashmatch.store.review_models import ReviewReveal
from hashmatch.store.workflow import KeptMedia, ReportRequest, ReviewItem
from hashmatch.webhooks import verify
from tests.reporting_world import REPORTER, ReportingWorld, reporting_settings
from tests.servers import http_server


@pytest.fixture
def world(reporting: ReportingWorld) -> ReportingWorld:
    return reporting


def xml_of(text: str) -> etree._Element:
    return etree.fromstring(text.encode())


def texts(root: etree._Element, path: str) -> list[str]:
    return [element.text or "" for element in root.iterfind(path)]


def kept_bytes(world: ReportingWorld, item_id: int) -> bytes:
    with world.database.reading() as session:
        kept = session.scalar(
            select(KeptMedia)
            .join(ReviewItem, ReviewItem.submission_id == KeptMedia.submission_id)
            .where(ReviewItem.id == item_id)
        )
    assert kept is not None
    return world.review_world.vault.decrypt(
        kept.nonce, kept.ciphertext, submission_id=kept.submission_id, key_id=kept.key_id
    )


def test_a_draft_holds_one_users_confirmed_items(world: ReportingWorld) -> None:
    items = world.confirmed(
        2, user="user-7", metadata={"screen_name": "seven", "ip_address": "203.0.113.9"}
    )
    with world.database.transaction() as session:  # a reviewer looked at the first one
        session.add(ReviewReveal(item_id=items[0], reviewer="user:bob", kind="reveal", seconds=5.0))
    reports = world.reports()
    report_id = reports.draft(items, actor="user:alice", details={"annotations": ["sextortion"]})
    report = reports.get(report_id)
    assert report["status"] == "draft"
    assert report["user_ref"] == "user-7"
    assert report["created_by"] == "user:alice"
    assert report["environment"] == "test"
    assert report["ncmec_report_id"] is None
    assert report["evidence_package_id"] is None
    assert report["calls"] == []
    assert [f["review_item_id"] for f in report["files"]] == items
    for file, item_id in zip(report["files"], items, strict=True):
        data = kept_bytes(world, item_id)
        assert file["item_key"] == f"review:{item_id}"
        assert file["md5"] == hashlib.md5(data).hexdigest()
        assert file["sha256"] == hashlib.sha256(data).hexdigest()
        assert file["size"] == len(data)
        assert file["classification"] == "A1"
        assert file["viewed_by_esp"] is (item_id == items[0])
        assert file["status"] == "pending"
        assert file["filename"].endswith(".jpg")
    with world.database.reading() as session:
        requests = session.scalars(
            select(ReportRequest).where(ReportRequest.review_item_id.in_(items))
        ).all()
        audited = session.scalars(
            select(AuditEntry.actor).where(AuditEntry.action == "report.draft")
        ).all()
    assert {(r.status, r.report_id) for r in requests} == {("taken", report_id)}
    assert audited == ["user:alice"]


def test_the_xml_says_who_reports_whom_and_where(world: ReportingWorld) -> None:
    items = world.confirmed(
        2,
        user="user-7",
        metadata={
            "screen_name": "seven",
            "email": "seven@example.net",
            "ip_address": "203.0.113.9",
        },
    )
    reports = world.reports()
    details = {
        "screen_name": "seven-on-form",
        "emails": ["other@example.net"],
        "urls": ["https://example.com/u/7"],
    }
    preview = reports.preview_xml(items, details)
    with world.database.reading() as session:
        assert session.scalar(select(CybertipReport.id)) is None  # a preview writes nothing
    report_id = reports.draft(items, actor="user:alice", details=details)
    assert reports.xml(report_id) == preview
    root = xml_of(preview)
    assert texts(root, "reporter/reportingPerson/email") == [REPORTER["cybertip_reporter_email"]]
    assert texts(root, "reporter/legalURL") == [REPORTER["cybertip_legal_url"]]
    assert texts(root, "personOrUserReported/espIdentifier") == ["user-7"]
    assert texts(root, "personOrUserReported/screenName") == ["seven-on-form"]  # the form wins
    emails = texts(root, "personOrUserReported/email") + texts(root, ".//email")
    assert {"seven@example.net", "other@example.net"} <= set(emails)  # lists add up
    urls = texts(root, "internetDetails/webPageIncident/url")
    assert urls == ["https://example.com/p/1", "https://example.com/p/2", "https://example.com/u/7"]
    assert texts(root, "incidentSummary/incidentDateTime")[0].startswith("2026-11-20T10:31")


@pytest.mark.parametrize(
    ("details", "field"),
    [
        ({"urls": "https://example.com"}, "details.urls"),
        ({"ip_events": [{"ip_address": "not-an-ip"}]}, "details.ip_events[0].ip_address"),
        (
            {"ip_events": [{"ip_address": "198.51.100.1", "port": 70000}]},
            "details.ip_events[0].port",
        ),
        ({"annotations": ["made-up"]}, "details.annotations"),
        ({"publicly_available": "yes"}, "details.publicly_available"),
        ({"screen_name": "a\x01b"}, "details.screen_name"),
        ({"favourite_colour": "blue"}, "details.favourite_colour"),
    ],
)
def test_malformed_details_are_refused_naming_the_field(
    world: ReportingWorld, details: dict[str, Any], field: str
) -> None:
    items = world.confirmed(1)
    with pytest.raises(ReportingError, match=field.replace("[", r"\[").replace("]", r"\]")):
        world.reports().draft(items, actor="user:alice", details=details)


def test_an_item_is_reported_once(world: ReportingWorld) -> None:
    first, second = world.confirmed(2)
    reports = world.reports()
    report_id = reports.draft([first], actor="user:alice")
    with pytest.raises(
        ReportConflictError, match=f"review:{first} is reported already, in report {report_id}"
    ):
        reports.draft([second, first], actor="user:bob")
    assert reports.draft([second], actor="user:bob") != report_id


def test_only_confirmed_items_of_one_user_with_kept_media_are_drafted(
    world: ReportingWorld,
) -> None:
    reports = world.reports()
    (open_item,) = world.uploaded(1)
    with pytest.raises(ReportConflictError, match=f"review item {open_item} is not confirmed"):
        reports.draft([open_item], actor="user:alice")
    with pytest.raises(UnknownReviewItemError):
        reports.draft([999_999], actor="user:alice")
    for beyond in (2**63, -1):  # ids no database column holds: refused before any query
        with pytest.raises(UnknownReviewItemError):
            reports.draft([beyond], actor="user:alice")
        with pytest.raises(UnknownReviewItemError):
            reports.preview_xml([beyond])
    with pytest.raises(ReportingError, match="at least one"):
        reports.draft([], actor="user:alice")
    mine, theirs = world.confirmed(1, user="user-a") + world.confirmed(1, user="user-b")
    with pytest.raises(ReportingError, match=r"one platform user.*'user-a', 'user-b'"):
        reports.draft([mine, theirs], actor="user:alice")
    with world.database.transaction() as session:
        submission_id = session.get_one(ReviewItem, mine).submission_id
        session.execute(delete(KeptMedia).where(KeptMedia.submission_id == submission_id))
    with pytest.raises(ReportingError, match=f"review:{mine}: its media was not kept"):
        reports.draft([mine], actor="user:alice")
    with world.database.reading() as session:
        assert session.scalar(select(CybertipFile.id)) is None


def test_a_report_holds_at_most_the_configured_files(
    world: ReportingWorld, database_url: str, tmp_path: Path
) -> None:
    items = world.confirmed(3)
    settings = reporting_settings(database_url, tmp_path, cybertip_max_files_per_report=2)
    with pytest.raises(ReportingError, match="at most 2 go into one report"):
        world.reports(settings=settings).draft(items, actor="user:alice")


def test_without_the_reporter_settings_nothing_is_drafted(
    world: ReportingWorld, database_url: str, tmp_path: Path
) -> None:
    items = world.confirmed(1)
    settings = reporting_settings(
        database_url, tmp_path, cybertip_reporter_email="", cybertip_reporter_last_name=""
    )
    with pytest.raises(
        ReportingError, match="set cybertip_reporter_last_name, cybertip_reporter_email"
    ):
        world.reports(settings=settings).draft(items, actor="user:alice")


def test_of_two_drafts_of_one_item_at_once_exactly_one_wins(
    world: ReportingWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = world.confirmed(2)
    both_checked = threading.Barrier(2, timeout=30)
    asked = report_content.ask_platform

    def after_both_checked(*args: Any) -> dict[str, Any]:
        both_checked.wait()  # both drafts passed every check before either writes
        return asked(*args)

    monkeypatch.setattr(drafts, "ask_platform", after_both_checked)
    outcomes: list[object] = []

    def draft(actor: str) -> None:
        try:
            outcomes.append(world.reports().draft(items, actor=actor))
        except ReportConflictError as error:
            outcomes.append(error)

    threads = [threading.Thread(target=draft, args=(f"user:{name}",)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    winners = [o for o in outcomes if isinstance(o, int)]
    losers = [o for o in outcomes if isinstance(o, ReportConflictError)]
    assert (len(winners), len(losers)) == (1, 1)
    assert f"in report {winners[0]}" in str(losers[0])
    with world.database.reading() as session:
        assert session.scalars(select(CybertipReport.id)).all() == winners
        assert len(session.scalars(select(CybertipFile.id)).all()) == 2


def test_reports_are_listed_newest_first_a_page_at_a_time(world: ReportingWorld) -> None:
    reports = world.reports()
    made = [
        reports.draft(world.confirmed(1, user=f"user-{n % 2}"), actor="user:alice")
        for n in range(5)
    ]
    assert [r["id"] for r in reports.list()] == made[::-1]
    first_page = reports.list(limit=2)
    assert [r["id"] for r in first_page] == made[:2:-1]
    assert [r["id"] for r in reports.list(limit=2, before_id=first_page[-1]["id"])] == made[2:0:-1]
    assert [r["id"] for r in reports.list(user_ref="user-1")] == [made[3], made[1]]
    assert reports.list(status="finished") == []
    assert {r["status"] for r in reports.list(status="draft")} == {"draft"}


def _platform(
    answer: Any, status: int = 200
) -> tuple[type[BaseHTTPRequestHandler], list[tuple[dict[str, str], bytes]]]:
    received: list[tuple[dict[str, str], bytes]] = []

    class Platform(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers.items()), body))
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Platform, received


def test_the_platform_tells_more_of_the_user_through_a_signed_webhook(
    world: ReportingWorld, database_url: str, tmp_path: Path
) -> None:
    items = world.confirmed(2, user="user-9", metadata={"screen_name": "from-metadata"})
    answer = {
        "screen_name": "from-platform",
        "profile_url": "https://example.com/u/9",
        "ip_events": [
            {"ip_address": "198.51.100.7", "event_name": "Login", "at": "2026-11-19T08:00:00+00:00"}
        ],
    }
    handler, received = _platform(answer)
    with http_server(handler) as base:
        settings = reporting_settings(
            database_url,
            tmp_path,
            cybertip_additional_info_url=f"{base}/user-info",
            cybertip_additional_info_secret="platform-secret",
            url_allow_private=True,
        )
        reports = world.reports(settings=settings)
        report_id = reports.draft(items, actor="user:alice")
    [(headers, body)] = received
    request = verify("platform-secret", headers, body)
    assert request["user_ref"] == "user-9"
    assert [item["content_ref"] for item in request["items"]] == ["post-1", "post-2"]
    report = reports.get(report_id)
    assert report["details"]["from_platform"]["profile_url"] == "https://example.com/u/9"
    root = xml_of(reports.xml(report_id))
    assert texts(root, "personOrUserReported/screenName") == ["from-platform"]
    assert texts(root, "personOrUserReported/profileUrl") == ["https://example.com/u/9"]
    assert texts(root, "personOrUserReported/ipCaptureEvent/ipAddress") == ["198.51.100.7"]


@pytest.mark.parametrize(
    ("answer", "status"), [({"screen_name": 7}, 200), ({}, 500), ([1, 2], 200)]
)
def test_a_webhook_that_fails_leaves_a_warning_and_the_report_goes_on(
    world: ReportingWorld, database_url: str, tmp_path: Path, answer: Any, status: int
) -> None:
    items = world.confirmed(1, metadata={"screen_name": "from-metadata"})
    handler, _ = _platform(answer, status)
    with http_server(handler) as base:
        settings = reporting_settings(
            database_url,
            tmp_path,
            cybertip_additional_info_url=f"{base}/user-info",
            url_allow_private=True,
        )
        reports = world.reports(settings=settings)
        report_id = reports.draft(items, actor="user:alice")
    [warning] = reports.get(report_id)["details"]["warnings"]
    assert warning.startswith("additional-info webhook: ")
    assert texts(xml_of(reports.xml(report_id)), "personOrUserReported/screenName") == [
        "from-metadata"
    ]


def test_report_requests_become_one_due_draft_per_user(world: ReportingWorld) -> None:
    first = world.confirmed(2, user="user-a")
    second = world.confirmed(1, user="user-b")
    (still_open,) = world.uploaded(1, user="user-a")
    reports = world.reports()
    made = reports.take_requests(actor="worker")
    assert len(made) == 2
    by_user = {reports.get(r)["user_ref"]: reports.get(r) for r in made}
    assert [f["review_item_id"] for f in by_user["user-a"]["files"]] == first
    assert [f["review_item_id"] for f in by_user["user-b"]["files"]] == second
    assert all(
        r["next_attempt_at"] is not None and r["created_by"] == "worker" for r in by_user.values()
    )
    assert reports.take_requests() == []  # taken once
    world.confirm([still_open])
    assert len(reports.take_requests()) == 1


def test_a_request_for_an_item_drafted_by_hand_is_taken_by_that_report(
    world: ReportingWorld,
) -> None:
    items = world.confirmed(2, user="user-a")
    reports = world.reports()
    with world.database.transaction() as session:  # as if the button raced the rule
        session.execute(
            ReportRequest.__table__.update().values(status="pending", report_id=None)  # type: ignore[attr-defined]
        )
    report_id = reports.draft(items[:1], actor="user:alice")
    with world.database.transaction() as session:
        session.execute(ReportRequest.__table__.update().values(status="pending", report_id=None))  # type: ignore[attr-defined]
    made = reports.take_requests()
    assert len(made) == 1
    with world.database.reading() as session:
        taken = dict(
            session.execute(select(ReportRequest.review_item_id, ReportRequest.report_id)).all()
        )
    assert taken == {items[0]: report_id, items[1]: made[0]}


def test_kept_media_stays_while_a_report_needs_it(world: ReportingWorld) -> None:
    items = world.confirmed(1)
    world.reports().draft(items, actor="user:alice")
    purge_kept_media(world.database, keep_confirmed=timedelta(0))
    assert kept_bytes(world, items[0])  # a draft needs its file


def test_a_confirmation_keeps_its_media_for_a_person_to_report_it(
    world: ReportingWorld,
) -> None:
    """The "Report to NCMEC" button works after a confirmation that asked for
    no report: the media waits report_keep_confirmed_days, then goes."""
    items = world.confirmed(2)
    with world.database.transaction() as session:  # the rule asked for nothing
        session.execute(delete(ReportRequest))
    purge_kept_media(world.database, keep_confirmed=timedelta(days=30))
    assert kept_bytes(world, items[0])
    assert kept_bytes(world, items[1])
    report_id = world.reports().draft(items[:1], actor="user:alice")
    assert world.reports().file(report_id)["status"] == "finished"
    purge_kept_media(world.database, keep_confirmed=timedelta(days=30))
    with world.database.reading() as session:
        still_kept = set(
            session.scalars(
                select(ReviewItem.id).join(
                    KeptMedia, KeptMedia.submission_id == ReviewItem.submission_id
                )
            )
        )
    assert still_kept == {items[1]}  # reported and preserved: purged; the other waits
    purge_kept_media(world.database, keep_confirmed=timedelta(0))  # the wait is over
    with world.database.reading() as session:
        assert session.scalar(select(KeptMedia.id)) is None


def test_a_rules_own_report_request_is_drafted_and_one_without_media_fails_alone(
    world: ReportingWorld,
) -> None:
    reported, gone = world.uploaded(2, user="user-r")
    with world.database.transaction() as session:
        submissions = {
            item: session.get_one(ReviewItem, item).submission_id for item in (reported, gone)
        }
        for submission_id in submissions.values():
            session.add(ReportRequest(submission_id=submission_id, rule="report-known"))
        session.execute(delete(KeptMedia).where(KeptMedia.submission_id == submissions[gone]))
    reports = world.reports()
    [report_id] = reports.take_requests()
    [file] = reports.get(report_id)["files"]
    assert file["item_key"] == f"submission:{submissions[reported]}"
    assert (file["review_item_id"], file["classification"]) == (None, None)
    with world.database.reading() as session:
        statuses = dict(
            session.execute(select(ReportRequest.submission_id, ReportRequest.status)).all()
        )
    assert statuses == {submissions[reported]: "taken", submissions[gone]: "failed"}
