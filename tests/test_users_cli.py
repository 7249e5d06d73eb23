"""``hashmatch users``, and what ``hashmatch serve`` says while no one can sign in."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from hashmatch.cli import app

runner = CliRunner()
PASSWORD = "correct horse battery"


def users_cli(database_url: str, *args: str, input: str | None = None) -> Result:
    return runner.invoke(app, ["--database-url", database_url, "users", *args], input=input)


def test_create_list_and_change_users(database_url: str) -> None:
    created = users_cli(
        database_url, "create", "ada", "--role", "admin", "--password-stdin", input=PASSWORD + "\n"
    )
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["role"] == "admin"
    assert "created user 'ada' with role admin" in created.stderr
    prompted = users_cli(
        database_url, "create", "bob", "--role", "viewer", input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert prompted.exit_code == 0, prompted.output
    assert PASSWORD not in prompted.output  # hidden

    listed = users_cli(database_url, "list", "--json")
    assert [json.loads(line)["name"] for line in listed.stdout.splitlines()] == ["ada", "bob"]
    table = users_cli(database_url, "list")
    assert "ada" in table.stdout
    assert "viewer" in table.stdout

    assert json.loads(users_cli(database_url, "set-role", "bob", "curator").stdout)["role"] == (
        "curator"
    )
    assert json.loads(users_cli(database_url, "disable", "bob").stdout)["disabled_at"]
    assert json.loads(users_cli(database_url, "enable", "bob").stdout)["disabled_at"] is None
    reset = users_cli(
        database_url, "reset-password", "bob", "--password-stdin", input="a new long password\n"
    )
    assert reset.exit_code == 0, reset.output
    assert json.loads(users_cli(database_url, "reset-totp", "bob").stdout)["totp_enabled"] is False
    assert "a new long password" not in users_cli(database_url, "list", "--json").stdout

    from hashmatch.accounts.users import Users
    from hashmatch.settings import Settings
    from hashmatch.store import Database

    database = Database.open(database_url)
    try:
        assert Users(database, Settings()).login("bob", "a new long password").ok
    finally:
        database.close()


def test_mistakes_are_one_error_line_and_exit_2(database_url: str) -> None:
    def refused(*args: str, input: str | None = None) -> str:
        result = users_cli(database_url, *args, input=input)
        assert result.exit_code == 2, result.output
        [line] = result.stderr.splitlines()
        assert line.startswith("error: ")
        return line

    users_cli(database_url, "create", "ada", "--role", "admin", "--password-stdin", input=PASSWORD)
    assert "already exists" in refused(
        "create", "ada", "--role", "admin", "--password-stdin", input=PASSWORD
    )
    assert "unknown role 'root'" in refused(
        "create", "bob", "--role", "root", "--password-stdin", input=PASSWORD
    )
    assert "at least 12 characters" in refused(
        "create", "bob", "--role", "viewer", "--password-stdin", input="short\n"
    )
    assert "invalid user name" in refused(
        "create", "no spaces", "--role", "viewer", "--password-stdin", input=PASSWORD
    )
    assert refused("disable", "nobody") == "error: no user named 'nobody'"
    assert refused("set-role", "ada", "root").startswith("error: unknown role")
    assert "no user named" in refused("reset-password", "nobody", "--password-stdin", input="x")
    assert "no user named" in refused("reset-totp", "nobody")


def test_every_users_command_has_help() -> None:
    for command in ("create", "list", "set-role", "disable", "enable", "reset-password"):
        result = runner.invoke(app, ["users", command, "--help"])
        assert result.exit_code == 0
        assert "Usage:" in result.stdout
    assert "reset-totp" in runner.invoke(app, ["users", "--help"]).stdout
    from hashmatch.accounts.roles import ROLES

    create_help = runner.invoke(app, ["users", "create", "--help"]).stdout
    assert all(role in create_help for role in ROLES)  # written out: --help loads no database


def test_serve_says_how_to_make_the_first_admin(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    import hashmatch.api.app
    import hashmatch.api.workers

    def run(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.setattr(hashmatch.api.app, "create_app", lambda settings: None)
    monkeypatch.setattr(
        hashmatch.api.workers, "port_held", lambda host, port: contextlib.nullcontext()
    )
    hint = (
        "No one can sign in to the web UI yet: create the first admin with  "
        "hashmatch users create NAME --role admin"
    )
    first = runner.invoke(app, ["--database-url", database_url, "serve"])
    assert first.exit_code == 0, first.output
    assert hint in first.stderr.splitlines()
    users_cli(database_url, "create", "ada", "--role", "admin", "--password-stdin", input=PASSWORD)
    again = runner.invoke(app, ["--database-url", database_url, "serve"])
    assert again.exit_code == 0, again.output
    assert "No one can sign in" not in again.stderr
