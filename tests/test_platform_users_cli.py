"""``hashmatch platform-users show|erase`` on both engines: a table or JSON,
pages by cursor, the erasure's summary, every mistake one line on stderr."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from hashmatch.audit import find
from hashmatch.cli import app
from hashmatch.cli.context import os_user
from hashmatch.store import Database
from tests.platform_users_world import Made, UserWorld, user_settings
from tests.test_cli_startup import HEAVY, imported

runner = CliRunner()
Cli = Callable[..., Result]


@pytest.fixture
def made(database: Database, database_url: str, tmp_path: Path) -> tuple[UserWorld, Made]:
    world = UserWorld.make(database, user_settings(database_url, tmp_path))
    return world, world.busy_user("user-7")


@pytest.fixture
def cli(database_url: str) -> Cli:
    def invoke(*args: str) -> Result:
        return runner.invoke(app, ["--database-url", database_url, "platform-users", *args])

    return invoke


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def test_show_prints_a_table_or_json_a_page_at_a_time(
    cli: Cli, made: tuple[UserWorld, Made]
) -> None:
    _, history = made
    table = ok(cli("show", "user-7"))
    assert "3 submission, 2 match, 1 review, 1 appeal, 1 statement" in table
    assert "confirm A1 by user:alice" in table
    assert f"appeal_id={history.appeals[0]}" in table
    whole = json.loads(ok(cli("show", "user-7", "--json")))
    assert whole["total"] == 8
    first = json.loads(ok(cli("show", "user-7", "--limit", "5", "--json")))
    assert first["next_cursor"] is not None
    rest = json.loads(ok(cli("show", "user-7", "--cursor", first["next_cursor"], "--json")))
    assert first["entries"] + rest["entries"] == whole["entries"]
    assert f"more: --cursor {first['next_cursor']}" in ok(cli("show", "user-7", "--limit", "5"))
    matches = json.loads(ok(cli("show", "user-7", "--kind", "match", "--json")))
    assert {e["kind"] for e in matches["entries"]} == {"match"}


def test_mistakes_are_one_line(cli: Cli, made: tuple[UserWorld, Made]) -> None:
    for args, message in [
        (("show", "nobody"), "nothing is known about platform user 'nobody'"),
        (("show", "user-7", "--cursor", "garbage"), "cursor"),
        (("show", "user-7", "--kind", "opinion"), "kind"),
    ]:
        result = cli(*args)
        assert result.exit_code != 0
        assert message in result.stderr
        assert "Traceback" not in result.output
    assert cli("show", "user-7", "--limit", "0").exit_code == 2


def test_erase_asks_then_erases(cli: Cli, made: tuple[UserWorld, Made], database: Database) -> None:
    world, history = made
    world.report("user-7", [history.matched[0]], status="finished")
    refused = runner.invoke(
        app, ["--database-url", str(database.engine.url), "platform-users", "erase", "user-7"]
    )
    assert refused.exit_code != 0
    said = ok(cli("erase", "user-7", "--yes"))
    assert "erased: " in said
    assert "submissions 2" in said
    assert "kept report" in said
    again = json.loads(ok(cli("erase", "user-7", "--yes", "--json")))
    assert set(again["deleted"].values()) == {0}
    with database.reading() as session:
        entries = find(session, action="platform_user.erase", limit=10)
    assert {entry.actor for entry in entries} == {f"cli:{os_user()}"}
    gone = cli("erase", "nobody", "--yes")
    assert gone.exit_code == 1
    assert "nothing is known" in gone.stderr


def test_help_is_light() -> None:
    assert imported("platform-users", "--help").isdisjoint(HEAVY)
