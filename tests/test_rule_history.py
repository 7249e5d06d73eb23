"""Rules that look at the user's history (``when.user_history``): the
condition itself, the counts of each kind in a window on both engines
(one query per kind), the issue's "second confirmed match" example end to
end with its dry run, and two submissions of one user at once."""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from typer.testing import CliRunner

from hashmatch.actions import submissions as submissions_module
from hashmatch.actions.rule_store import Rules
from hashmatch.actions.rules import HISTORY_KINDS, evaluate, history_windows, parse_rule
from hashmatch.actions.submissions import References, Submissions
from hashmatch.actions.user_history import count_user_history
from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.audit import Actor, acting_as
from hashmatch.banks import Banks
from hashmatch.cli import app as cli
from hashmatch.errors import RuleError
from hashmatch.hashing import HashRequest, hash_file
from hashmatch.hashlists import Entry
from hashmatch.matching import Matcher
from hashmatch.review import Review, Reviewer, Verdict
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.models import utcnow
from hashmatch.store.reporting_models import CybertipReport
from hashmatch.store.review_models import Appeal
from hashmatch.store.workflow import ReviewItem, Submission, Webhook
from tests.interleaving import PATIENCE, PausedInside, run_together, started
from tests.review_world import PHOTO, ReviewWorld, review_settings
from tests.web_ui import Ui

PHOTO_HASHES = hash_file(PHOTO, HashRequest()).signals
MATCH = [{"bank": "known", "signal_type": "pdq", "distance": 0}]
KINDS = {"known": "match"}


def history_rule(*conditions: dict[str, Any], name: str = "repeat") -> Any:
    return parse_rule(
        {
            "name": name,
            "when": {"banks": ["known"], "user_history": list(conditions)},
            "then": [{"action": "block"}],
        }
    )


def cond(count: str, within_days: int, at_least: int) -> dict[str, Any]:
    return {"count": count, "within_days": within_days, "at_least": at_least}


# -- the condition, pure ---------------------------------------------------------


def verdict(rule: Any, counts: dict[tuple[str, int], int] | None, matches: Any = MATCH) -> str:
    decision = evaluate([rule], matches, content_type="photo", bank_kinds=KINDS, user_counts=counts)
    return decision.verdict


def test_a_history_condition_fires_only_with_enough_earlier_records() -> None:
    rule = history_rule(cond("confirmed_decisions", 90, 2))
    assert verdict(rule, None) == "allow"  # no counts given: none
    assert verdict(rule, {("confirmed_decisions", 90): 1}) == "allow"
    assert verdict(rule, {("confirmed_decisions", 90): 2}) == "block"
    assert verdict(rule, {("confirmed_decisions", 30): 5}) == "allow"  # another window
    # The matches must still count: history alone fires nothing.
    assert verdict(rule, {("confirmed_decisions", 90): 9}, matches=[]) == "allow"


def test_every_history_condition_must_hold() -> None:
    rule = history_rule(cond("submissions", 7, 3), cond("block_verdicts", 30, 1))
    assert verdict(rule, {("submissions", 7): 3, ("block_verdicts", 30): 1}) == "block"
    assert verdict(rule, {("submissions", 7): 3, ("block_verdicts", 30): 0}) == "allow"


def test_the_windows_asked_for_are_the_enabled_rules() -> None:
    on = history_rule(cond("matches", 30, 1), cond("reports", 365, 1))
    off = parse_rule(
        {**history_rule(cond("upheld_appeals", 5, 1), name="off").to_json(), "enabled": False}
    )
    plain = parse_rule({"name": "plain", "then": [{"action": "review"}]})
    assert history_windows([on, off, plain]) == {("matches", 30), ("reports", 365)}


def test_the_shape_is_written_back_as_given() -> None:
    rule = history_rule(cond("upheld_appeals", 10, 1))
    assert rule.to_json()["when"]["user_history"] == [cond("upheld_appeals", 10, 1)]
    assert parse_rule(rule.to_json()) == rule


@pytest.mark.parametrize(
    ("condition", "complaint"),
    [
        (cond("likes", 10, 1), "when.user_history.0.count"),
        (cond("matches", 0, 1), "when.user_history.0.within_days"),
        (cond("matches", 3651, 1), "when.user_history.0.within_days"),
        (cond("matches", 10, 0), "when.user_history.0.at_least"),
        ({**cond("matches", 10, 1), "days": 3}, "when.user_history.0.days"),
        ({"count": "matches", "at_least": 1}, "when.user_history.0.within_days"),
        ({**cond("matches", 10, 1), "at_least": "1"}, "when.user_history.0.at_least"),
    ],
)
def test_a_malformed_history_condition_is_refused_naming_the_field(
    condition: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(RuleError, match=complaint.replace(".", r"\.")):
        history_rule(condition)


def test_an_empty_history_list_is_refused() -> None:
    with pytest.raises(RuleError, match=r"when\.user_history"):
        parse_rule({"name": "x", "when": {"user_history": []}, "then": [{"action": "block"}]})


# -- the counts, on both engines -------------------------------------------------


def _submission(
    user: str, taken: datetime, verdict: str, matches: list[dict[str, Any]]
) -> Submission:
    return Submission(
        content_ref=f"c-{user}-{taken.isoformat()}",
        user_ref=user,
        content_type="photo",
        signals={},
        matches=matches,
        verdict=verdict,
        actions=[],
        actor="key:test",
        created_at=taken,
    )


def test_each_kind_counts_the_users_earlier_records_in_the_window(database: Database) -> None:
    now = utcnow()
    day = timedelta(days=1)
    found = [{"bank": "known", "suppressed": False}]
    hidden = [{"bank": "known", "suppressed": True}]
    with database.transaction() as session:
        rows = [
            _submission("u", now - day, "block", found),  # in 7, 30 and 365 days
            _submission("u", now - 10 * day, "review", hidden),  # 30 and 365; no match
            _submission("u", now - 100 * day, "block", found),  # 365
            _submission("u", now - 400 * day, "block", found),  # no window
            _submission("other", now - day, "block", found),  # someone else
        ]
        session.add_all(rows)
        session.flush()
        first, second, third = rows[0], rows[1], rows[2]
        session.add_all(
            [
                ReviewItem(submission_id=first.id, queue="q", rule="r", status="closed",
                           decision="confirm", closed_at=now - day),
                ReviewItem(submission_id=second.id, queue="q", rule="r", status="closed",
                           decision="false_positive", closed_at=now - day),
                ReviewItem(submission_id=third.id, queue="q", rule="r", status="closed",
                           decision="confirm", closed_at=now - 20 * day),
                ReviewItem(submission_id=rows[4].id, queue="q", rule="r", status="closed",
                           decision="confirm", closed_at=now - day),
                CybertipReport(status="finished", environment="test", created_by="t",
                               user_ref="u", created_at=now - 2 * day),
                CybertipReport(status="retracted", environment="test", created_by="t",
                               user_ref="u", created_at=now - 2 * day),
                CybertipReport(status="finished", environment="test", created_by="t",
                               user_ref="other", created_at=now - 2 * day),
                Appeal(submission_id=first.id, content_ref="c", received_at=now - 3 * day,
                       due_at=now, status="decided", decision="uphold", decided_at=now - 3 * day),
                Appeal(submission_id=third.id, content_ref="c", received_at=now - 50 * day,
                       due_at=now, status="decided", decision="overturn",
                       decided_at=now - 40 * day),
            ]
        )  # fmt: skip
    windows = {(kind, days) for kind in HISTORY_KINDS for days in (7, 30, 365)}
    statements: list[str] = []

    def note(*args: Any) -> None:
        statements.append(args[2])

    event.listen(database.engine, "before_cursor_execute", note)
    counts = count_user_history(database, "u", windows, now=now)
    event.remove(database.engine, "before_cursor_execute", note)
    assert {window: n for window, n in counts.items() if n} == {
        ("submissions", 7): 1, ("submissions", 30): 2, ("submissions", 365): 3,
        ("matches", 7): 1, ("matches", 30): 1, ("matches", 365): 2,
        ("block_verdicts", 7): 1, ("block_verdicts", 30): 1, ("block_verdicts", 365): 2,
        ("confirmed_decisions", 7): 1, ("confirmed_decisions", 30): 2,
        ("confirmed_decisions", 365): 2,
        ("reports", 7): 1, ("reports", 30): 1, ("reports", 365): 1,
        ("upheld_appeals", 7): 1, ("upheld_appeals", 30): 1, ("upheld_appeals", 365): 1,
    }  # fmt: skip
    assert set(counts) == windows
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == len(HISTORY_KINDS)  # one query per kind, whatever the windows
    # The moment itself is left out (a submission never counts itself), and
    # no user or no windows asks nothing.
    assert count_user_history(database, "u", {("submissions", 7)}, now=now - day) == {
        ("submissions", 7): 0
    }
    assert count_user_history(database, None, {("submissions", 7)}, now=now) == {
        ("submissions", 7): 0
    }
    assert count_user_history(database, "u", set(), now=now) == {}


# -- the example, end to end ---------------------------------------------


SUSPEND = {
    "name": "suspend-repeat",
    "description": "A second confirmed match within 90 days: suspend the account.",
    "when": {
        "banks": ["known"],
        "user_history": [cond("confirmed_decisions", 90, 1)],
    },
    "then": [{"action": "webhook", "webhook": "suspend_account"}],
}


def test_a_second_confirmed_match_within_90_days_calls_the_suspend_webhook(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    settings = review_settings(database_url, tmp_path)
    world = ReviewWorld.make(database, settings)
    with database.transaction() as session:
        session.add(
            Webhook(name="suspend_account", url="http://127.0.0.1:9/s", events=[], secret="s")
        )
    Rules(database).create(parse_rule(SUSPEND))
    review = Review(database, settings, Banks(database))

    def suspended(submission_id: int) -> bool:
        with database.reading() as session:
            actions = session.get(Submission, submission_id).actions  # type: ignore[union-attr]
        return any(a.get("webhook") == "suspend_account" for a in actions)

    [first_item] = world.queue_photos(1, start=0)  # user-0
    with database.reading() as session:
        first = session.get(ReviewItem, first_item).submission_id  # type: ignore[union-attr]
    assert not suspended(first)
    reviewer = Reviewer("user:ada", role="reviewer")
    review.items.claim(first_item, reviewer)
    review.decisions.decide(first_item, reviewer, Verdict("confirm", classification="A1"))

    [second_item, other_item] = world.queue_photos(2, start=3)  # user-0, user-1
    with database.reading() as session:
        second = session.get(ReviewItem, second_item).submission_id  # type: ignore[union-attr]
        other = session.get(ReviewItem, other_item).submission_id  # type: ignore[union-attr]
    assert suspended(second)
    assert not suspended(other)

    # The dry run shows the counts it used: as they were when each was taken.
    rules = Rules(database)
    tried = rules.test_submission(second)
    assert tried["user_ref"] == "user-0"
    assert tried["user_history"] == [
        {"count": "confirmed_decisions", "within_days": 90, "value": 1}
    ]
    assert "suspend-repeat" in tried["fired_rules"]
    before = rules.test_submission(first)
    assert before["user_history"][0]["value"] == 0
    assert "suspend-repeat" not in before["fired_rules"]
    photo = PHOTO_HASHES["pdq"]
    now_for = rules.test_hashes(world.matcher, [("pdq", photo)], user_ref="user-0")
    assert now_for["user_history"][0]["value"] == 1
    nobody = rules.test_hashes(world.matcher, [("pdq", photo)])
    assert nobody["user_ref"] is None
    assert nobody["user_history"] == [
        {"count": "confirmed_decisions", "within_days": 90, "value": 0}
    ]
    # A rule without history conditions has no counts to show.
    plain = parse_rule(
        {"name": "plain", "when": {"banks": ["known"]}, "then": [{"action": "block"}]}
    )
    assert rules.test_submission(second, plain)["user_history"] == []


# -- two submissions of one user at once -----------------------------------------


def _hash_world(
    database: Database, tmp_path: Path, database_url: str, at_least: int
) -> Submissions:
    """A bank ``known`` with the photo, and one rule: block the photo when
    the user sent at least ``at_least`` submissions in the last day."""
    banks = Banks(database)
    banks.create("known")
    banks.add("known", Entry(dict(PHOTO_HASHES)))
    rules = Rules(database)
    rules.set_enabled("review-any-match", False)
    rules.create(history_rule(cond("submissions", 1, at_least)))
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    return Submissions(database, settings, None)


def _submit(submissions: Submissions, matcher: Matcher, ref: str) -> dict[str, Any]:
    photo = PHOTO_HASHES["pdq"]
    with acting_as(Actor("key:platform")):
        done = submissions.submit_hashes(matcher, References(ref, user_ref="u"), [("pdq", photo)])
    return done.answer


def test_two_submissions_of_one_user_at_once_do_not_count_each_other(
    database: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counts are read before the submission's transaction (as the
    rules are), so a submission counts what had committed by then.  Here
    the first is held inside its transaction, its row written but not
    committed; the second reads its counts meanwhile and sees no earlier
    submission (allow), whichever engine.  Both then commit, and a third
    sees both (block)."""
    submissions = _hash_world(database, tmp_path, database_url, at_least=1)
    matcher = Matcher(database)
    paused = PausedInside(monkeypatch, submissions_module, "record_verdict")
    counted = threading.Event()
    original = submissions_module.count_user_history

    def counting(*args: Any, **kwargs: Any) -> Any:
        found = original(*args, **kwargs)
        if threading.current_thread().name == "second":
            counted.set()
        return found

    monkeypatch.setattr(submissions_module, "count_user_history", counting)
    results: dict[str, Any] = {}
    one = started(lambda: _submit(submissions, matcher, "a"), "first", results)
    assert paused.reached.wait(PATIENCE)
    two = started(lambda: _submit(submissions, matcher, "b"), "second", results)
    assert counted.wait(PATIENCE)
    paused.release()
    one.join(PATIENCE)
    two.join(PATIENCE)
    assert results["first"]["verdict"] == "allow"
    assert results["second"]["verdict"] == "allow"  # the first had not committed
    assert _submit(submissions, matcher, "c")["verdict"] == "block"
    # The dry run, afterwards, counts by the time each was taken: the first
    # took its time before the second did, so there it counts.
    tried = Rules(database).test_submission(results["second"]["submission_id"])
    assert tried["user_history"][0]["value"] == 1


def test_many_submissions_of_one_user_at_once_never_count_more_than_committed(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    """Bounded stress: 12 submissions of one user on 4 threads, a rule that
    blocks from the 3rd in a day.  Each counts only what had committed, so
    at most 12 - 3 are blocked, never the first three committed; one
    submitted after all of them is."""
    at_least, threads, each = 3, 4, 3
    submissions = _hash_world(database, tmp_path, database_url, at_least=at_least)
    matcher = Matcher(database)
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        for number in range(each):
            answer = _submit(submissions, matcher, f"{name}-{number}")
            with lock:
                answers.append(answer)

    run_together(work, [f"t{n}" for n in range(threads)])
    total = threads * each
    assert len(answers) == total
    blocked = [a for a in answers if a["verdict"] == "block"]
    assert len(blocked) <= total - at_least
    ordered = sorted(answers, key=lambda a: a["submission_id"])
    if database.dialect == "sqlite":  # one writer at a time: ids are the commit order
        assert all(a["verdict"] == "allow" for a in ordered[:at_least])
    assert _submit(submissions, matcher, "after")["verdict"] == "block"


# -- the dry run over HTTP and on the command line ----------------------------------


def test_the_dry_run_takes_a_user_over_http_and_on_the_command_line(
    database: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    submissions = _hash_world(database, tmp_path, database_url, at_least=1)
    matcher = Matcher(database)
    first = _submit(submissions, matcher, "a")["submission_id"]
    key = ApiKeys(database).create("curate", ["curate"])[0]
    hashes = [{"signal_type": "pdq", "signal": PHOTO_HASHES["pdq"]}]
    app = create_app(Settings(data_dir=tmp_path / "data", database_url=database_url))
    with TestClient(app, raise_server_exceptions=False) as http:
        app.state.service.wait_until_loaded(60)

        def tried(body: dict[str, Any]) -> Any:
            return http.post(
                "/v1/rules/test", json=body, headers={"Authorization": f"Bearer {key}"}
            )

        answer = tried({"hashes": hashes, "user_ref": "u"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["verdict"] == "block"
        assert answer.json()["user_history"] == [
            {"count": "submissions", "within_days": 1, "value": 1}
        ]
        assert tried({"hashes": hashes}).json()["verdict"] == "allow"
        # The stored submission's own user and time: nothing came before it.
        assert tried({"submission_id": first}).json()["user_history"][0]["value"] == 0
        for body in (
            {"submission_id": first, "user_ref": "u"},
            {"hashes": hashes, "user_ref": ""},
            {"hashes": hashes, "user_ref": "a\x01b"},
            {"hashes": hashes, "user_ref": "x" * 201},
            {"hashes": hashes, "user_ref": 7},
        ):
            refused = tried(body)
            assert refused.status_code == 422, (body, refused.text)
            assert refused.json()["error"]["code"] == "invalid_request"
    monkeypatch.setenv("HASHMATCH_DATABASE_URL", database_url)
    monkeypatch.setenv("HASHMATCH_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    pdq = f"pdq:{PHOTO_HASHES['pdq']}"
    shown = runner.invoke(cli, ["rules", "test", "--hash", pdq, "--user", "u"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["user_history"][0]["value"] == 1
    bad = runner.invoke(cli, ["rules", "test", "--hash", pdq, "--user", "a\x01b"])
    assert bad.exit_code == 2
    assert "--user must not contain control characters" in bad.output
    both = runner.invoke(cli, ["rules", "test", "--submission", str(first), "--user", "u"])
    assert both.exit_code == 2


def test_the_rule_pages_dry_run_shows_the_counts(ui: Ui, tmp_path: Path) -> None:
    database = ui.service.database
    submissions = _hash_world(database, tmp_path, ui.settings.database_url, at_least=1)
    matcher = Matcher(database)
    _submit(submissions, matcher, "a")
    _submit(submissions, matcher, "b")
    ui.sign_in("viewer")
    page = ui.get("/ui/rules/repeat", params={"dry_run": "1"})
    assert page.status_code == 200
    assert '<th scope="col">User\'s counts</th>' in unescape(page.text)
    # Newest first: the second saw the first; the first saw nothing.
    shown = re.findall(r'<span class="tag">submissions in 1 days: (\d+)</span>', page.text)
    assert shown == ["1", "0"]
    plain = parse_rule(
        {"name": "plain", "when": {"banks": ["known"]}, "then": [{"action": "block"}]}
    )
    Rules(database).create(plain)
    assert "User's counts" not in ui.get("/ui/rules/plain", params={"dry_run": "1"}).text
