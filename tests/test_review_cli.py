"""``hashmatch review ...`` on both engines: items listed, shown, claimed,
decided and reopened; queues configured; reveals counted; every mistake one
line on stderr and exit 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from hashmatch import audit
from hashmatch.banks import Banks
from hashmatch.cli import app
from hashmatch.cli.context import os_user
from hashmatch.cli.reference import reference
from hashmatch.reporting.cybertip.content import CLASSIFICATIONS
from hashmatch.review import Review, Reviewer
from hashmatch.review.decisions import ANNOTATIONS, DECISIONS
from hashmatch.store import Database
from hashmatch.store.review_models import Opinion
from hashmatch.store.workflow import ReportRequest
from tests.review_world import ReviewWorld, review_settings
from tests.test_cli_startup import HEAVY, imported

runner = CliRunner()
ME = f"cli:{os_user()}"
COMMANDS = ("list", "show", "decide", "next", "reopen", "queues", "queue", "reveals")
Cli = Callable[..., Result]


@pytest.fixture
def world(database: Database, database_url: str, tmp_path: Path) -> ReviewWorld:
    return ReviewWorld.make(database, review_settings(database_url, tmp_path))


@pytest.fixture
def cli(database_url: str) -> Cli:
    def invoke(*args: str) -> Result:
        return runner.invoke(app, ["--database-url", database_url, "review", *args])

    return invoke


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def one(cli: Cli, *args: str) -> Any:
    """The command's JSON answer."""
    return json.loads(ok(cli(*args, "--json")).stdout)


def lines(cli: Cli, *args: str) -> list[Any]:
    """The command's JSON lines."""
    return [json.loads(line) for line in ok(cli(*args, "--json")).stdout.splitlines()]


def refused(cli: Cli, *args: str) -> str:
    """The one error line of a command that must fail as a mistake (exit 2)."""
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # not a traceback
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ")
    return line


def test_list_pages_newest_first_and_show_has_all_a_reviewer_needs(
    world: ReviewWorld, cli: Cli
) -> None:
    ids = world.queue_photos(3)
    assert [item["id"] for item in lines(cli, "list")] == ids[::-1]
    assert [item["id"] for item in lines(cli, "list", "--limit", "2")] == ids[:0:-1]
    assert [item["id"] for item in lines(cli, "list", "--before", str(ids[1]))] == ids[:1]
    assert lines(cli, "list", "--status", "closed") == []
    assert ok(cli("list", "--status", "closed")).stdout.strip() == "no review items"
    assert lines(cli, "list", "--queue", "elsewhere") == []
    paged = ok(cli("list", "--limit", "2"))
    assert "upload-2" in paged.stdout
    assert "upload-0" not in paged.stdout
    assert f"add --before {ids[1]}" in paged.stderr

    item = one(cli, "show", str(ids[1]))
    assert (item["id"], item["queue"], item["status"], item["history"]) == (
        ids[1],
        "default",
        "open",
        [],
    )
    submission = item["submission"]
    assert (submission["content_ref"], submission["user_ref"]) == ("upload-1", "user-1")
    [match] = submission["matches"]
    assert (match["bank"], match["labels"], match["transform"]) == ("known", ["A1"], "original")
    assert isinstance(match["distance"], int)
    assert "source" in match
    shown = ok(cli("show", str(ids[1]))).stdout
    assert "report, webhook hook" in shown  # what a confirmation sets going
    for text in ("upload-1", "user-1", "review-known", "known", "A1", "original", "pdq"):
        assert text in shown


def test_confirm_requests_a_report_as_the_os_user(
    world: ReviewWorld, cli: Cli, database: Database
) -> None:
    [item_id] = world.queue_photos(1)
    args = ("decide", str(item_id), "--decision", "confirm", "--classification", "A1")
    decided = one(cli, *args, "--annotation", "viral", "--note", "seen it")
    assert decided["status"] == "closed"
    said = decided["decision"]
    assert (said["decision"], said["classification"], said["annotations"]) == (
        "confirm",
        "A1",
        ["viral"],
    )
    assert (said["decided_by"], said["note"]) == (ME, "seen it")
    [step] = decided["history"]
    assert (step["decision"], step["actor"]) == ("confirm", ME)
    with database.reading() as session:
        requests = session.execute(
            select(ReportRequest.status).where(ReportRequest.review_item_id == item_id)
        ).all()
        opinions = session.scalars(select(Opinion.opinion).where(Opinion.item_id == item_id)).all()
        [entry] = audit.find(session, action="review.decide")
    assert requests == [("pending",)]
    assert opinions == ["positive"]
    assert (entry.actor, entry.target) == (ME, f"review_item:{item_id}")

    [other] = world.queue_photos(1, start=1)
    said_line = ok(cli("decide", str(other), "-d", "confirm", "-c", "B2", "-a", "viral")).stdout
    assert said_line.strip() == f"decided review item {other}: confirm (B2, viral)"


def test_a_false_positive_adds_the_upload_to_an_allowlist_bank(
    world: ReviewWorld, cli: Cli, database: Database
) -> None:
    [item_id] = world.queue_photos(1)
    decided = one(
        cli, "decide", str(item_id), "-d", "false_positive", "--allowlist-bank", "ours-ok"
    )
    assert decided["decision"]["decision"] == "false_positive"
    assert Banks(database).get("ours-ok").contents == 1
    with database.reading() as session:
        opinions = session.scalars(select(Opinion.opinion).where(Opinion.item_id == item_id)).all()
        requests = session.scalars(
            select(ReportRequest.id).where(ReportRequest.review_item_id == item_id)
        ).all()
    assert (opinions, requests) == (["negative"], [])


def test_escalate_skip_and_next(world: ReviewWorld, cli: Cli) -> None:
    ids = world.queue_photos(3)
    escalated = one(
        cli, "decide", str(ids[0]), "-d", "escalate", "--queue", "senior", "--priority", "5"
    )
    new_id = escalated["decision"]["escalated_to"]
    moved = one(cli, "show", str(new_id))
    assert (moved["queue"], moved["priority"], moved["escalated_from"]) == ("senior", 5, ids[0])

    claimed = one(cli, "next")
    assert (claimed["id"], claimed["claimed_by"]) == (ids[1], ME)
    skipped = ok(cli("decide", str(ids[1]), "--decision", "skip"))
    assert skipped.stdout.strip() == (
        f"skipped review item {ids[1]}: it waits in queue default again"
    )
    after_skip = one(cli, "show", str(ids[1]))
    assert (after_skip["status"], after_skip["claimed_by"]) == ("open", None)
    assert [(step["decision"], step["actor"]) for step in after_skip["history"]] == [("skip", ME)]

    assert one(cli, "next")["id"] == ids[2]  # the skipped item goes to someone else
    assert one(cli, "next")["id"] == ids[2]  # the one held already, not a second
    ok(cli("decide", str(ids[2]), "-d", "skip"))
    assert ok(cli("next", "--json")).stdout.strip() == "null"
    assert ok(cli("next")).stdout.strip() == "nothing waits in queue default"
    assert one(cli, "next", "--queue", "senior")["id"] == new_id
    assert f"review item {new_id}" in ok(cli("next", "-q", "senior")).stdout


def test_reopen_withdraws_what_was_not_acted_on(
    world: ReviewWorld, cli: Cli, database: Database
) -> None:
    world.fetched_from_an_exchange()
    [item_id] = world.queue_photos(1)
    ok(cli("decide", str(item_id), "-d", "confirm", "-c", "A2"))
    reopened = ok(cli("reopen", str(item_id), "--note", "decided on the wrong item"))
    assert reopened.stdout.strip() == (
        f"reopened review item {item_id} in queue default; "
        "withdrawn opinions: 1, report requests: 1"
    )
    item = one(cli, "show", str(item_id))
    assert (item["status"], item["decision"]) == ("open", None)
    last = item["history"][-1]
    assert (last["decision"], last["actor"], last["note"]) == (
        "reopen",
        ME,
        "decided on the wrong item",
    )
    with database.reading() as session:
        statuses = session.scalars(
            select(ReportRequest.status).where(ReportRequest.review_item_id == item_id)
        ).all()
    assert statuses == ["withdrawn"]
    assert "is open already" in refused(cli, "reopen", str(item_id))


def test_configure_a_queue_then_see_it_in_the_overview(world: ReviewWorld, cli: Cli) -> None:
    world.queue_photos(2)
    configured = ok(
        cli(
            "queue",
            "urgent",
            "--description",
            "first look",
            "--sla-minutes",
            "60",
            "--access",
            "user:alice",
            "--access",
            "role:admin",
        )
    )
    assert "configured review queue 'urgent'" in configured.stderr
    record = json.loads(configured.stdout)
    assert (record["sla_minutes"], record["access"]) == (60, ["role:admin", "user:alice"])
    changed = json.loads(ok(cli("queue", "urgent", "--sla-minutes", "90")).stdout)
    assert (changed["description"], changed["sla_minutes"]) == ("first look", 90)

    overview = {queue["name"]: queue for queue in lines(cli, "queues")}
    assert set(overview) == {"default", "urgent"}
    assert (overview["default"]["open"], overview["default"]["configured"]) == (2, False)
    urgent = overview["urgent"]
    assert (urgent["open"], urgent["sla_minutes"], urgent["description"]) == (0, 90, "first look")
    assert urgent["access"] == ["role:admin", "user:alice"]
    table = ok(cli("queues")).stdout
    assert "urgent" in table
    assert "first look" in table
    opened = json.loads(ok(cli("queue", "urgent", "--everyone")).stdout)
    assert (opened["access"], opened["sla_minutes"]) == ([], 90)

    assert "sla_minutes must be from 1" in refused(cli, "queue", "urgent", "--sla-minutes", "0")
    assert "access entry 'everyone'" in refused(cli, "queue", "urgent", "--access", "everyone")
    assert "invalid queue name" in refused(cli, "queue", "not a name")


def test_reveals_are_counted_per_reviewer_and_day(
    world: ReviewWorld, cli: Cli, database: Database
) -> None:
    assert lines(cli, "reveals") == []
    assert ok(cli("reveals")).stdout.strip() == "no reveals in the last 7 days"
    [item_id] = world.queue_photos(1)
    review = Review(database, world.settings, Banks(database))
    review.reveals.grant(
        Reviewer("user:alice", role="reviewer"), item_id, kind="preview", seconds=4
    )
    today = datetime.now(UTC).date().isoformat()
    assert lines(cli, "reveals", "--days", "1") == [
        {"day": today, "reviewer": "user:alice", "reveals": 1}
    ]
    assert "user:alice" in ok(cli("reveals")).stdout
    assert cli("reveals", "--days", "0").exit_code == 2


def test_mistakes_are_one_error_line_and_exit_2(
    world: ReviewWorld, cli: Cli, database: Database
) -> None:
    ids = world.queue_photos(3)
    assert "no review item 999" in refused(cli, "show", "999")
    assert "no review item 999" in refused(cli, "decide", "999", "-d", "skip")
    assert "no review item 999" in refused(cli, "reopen", "999")
    first = str(ids[0])
    assert "decision must be one of" in refused(cli, "decide", first, "-d", "maybe")
    needs = "a confirmation needs a classification: A1, A2, B1, B2"
    assert needs in refused(cli, "decide", first, "-d", "confirm")
    assert needs in refused(cli, "decide", first, "-d", "confirm", "-c", "C3")
    assert "unknown annotations cute" in refused(
        cli, "decide", first, "-d", "confirm", "-c", "A1", "-a", "cute"
    )
    assert "only a confirmation has a classification" in refused(
        cli, "decide", first, "-d", "skip", "-c", "A1"
    )
    assert "an escalation names the queue" in refused(cli, "decide", first, "-d", "escalate")
    assert "in queue 'default' already" in refused(
        cli, "decide", first, "-d", "escalate", "-q", "default"
    )
    assert "is not an allowlist" in refused(
        cli, "decide", first, "-d", "false_positive", "--allowlist-bank", "known"
    )
    assert "status must be one of open, closed" in refused(cli, "list", "--status", "pending")
    assert "invalid queue name" in refused(cli, "next", "--queue", "no such queue!")

    ok(cli("decide", first, "-d", "confirm", "-c", "A1"))
    assert f"review item {first} was decided already (confirm by {ME})" in refused(
        cli, "decide", first, "-d", "false_positive"
    )
    review = Review(database, world.settings, Banks(database))
    held = review.items.claim(ids[1], Reviewer("user:alice", role="reviewer"))
    assert f"is claimed by user:alice until {held['claimed_until']}" in refused(
        cli, "decide", str(ids[1]), "-d", "skip"
    )


def test_help_lists_every_command_and_choice() -> None:
    listed = runner.invoke(app, ["review", "--help"])
    assert listed.exit_code == 0
    for command in COMMANDS:
        assert f" {command} " in listed.stdout
        assert runner.invoke(app, ["review", command, "--help"]).exit_code == 0
    # Help is written out (it imports no database code): keep it true.
    sections = {s.split("\n", 1)[0]: s for s in reference().split("\n## ")[1:]}
    assert {f"hashmatch review {command}" for command in COMMANDS} <= set(sections)
    decide = sections["hashmatch review decide"]
    assert all(name in decide for name in (*DECISIONS, *CLASSIFICATIONS, *ANNOTATIONS))


def test_review_help_imports_no_heavy_library() -> None:
    assert imported("review", "--help").isdisjoint(HEAVY)
