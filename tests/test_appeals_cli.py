"""``hashmatch appeals ...`` on both engines: listed (overdue ones too),
shown and decided, JSON for scripts, every mistake one line on stderr."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from typer.testing import CliRunner, Result

from hashmatch.audit import Actor, acting_as
from hashmatch.banks import Banks
from hashmatch.cli import app
from hashmatch.cli.context import os_user
from hashmatch.review import Review
from hashmatch.review.appeals import AppealTarget
from hashmatch.store import Database
from hashmatch.store.models import utcnow
from hashmatch.store.review_models import Appeal
from tests.review_world import ReviewWorld, review_settings
from tests.test_cli_startup import HEAVY, imported
from tests.test_review import ALICE, CONFIRM

runner = CliRunner()
Cli = Callable[..., Result]


@pytest.fixture
def appeal_ids(database: Database, database_url: str, tmp_path: Path) -> list[int]:
    """Two appeals of items Alice confirmed; the first overdue."""
    settings = review_settings(database_url, tmp_path)
    world = ReviewWorld.make(database, settings)
    review = Review(database, settings, Banks(database))
    ids = []
    for item_id in world.queue_photos(2):
        review.decisions.decide(item_id, ALICE, CONFIRM)
        with acting_as(Actor("key:platform")):
            target = AppealTarget(review_item_id=item_id)
            ids.append(review.appeals.create(target, text="my beach")["id"])
    with database.transaction() as session:
        session.execute(
            update(Appeal).where(Appeal.id == ids[0]).values(due_at=utcnow() - timedelta(hours=1))
        )
    return ids


@pytest.fixture
def cli(database_url: str) -> Cli:
    def invoke(*args: str) -> Result:
        return runner.invoke(app, ["--database-url", database_url, "appeals", *args])

    return invoke


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def test_list_show_and_decide(cli: Cli, appeal_ids: list[int]) -> None:
    first, second = appeal_ids
    listed = [json.loads(line) for line in ok(cli("list", "--json")).splitlines()]
    assert [a["id"] for a in listed] == [second, first]
    overdue = [json.loads(line) for line in ok(cli("list", "--overdue", "--json")).splitlines()]
    assert [a["id"] for a in overdue] == [first]
    assert "(overdue)" in ok(cli("list"))
    shown = ok(cli("show", str(first)))
    assert "the user wrote: 'my beach'" in shown
    assert "confirm A2 by user:alice" in shown
    decided: Any = json.loads(
        ok(cli("decide", str(first), "--decision", "overturn", "--note", "a beach", "--json"))
    )
    assert decided["decided_by"] == f"cli:{os_user()}"
    assert decided["outcome"]["previous_verdict"] == "review"
    said = ok(cli("decide", str(second), "-d", "uphold"))
    assert f"appeal {second}: decided, uphold by cli:" in said
    assert ok(cli("list", "--status", "open")) == "no appeals\n"


def refused(result: Result, code: int) -> str:
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit)  # not a traceback
    [line] = result.stderr.splitlines()
    return line


def test_mistakes_are_one_line(cli: Cli, appeal_ids: list[int]) -> None:
    first, _ = appeal_ids
    assert "must be one of uphold, overturn" in refused(cli("decide", str(first), "-d", "maybe"), 2)
    assert "no appeal 999" in refused(cli("show", "999"), 2)
    assert "status must be one of" in refused(cli("list", "--status", "closed"), 2)
    ok(cli("decide", str(first), "-d", "uphold"))
    assert "decided already" in refused(cli("decide", str(first), "-d", "uphold"), 2)


def test_appeals_help_imports_no_heavy_library() -> None:
    assert imported("appeals", "--help").isdisjoint(HEAVY)
    for command in ("list", "show", "decide"):
        assert runner.invoke(app, ["appeals", command, "--help"]).exit_code == 0
