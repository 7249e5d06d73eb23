"""A small world with known transparency figures in 2026-Q3 and the quarter
before (2026-Q2), built straight from the models; the expected figures are
worked out by hand in ``EXPECTED``.

    build_world(database)
    report = transparency(database, parse_period("2026-Q3"))
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hashmatch.store import Database
from hashmatch.store.reporting_models import (
    CybertipFile,
    CybertipReport,
    DailyCount,
    EvidencePackage,
)
from hashmatch.store.workflow import ReviewItem, Submission


def at(month: int, day: int, hour: int = 12, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def _match(
    bank: str, kind: str, labels: list[str], content_labels: list[str], **extra: Any
) -> dict[str, Any]:
    return {
        "bank": bank,
        "content_id": 1,
        "signal_type": kind,
        "distance": 0,
        "labels": labels,
        "content_labels": content_labels,
        "suppressed": False,
        **extra,
    }


BLOCK = {"rule": "known", "action": "block", "status": "applied"}
REVIEW = {
    "rule": "known",
    "action": "review",
    "queue": "default",
    "priority": 0,
    "status": "queued",
}


def _submission(
    created: datetime,
    verdict: str,
    *,
    seconds: int | None,
    kind: str = "photo",
    matches: list[dict[str, Any]] | None = None,
    actions: list[dict[str, Any]] | None = None,
) -> Submission:
    return Submission(
        content_ref=f"upload-{created.isoformat()}",
        uploaded_at=None if seconds is None else created - timedelta(seconds=seconds),
        content_type=kind,
        signals={},
        matches=matches or [],
        verdict=verdict,
        actions=actions or [],
        actor="key:test",
        created_at=created,
    )


def _report(finished: datetime, environment: str = "production") -> CybertipReport:
    return CybertipReport(
        status="finished", environment=environment, created_by="test", finished_at=finished
    )


def _file(
    report: CybertipReport, submission: Submission, key: str, classification: str | None
) -> CybertipFile:
    return CybertipFile(
        report_id=report.id,
        item_key=key,
        submission_id=submission.id,
        filename="a.jpg",
        size=1,
        md5="0" * 32,
        sha256="0" * 64,
        classification=classification,
    )


def build_world(database: Database) -> None:
    with database.transaction() as session:
        q2_allow = _submission(at(5, 10), "allow", seconds=10)
        q2_block = _submission(
            at(6, 2), "block", seconds=20,
            matches=[_match("known", "pdq", ["csam"], [])], actions=[BLOCK],
        )  # fmt: skip
        s1 = _submission(at(7, 1, 0), "allow", seconds=5)
        s2 = _submission(
            at(7, 20), "block", seconds=7,
            matches=[
                _match("known", "pdq", ["csam"], ["a1"]),
                _match("other", "md5", [], [], suppressed=True, suppressed_by=["safe"]),
            ],
            actions=[BLOCK, REVIEW],
        )  # fmt: skip
        s3 = _submission(
            at(8, 5), "review", seconds=9, kind="video",
            matches=[_match("known", "md5", ["csam"], ["csam"])], actions=[REVIEW],
        )  # fmt: skip
        s4 = _submission(at(9, 30, 23), "allow", seconds=None, kind="file")
        outside = [
            _submission(at(10, 1, 0), "block", seconds=1, matches=[_match("known", "pdq", [], [])]),
            _submission(at(3, 31, 23), "allow", seconds=1),
        ]
        session.add_all([q2_allow, q2_block, s1, s2, s3, s4, *outside])
        session.flush()
        session.add_all(
            [
                _review(q2_block, at(6, 2) + timedelta(seconds=30), "confirm", "B1"),
                _review(s2, at(7, 20) + timedelta(seconds=93), "confirm", "A1"),
                _review(s3, at(8, 5) + timedelta(seconds=291), "false_positive", None),
                _review(s3, at(9, 1), "escalate", None),
            ]
        )
        q2_report, q3_report, test_report = (
            _report(at(6, 20)),
            _report(at(9, 3)),
            _report(at(9, 4), "test"),
        )
        session.add_all([q2_report, q3_report, test_report])
        session.flush()
        session.add_all(
            [
                _file(q2_report, q2_block, "review:1", "B1"),
                _file(q3_report, s2, "review:2", "A1"),
                _file(test_report, s3, "review:3", None),
                EvidencePackage(
                    report_id=q2_report.id, store="x", created_at=at(6, 20),
                    retain_until=at(6, 20, year=2027), status="purged", purged_at=at(8, 1),
                ),
                EvidencePackage(
                    report_id=q3_report.id, store="x", created_at=at(9, 3),
                    retain_until=at(9, 3, year=2027),
                ),
            ]
        )  # fmt: skip
        session.add_all(
            [
                DailyCount(day=date(2026, 6, 30), name="lookups", count=4),
                DailyCount(day=date(2026, 7, 3), name="lookups", count=5),
                DailyCount(day=date(2026, 8, 1), name="lookups", count=7),
                DailyCount(day=date(2026, 8, 1), name="other", count=100),
                DailyCount(day=date(2026, 10, 1), name="lookups", count=50),
            ]
        )


def _review(
    submission: Submission, closed: datetime, decision: str, classification: str | None
) -> ReviewItem:
    return ReviewItem(
        submission_id=submission.id,
        queue="default",
        status="closed",
        rule="known",
        created_at=submission.created_at,
        closed_at=closed,
        decision=decision,
        classification=classification,
        decided_by="user:ada",
    )


def figure(value: float | None, previous: float | None, change: float | None) -> dict[str, Any]:
    return {"value": value, "previous": previous, "change_percent": change}


#: What 2026-Q3 counts, against 2026-Q2.
EXPECTED: dict[str, dict[str, Any]] = {
    "content_scanned": {
        "submissions": figure(4, 2, 100.0),
        "lookups": figure(12, 4, 200.0),
        "by_content_type": {
            "photo": figure(2, 2, 0.0),
            "video": figure(1, 0, None),
            "file": figure(1, 0, None),
        },
    },
    "matches": {
        "matched_submissions": figure(2, 1, 100.0),
        "matches": figure(2, 1, 100.0),
        "by_bank": {"known": figure(2, 1, 100.0)},
        "by_label": {
            "a1": figure(1, 0, None),
            "csam": figure(2, 1, 100.0),
        },
        "by_signal_type": {"md5": figure(1, 0, None), "pdq": figure(1, 1, 0.0)},
    },
    "verdicts": {
        "submissions": {
            "allow": figure(2, 1, 100.0),
            "review": figure(1, 0, None),
            "block": figure(1, 1, 0.0),
        }
    },
    "actions": {
        "actions": {
            "block": figure(1, 1, 0.0),
            "review": figure(2, 0, None),
            "report": figure(0, 0, None),
            "webhook": figure(0, 0, None),
        }
    },
    "review_decisions": {
        "decisions": {
            "confirm": figure(1, 1, 0.0),
            "false_positive": figure(1, 0, None),
            "escalate": figure(1, 0, None),
        },
        "confirmed_by_classification": {
            "A1": figure(1, 0, None),
            "A2": figure(0, 0, None),
            "B1": figure(0, 1, -100.0),
            "B2": figure(0, 0, None),
        },
    },
    "cybertip_reports": {
        "filed": figure(1, 1, 0.0),
        "files": figure(1, 1, 0.0),
        "files_by_classification": {
            "A1": figure(1, 0, None),
            "A2": figure(0, 0, None),
            "B1": figure(0, 1, -100.0),
            "B2": figure(0, 0, None),
            "unclassified": figure(0, 0, None),
        },
        "retracted": figure(0, 0, None),
        "filed_test_environment": figure(1, 0, None),
    },
    "evidence": {
        "preserved": figure(1, 1, 0.0),
        "purged": figure(1, 0, None),
        "held_at_end": figure(1, 1, 0.0),
    },
    # No statements of reasons here: tests/test_statements.py counts them.
    "statements_of_reasons": {
        "written": figure(0, 0, None),
        "sent": figure(0, 0, None),
        "by_category": {},
        "by_automated_detection": {"No": figure(0, 0, None), "Yes": figure(0, 0, None)},
        "by_automated_decision": {
            "AUTOMATED_DECISION_FULLY": figure(0, 0, None),
            "AUTOMATED_DECISION_NOT_AUTOMATED": figure(0, 0, None),
            "AUTOMATED_DECISION_PARTIALLY": figure(0, 0, None),
        },
    },
    # No appeals here: tests/test_transparency_complaints.py counts them.
    "complaints": {
        "received": figure(0, 0, None),
        "decided": figure(0, 0, None),
        "upheld": figure(0, 0, None),
        "overturned": figure(0, 0, None),
        "median_hours_to_decide": figure(None, None, None),
    },
    "medians_seconds": {
        # verdicts: 5, 7, 9 (s4 has no upload time) against 10, 20
        "upload_to_verdict": figure(7, 15, -53.3),
        # decisions: s2 7 + 93 = 100 s, s3 9 + 291 = 300 s; escalations left out
        "upload_to_decision": figure(200, 50, 300.0),
        # s2's file: reported 2026-09-03 12:00, uploaded 2026-07-20 11:59:53
        "upload_to_report": figure(45 * 86400 + 7, 18 * 86400 + 20, 150.0),
    },
}
