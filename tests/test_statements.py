"""Statements of reasons for the DSA Transparency Database, on SQLite and
PostgreSQL: built for each kind of decision, checked before sending, off by
default, sent in batches to the local stand-in for the API, refusals kept,
failures retried, the token never shown, and two senders never sending one
statement twice while their leases hold."""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from hashmatch.actions.outbox import Retries
from hashmatch.actions.rule_store import Rules
from hashmatch.actions.rules import parse_rule
from hashmatch.banks import Banks
from hashmatch.cli import app
from hashmatch.errors import InvalidFieldError, UnknownStatementError
from hashmatch.review import Review, Verdict
from hashmatch.settings import Settings
from hashmatch.statements import build, fields
from hashmatch.statements import sender as sender_module
from hashmatch.statements.records import get_statement, list_statements, retry_failed
from hashmatch.statements.sender import BATCH, StatementSender
from hashmatch.statements.simulator import TransparencyDatabaseSimulator
from hashmatch.store import Database
from hashmatch.store.statement_models import Statement
from tests.interleaving import PATIENCE, PausedInside, SecondWriter, run_together, started
from tests.review_world import ReviewWorld, review_settings
from tests.test_review import ALICE, BOB, CONFIRM

TOKEN = "X|sekrit-token-0123456789"
RETRIES = Retries(max_attempts=3, backoff=30.0, backoff_max=60.0)
BLOCK_KNOWN = {"name": "block-known", "when": {"banks": ["known"]}, "then": [{"action": "block"}]}


def settings_for(database_url: str, tmp_path: Path, **values: Any) -> Settings:
    return review_settings(database_url, tmp_path, dsa_statements_enabled=True, **values)


def restriction(number: int, **changes: Any) -> build.Restriction:
    values: dict[str, Any] = {
        "kind": "verdict",
        "decision_id": number,
        "content_type": "photo",
        "content_date": date(2026, 5, 1),
        "application_date": date(2026, 5, 2),
        "automated_decision": fields.FULLY,
        "facts": "Upload blocked: 1 match(es) by pdq against lists of known material.",
    }
    return build.Restriction(**{**values, **changes})


def add_statements(database: Database, settings: Settings, count: int, start: int = 1) -> list[int]:
    with database.transaction() as session:
        made = [
            build.record(session, settings, restriction(number), submission_id=number)
            for number in range(start, start + count)
        ]
    return [number for number in made if number is not None]


def rows(database: Database) -> dict[int, Statement]:
    with database.reading() as session:
        found = session.scalars(select(Statement).order_by(Statement.id)).all()
        session.expunge_all()
        return {row.id: row for row in found}


def sender(
    api: TransparencyDatabaseSimulator, database: Database, name: str, **kwargs: Any
) -> StatementSender:
    return StatementSender(database, api.url, TOKEN, RETRIES, name=name, **kwargs)


@pytest.fixture
def api() -> Any:
    with TransparencyDatabaseSimulator(token=TOKEN) as simulator:
        yield simulator


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return settings_for(database_url, tmp_path)


# -- building ----------------------------------------------------------------------


def test_a_statement_has_the_platform_facts_and_a_stable_unique_puid() -> None:
    platform = build.PlatformFacts("acme_eu", ("DE", "FR"), "DE")
    one = build.build(platform, restriction(7))
    assert one == build.build(platform, restriction(7))
    assert one["puid"] == "acme_eu-verdict-7"
    assert build.build(platform, restriction(7, kind="review"))["puid"] == "acme_eu-review-7"
    assert one["territorial_scope"] == ["DE", "FR"]
    assert one["content_language"] == "DE"
    assert one["category"] == "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
    assert one["category_specification"] == ["KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"]
    assert one["content_type"] == ["CONTENT_TYPE_IMAGE"]
    assert one["application_date"] == "2026-05-02"
    assert one["content_date"] == "2026-05-01"
    assert fields.field_errors(one) == {}
    video = build.build(platform, restriction(8, content_type="file"))
    assert video["content_type"] == ["CONTENT_TYPE_OTHER"]
    assert video["content_type_other"]


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("category", "STATEMENT_CATEGORY_NOPE", "category 'STATEMENT_CATEGORY_NOPE'"),
        ("automated_decision", "maybe", "automated_decision 'maybe'"),
        ("territorial_scope", ["DE", "US"], "territorial_scope 'US'"),
        ("puid", "has space/slash", "puid 'has space/slash'"),
        ("application_date", "2019-12-31", "application_date '2019-12-31'"),
        ("content_date", "05/01/2026", "content_date '05/01/2026'"),
        ("decision_facts", "x" * 5001, "decision_facts must be text of at most 5000"),
        ("illegal_content_explanation", "", "illegal_content_explanation is required"),
    ],
)
def test_validation_refuses_a_bad_value_naming_the_field(field: str, value: Any, said: str) -> None:
    statement = build.build(build.PlatformFacts("p", ("DE",), ""), restriction(1))
    statement[field] = value
    assert field in fields.field_errors(statement)
    with pytest.raises(InvalidFieldError, match=said.replace("(", r"\(").replace("[", r"\[")):
        fields.check_statement(statement)


def test_a_statement_needs_one_restriction() -> None:
    statement = build.build(build.PlatformFacts("p", ("DE",), ""), restriction(1))
    del statement["decision_visibility"]
    assert "one of decision_visibility" in fields.field_errors(statement)["decision_visibility"][0]


def test_settings_refuse_a_country_outside_the_eea() -> None:
    with pytest.raises(Exception, match="not EU/EEA country codes"):
        Settings(dsa_territorial_scope=["DE", "US"])
    assert Settings().dsa_statements_enabled is False
    assert len(Settings().dsa_territorial_scope) == 27


def test_off_by_default_nothing_is_written(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    opened = _world(database, review_settings(database_url, tmp_path))
    Rules(database).create(parse_rule(BLOCK_KNOWN))
    [item] = opened.world.queue_photos(1)
    opened.review.decisions.decide(item, ALICE, CONFIRM)
    assert rows(database) == {}


@dataclass
class _Opened:
    world: ReviewWorld
    review: Review


def _world(database: Database, settings: Settings) -> _Opened:
    return _Opened(
        ReviewWorld.make(database, settings), Review(database, settings, Banks(database))
    )


def test_a_block_verdict_and_a_confirmed_review_each_get_one_statement(
    database: Database, settings: Settings
) -> None:
    opened = _world(database, settings)
    Rules(database).create(parse_rule(BLOCK_KNOWN))
    [item] = opened.world.queue_photos(1)
    opened.review.decisions.decide(item, ALICE, CONFIRM)
    made = list(rows(database).values())
    assert [(row.decision_kind, row.status) for row in made] == [
        ("verdict", "pending"),
        ("review", "pending"),
    ]
    verdict, review = (row.body for row in made)
    assert verdict["automated_detection"] == "Yes"
    assert verdict["automated_decision"] == "AUTOMATED_DECISION_FULLY"
    assert review["automated_detection"] == "Yes"
    assert review["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
    assert review["puid"] == f"hashmatch-review-{item}"
    assert made[0].submission_id == made[1].submission_id
    for body in (verdict, review):
        assert "user-" not in json.dumps(body)  # the user's reference is personal data


def test_a_false_positive_writes_no_statement(database: Database, settings: Settings) -> None:
    opened = _world(database, settings)
    [item] = opened.world.queue_photos(1)
    opened.review.decisions.decide(item, ALICE, Verdict("false_positive"))
    assert rows(database) == {}


def test_an_upheld_appeal_gets_a_statement_once(database: Database, settings: Settings) -> None:
    from hashmatch.store.workflow import Submission

    opened = _world(database, settings)
    opened.world.queue_photos(1)
    with database.transaction() as session:
        submission = session.scalars(select(Submission)).one()
        first = build.record_upheld_appeal(session, settings, 41, submission, submission.created_at)
        again = build.record_upheld_appeal(session, settings, 41, submission, submission.created_at)
    assert first is not None
    assert again is None
    [row] = rows(database).values()
    assert (row.decision_kind, row.decision_id) == ("appeal", 41)
    assert row.body["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"


def test_upholding_an_appeal_records_its_statement(database: Database, settings: Settings) -> None:
    from hashmatch.audit import Actor, acting_as
    from hashmatch.review.appeals import AppealTarget

    opened = _world(database, settings)
    [item] = opened.world.queue_photos(1)
    opened.review.decisions.decide(item, ALICE, CONFIRM)
    with acting_as(Actor("key:platform")):
        appeal = opened.review.appeals.create(AppealTarget(review_item_id=item), text="mine")
    decided = opened.review.appeals.decide(appeal["id"], BOB, "uphold")
    appealed = [row for row in rows(database).values() if row.decision_kind == "appeal"]
    assert [(row.decision_id, row.id) for row in appealed] == [
        (appeal["id"], decided["outcome"]["statement_id"])
    ]


# -- sending -----------------------------------------------------------------------


def test_statements_are_sent_in_batches_and_the_answers_kept(
    database: Database, settings: Settings, api: TransparencyDatabaseSimulator
) -> None:
    ids = add_statements(database, settings, BATCH + 5)
    counts = sender(api, database, "a").run_once()
    assert counts["sent"] == BATCH + 5
    assert api.calls == [("/api/v1/statements", BATCH), ("/api/v1/statements", 5)]
    stored = rows(database)
    assert {row.status for row in stored.values()} == {"sent"}
    first = stored[ids[0]]
    assert first.response is not None
    assert first.response["uuid"] == api.statements[first.puid]["uuid"]
    assert first.attempts == 1
    assert first.sent_at is not None
    assert sender(api, database, "a").run_once() == {}


def test_a_refused_statement_fails_with_its_field_errors_and_the_rest_go_again(
    database: Database, settings: Settings, api: TransparencyDatabaseSimulator
) -> None:
    first, second = add_statements(database, settings, 2)
    api.refuse_next("category", "The selected category is invalid.")
    one = sender(api, database, "a")
    counts = one.run_once()
    assert (counts["failed"], counts["again"]) == (1, 1)
    stored = rows(database)
    assert stored[first].status == "failed"
    assert stored[first].response == {"errors": {"category": ["The selected category is invalid."]}}
    assert "category" in (stored[first].last_error or "")
    assert (stored[second].status, stored[second].attempts) == ("pending", 0)
    assert one.run_once()["sent"] == 1
    assert list(api.statements) == [stored[second].puid]
    assert retry_failed(database) == 1
    assert one.run_once()["sent"] == 1


def test_a_server_error_is_retried_after_a_wait(
    database: Database, settings: Settings, api: TransparencyDatabaseSimulator
) -> None:
    [only] = add_statements(database, settings, 1)
    api.fail_next(500)
    one = sender(api, database, "a")
    assert one.run_once()["retrying"] == 1
    row = rows(database)[only]
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at is not None
    assert "HTTP 500" in (row.last_error or "")
    assert one.run_once() == {}  # not due yet
    with database.transaction() as session:
        session.execute(update(Statement).values(next_attempt_at=None))
    api.fail_next(429)
    assert one.run_once()["retrying"] == 1
    with database.transaction() as session:
        session.execute(update(Statement).values(next_attempt_at=None))
    api.fail_next(503)
    assert one.run_once()["failed"] == 1  # the third try of three
    assert rows(database)[only].status == "failed"


def test_a_puid_the_api_holds_already_counts_as_sent(
    database: Database, settings: Settings, api: TransparencyDatabaseSimulator
) -> None:
    [only] = add_statements(database, settings, 1)
    body = rows(database)[only].body
    api.statements[body["puid"]] = body  # an earlier try got through, unsettled
    assert sender(api, database, "a").run_once()["sent"] == 1
    assert rows(database)[only].response["already_held"] is True  # type: ignore[index]


def test_the_token_is_never_in_errors_answers_or_logs(
    database: Database, settings: Settings, api: TransparencyDatabaseSimulator, caplog: Any
) -> None:
    from hashmatch.store.models import AuditEntry

    add_statements(database, settings, 2)
    wrong = StatementSender(database, api.url, TOKEN + "-old", RETRIES, name="w")
    with caplog.at_level(logging.DEBUG):
        assert wrong.run_once()["failed"] == 2
        refused = list(rows(database).values())
        retry_failed(database)
        unreachable = StatementSender(database, "http://127.0.0.1:9", TOKEN, RETRIES, name="u")
        assert unreachable.run_once()["retrying"] == 2
    assert [row.response for row in refused] == [{"message": "Unauthenticated."}] * 2
    assert all("HTTP 401" in (row.last_error or "") for row in refused)
    assert all(
        "no answer from the API" in (row.last_error or "") for row in rows(database).values()
    )
    with database.reading() as session:
        audited = json.dumps([entry.after for entry in session.scalars(select(AuditEntry))])
    said = [
        caplog.text,
        repr(wrong),
        repr(Settings(dsa_api_token=TOKEN)),
        audited,
        json.dumps([(row.last_error, row.response) for row in refused]),
        json.dumps([(row.last_error, row.response) for row in rows(database).values()]),
    ]
    assert "401" in caplog.text
    assert not [text for text in said if "sekrit" in text]


# -- two senders -------------------------------------------------------------------


def test_a_claim_in_progress_is_passed_by_or_waited_for(
    database: Database,
    settings: Settings,
    api: TransparencyDatabaseSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first sender selected its rows and has not committed its lease.
    PostgreSQL: the second skips the locked rows and takes the next; SQLite:
    the second waits for the first's commit, then takes the rest."""
    ids = add_statements(database, settings, 4)
    paused = PausedInside(monkeypatch, sender_module, "update")
    watcher = SecondWriter(database, monkeypatch)
    results: dict[str, Any] = {}
    one = started(lambda: sender(api, database, "a").claim(limit=2), "first", results)
    assert paused.reached.wait(PATIENCE)
    two = started(lambda: sender(api, database, "b").claim(limit=10), "second", results)
    if database.dialect == "postgresql":
        two.join(PATIENCE)
        assert not two.is_alive(), "the second sender waited for the first"
    else:
        watcher.wait_until_blocked(two)
        assert "second" not in results
    paused.release()
    one.join(PATIENCE)
    two.join(PATIENCE)
    assert [claimed.id for claimed in results["first"]] == ids[:2]
    assert [claimed.id for claimed in results["second"]] == ids[2:]


def test_a_lapsed_lease_is_claimed_again_and_the_late_sender_writes_nothing(
    database: Database, settings: Settings, api: TransparencyDatabaseSimulator
) -> None:
    [only] = add_statements(database, settings, 1)
    slow = sender(api, database, "slow", lease=timedelta(seconds=-1))
    claimed = slow.claim(limit=10)
    assert sender(api, database, "quick").run_once()["sent"] == 1
    late = slow.settle(claimed, [sender_module.Settled(only, "failed", "late")])
    assert late["failed"] == 0
    assert rows(database)[only].status == "sent"


def test_senders_racing_send_each_statement_once(
    database: Database, settings: Settings, api: TransparencyDatabaseSimulator
) -> None:
    """Bounded stress: 4 senders, 150 statements, leases that hold: every
    statement reaches the API exactly once and is settled as sent."""
    ids = add_statements(database, settings, 150)

    def work(name: str) -> None:
        one = sender(api, database, name)
        while one.run_once(limit=9):
            pass

    run_together(work, [f"s{n}" for n in range(4)])
    assert sum(count for _, count in api.calls) == len(ids)  # no puid sent twice
    assert len(api.statements) == len(ids)
    assert Counter(row.status for row in rows(database).values()) == Counter({"sent": len(ids)})


# -- reading and the CLI -------------------------------------------------------------


def test_statements_are_listed_shown_and_unknown_ones_refused(
    database: Database, settings: Settings
) -> None:
    ids = add_statements(database, settings, 3)
    assert [row["id"] for row in list_statements(database)] == ids[::-1]
    assert list_statements(database, status="sent") == []
    with pytest.raises(InvalidFieldError, match="status must be one of"):
        list_statements(database, status="bogus")
    assert get_statement(database, ids[0])["statement"]["puid"] == "hashmatch-verdict-1"
    with pytest.raises(UnknownStatementError, match="no statement of reasons 999"):
        get_statement(database, 999)


def test_the_cli_lists_shows_sends_and_retries(
    database: Database,
    database_url: str,
    tmp_path: Path,
    api: TransparencyDatabaseSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_for(database_url, tmp_path)
    ids = add_statements(database, settings, 2)
    env = {
        "HASHMATCH_DATABASE_URL": database_url,
        "HASHMATCH_DATA_DIR": str(tmp_path / "data"),
        "HASHMATCH_DSA_STATEMENTS_ENABLED": "true",
        "HASHMATCH_DSA_API_URL": api.url,
        "HASHMATCH_DSA_API_TOKEN": TOKEN,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    listed = runner.invoke(app, ["statements", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [json.loads(line)["id"] for line in listed.output.splitlines()] == ids[::-1]
    shown = runner.invoke(app, ["statements", "show", str(ids[0])])
    assert shown.exit_code == 0
    assert "hashmatch-verdict-1" in shown.output
    missing = runner.invoke(app, ["statements", "show", "999"])
    assert missing.exit_code != 0
    assert "no statement of reasons 999" in missing.output
    assert "Traceback" not in missing.output
    sent = runner.invoke(app, ["statements", "send", "--json"])
    assert sent.exit_code == 0, sent.output
    assert json.loads(sent.output)["sent"] == 2
    assert TOKEN not in sent.output
    retried = runner.invoke(app, ["statements", "retry", "--json"])
    assert retried.exit_code == 0
    assert json.loads(retried.output) == {"retried": 0}
    for command in ("list", "show", "send", "retry"):
        assert runner.invoke(app, ["statements", command, "--help"]).exit_code == 0


def test_a_refusal_naming_no_statement_fails_the_batch_rather_than_looping(
    database: Database, settings: Settings, api: TransparencyDatabaseSimulator
) -> None:
    add_statements(database, settings, 2)
    one = sender(api, database, "a")
    one.post = lambda statements: sender_module.Answer(422, {"message": "Too many."}, "HTTP 422")  # type: ignore[method-assign]
    assert one.run_once()["failed"] == 2
    assert {row.last_error for row in rows(database).values()} == {
        "the API refused the batch (HTTP 422): Too many."
    }
    assert one.run_once() == {}


# -- transparency ------------------------------------------------------------------


def test_transparency_counts_statements_by_category_and_automation(
    database: Database, settings: Settings, api: TransparencyDatabaseSimulator
) -> None:
    from hashmatch.reporting.transparency.figures import transparency
    from hashmatch.reporting.transparency.formats import as_csv
    from hashmatch.reporting.transparency.periods import parse_period

    with database.transaction() as session:
        for number, automated in ((1, fields.FULLY), (2, fields.FULLY), (3, fields.PARTIALLY)):
            build.record(session, settings, restriction(number, automated_decision=automated), 0)
        build.record(
            session,
            settings,
            restriction(4, kind="review", automated_decision=fields.NOT_AUTOMATED),
            0,
        )
    sender(api, database, "a").run_once(limit=3)  # three of the four sent
    july, june = datetime(2026, 7, 10, tzinfo=UTC), datetime(2026, 6, 10, tzinfo=UTC)
    with database.transaction() as session:
        session.execute(update(Statement).values(created_at=july, sent_at=july))
        session.execute(update(Statement).where(Statement.id == 4).values(created_at=june))
        session.execute(update(Statement).where(Statement.status != "sent").values(sent_at=None))
    figures = transparency(database, parse_period("2026-07"))["figures"]["statements_of_reasons"]
    assert figures["written"] == {"value": 3, "previous": 1, "change_percent": 200.0}
    assert figures["sent"]["value"] == 3
    assert figures["by_category"]["STATEMENT_CATEGORY_PROTECTION_OF_MINORS"]["value"] == 3
    assert figures["by_automated_detection"]["Yes"]["value"] == 3
    assert figures["by_automated_detection"]["No"]["value"] == 0
    decided = {key: figure["value"] for key, figure in figures["by_automated_decision"].items()}
    assert decided == {
        "AUTOMATED_DECISION_FULLY": 2,
        "AUTOMATED_DECISION_PARTIALLY": 1,
        "AUTOMATED_DECISION_NOT_AUTOMATED": 0,
    }
    assert figures["by_automated_decision"]["AUTOMATED_DECISION_NOT_AUTOMATED"]["previous"] == 1
    assert "statements_of_reasons,by_automated_decision,AUTOMATED_DECISION_FULLY,2" in as_csv(
        transparency(database, parse_period("2026-07"))
    )


def test_the_background_sender_runs_only_when_statements_are_on(
    database: Database, database_url: str, tmp_path: Path, api: TransparencyDatabaseSimulator
) -> None:
    from hashmatch.statements.sender import statement_sending

    assert statement_sending(database, Settings()) is None
    on = settings_for(database_url, tmp_path, dsa_api_url=api.url, dsa_api_token=TOKEN)
    [only] = add_statements(database, on, 1)
    sending = statement_sending(database, on)
    assert sending is not None
    sending.start()
    try:
        for _ in range(PATIENCE * 100):
            if rows(database)[only].status == "sent":
                break
            threading.Event().wait(0.01)
    finally:
        sending.stop()
    assert rows(database)[only].status == "sent"


def test_a_redirect_is_not_followed_with_the_token(
    database: Database, settings: Settings, api: TransparencyDatabaseSimulator
) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(307)
            self.send_header("Location", f"{api.url}/api/v1/statements")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        add_statements(database, settings, 1)
        url = f"http://127.0.0.1:{server.server_address[1]}"
        counts = StatementSender(database, url, TOKEN, RETRIES, name="r").run_once()
    finally:
        server.shutdown()
        server.server_close()
    assert counts["failed"] == 1
    assert api.calls == []  # the API behind the redirect never saw the token
    assert "HTTP 307" in (next(iter(rows(database).values())).last_error or "")
