"""Complaints (appeals) and statements of reasons in the transparency
record, on both engines: counted by when each was received or decided,
the median hours to decide, and the JSON, CSV, HTML and web page."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from importlib import resources
from typing import Any

import jsonschema
import pytest
from sqlalchemy import func, select

from hashmatch.reporting.transparency.figures import transparency
from hashmatch.reporting.transparency.formats import as_csv, as_html
from hashmatch.reporting.transparency.periods import parse_period
from hashmatch.store import Database
from hashmatch.store.review_models import Appeal
from hashmatch.store.statement_models import Statement
from hashmatch.store.workflow import Submission
from tests.transparency_world import at, build_world, figure


def _appeal(
    submission_id: int, received: Any, decided_after: timedelta | None, decision: str | None
) -> Appeal:
    decided = None if decided_after is None else received + decided_after
    return Appeal(
        submission_id=submission_id,
        content_ref="c",
        received_at=received,
        created_at=received,
        due_at=received + timedelta(days=7),
        status="open" if decision is None else "decided",
        decision=decision,
        decided_at=decided,
        decided_by=None if decision is None else "user:ada",
    )


def _statement(number: int, created: Any, detection: str, decision: str) -> Statement:
    return Statement(
        decision_kind="verdict",
        decision_id=number,
        puid=f"p-{number}",
        body={
            "category": "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
            "automated_detection": detection,
            "automated_decision": decision,
        },
        created_at=created,
    )


@pytest.fixture
def report(database: Database) -> dict[str, Any]:
    """Q3 receives four appeals and decides three (two upheld after 2 h and
    4 h, one overturned after 30 h; the fourth is open), one received in
    Q2 is decided in Q3 (overturned after 10 days); Q2 decides one of its
    own (upheld, after 1 h).  Statements: two in Q3, one in Q2."""
    build_world(database)
    hour = timedelta(hours=1)
    with database.transaction() as session:
        submission = session.scalar(select(func.min(Submission.id)))
        session.add_all(
            [
                _appeal(submission, at(5, 2), hour, "uphold"),
                _appeal(submission, at(6, 25), 240 * hour, "overturn"),  # decided 2026-07-05
                _appeal(submission, at(7, 3), 2 * hour, "uphold"),
                _appeal(submission, at(8, 9), 4 * hour, "uphold"),
                _appeal(submission, at(9, 29), 30 * hour, "overturn"),  # decided 2026-09-30
                _appeal(submission, at(9, 30), None, None),
                _appeal(submission, at(9, 30, 20), 10 * hour, "uphold"),  # decided in Q4
                _statement(1, at(7, 1), "Yes", "AUTOMATED_DECISION_FULLY"),
                _statement(2, at(8, 1), "No", "AUTOMATED_DECISION_NOT_AUTOMATED"),
                _statement(3, at(6, 1), "Yes", "AUTOMATED_DECISION_FULLY"),
            ]
        )
    return transparency(database, parse_period("2026-Q3"))


def test_complaints_received_decided_and_how(report: dict[str, Any]) -> None:
    assert report["figures"]["complaints"] == {
        "received": figure(5, 2, 150.0),
        "decided": figure(4, 1, 300.0),
        "upheld": figure(2, 1, 100.0),
        "overturned": figure(2, 0, None),
        # 2, 4, 30 and 240 hours: the middle two's mean; Q2 had one, 1 hour.
        "median_hours_to_decide": figure(17.0, 1.0, 1600.0),
    }


def test_statements_of_reasons_by_what_each_states(report: dict[str, Any]) -> None:
    stated = report["figures"]["statements_of_reasons"]
    assert stated["written"] == figure(2, 1, 100.0)
    assert stated["by_category"] == {"STATEMENT_CATEGORY_PROTECTION_OF_MINORS": figure(2, 1, 100.0)}
    assert stated["by_automated_detection"] == {"Yes": figure(1, 1, 0.0), "No": figure(1, 0, None)}
    assert stated["by_automated_decision"]["AUTOMATED_DECISION_FULLY"] == figure(1, 1, 0.0)
    assert stated["by_automated_decision"]["AUTOMATED_DECISION_NOT_AUTOMATED"] == figure(1, 0, None)


def test_the_record_still_meets_its_schema_and_version(report: dict[str, Any]) -> None:
    location = resources.files("hashmatch.reporting.transparency") / "schema.json"
    schema = json.loads(location.read_text())
    jsonschema.validate(report, schema)
    assert report["schema_version"] == 1
    # Added, not required: a record made before complaints were counted still validates.
    older = json.loads(json.dumps(report))
    del older["figures"]["complaints"]
    jsonschema.validate(older, schema)
    broken = json.loads(json.dumps(report))
    broken["figures"]["complaints"]["median_hours_to_decide"]["value"] = "17"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_csv_and_html_carry_the_complaints(report: dict[str, Any]) -> None:
    rows = list(csv.DictReader(io.StringIO(as_csv(report))))
    mine = {r["name"]: r for r in rows if r["section"] == "complaints"}
    assert set(mine) == {"received", "decided", "upheld", "overturned", "median_hours_to_decide"}
    assert mine["median_hours_to_decide"]["value"] == "17.0"
    assert mine["overturned"]["previous"] == "0"
    assert mine["overturned"]["change_percent"] == ""
    page = as_html(report)
    assert "<h2>Complaints (appeals against decisions)</h2>" in page
    assert '<th scope="row">median hours to decide</th><td>17</td><td>1</td><td>+1600%</td>' in page


def test_an_empty_period_has_no_median(database: Database) -> None:
    empty = transparency(database, parse_period("2026-07"))
    assert empty["figures"]["complaints"]["median_hours_to_decide"] == figure(None, None, None)
    assert empty["figures"]["complaints"]["received"] == figure(0, 0, None)
