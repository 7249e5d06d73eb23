"""``hashmatch hub ...`` on both engines: the admin workflow from the shell,
JSON for scripts, the lapse check, and every mistake one line on stderr."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from hashmatch.apikeys import ApiKeys
from hashmatch.cli import app
from hashmatch.cli.context import os_user
from hashmatch.hub.criteria import CRITERION_KEYS
from hashmatch.hub.membership import Membership
from hashmatch.settings import Settings
from hashmatch.store import Database
from tests.hub_world import form
from tests.test_cli_startup import HEAVY, imported

runner = CliRunner()
Cli = Callable[..., Result]


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("HASHMATCH_HUB_ENABLED", "true")

    def invoke(*args: str) -> Result:
        return runner.invoke(app, ["--database-url", database_url, "hub", *args])

    return invoke


@pytest.fixture
def application_id(database: Database) -> int:
    view, _token = Membership(database, Settings()).applications.submit(form())
    return int(view["id"])


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def refused(result: Result, code: int) -> str:
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit)  # not a traceback
    [line] = result.stderr.splitlines()
    return line


def test_check_approve_and_manage_a_member(
    cli: Cli, application_id: int, database: Database
) -> None:
    (listed,) = [
        json.loads(line) for line in ok(cli("applications", "list", "--json")).splitlines()
    ]
    assert listed["id"] == application_id
    assert "0/6" in ok(cli("applications", "list"))
    for key in CRITERION_KEYS:
        shown: Any = json.loads(
            ok(cli("applications", "check", str(application_id), key, "--note", "ok", "--json"))
        )
    assert {c["checked_by"] for c in shown["criteria"]} == {f"cli:{os_user()}"}
    assert f"[checked by cli:{os_user()}] policy" in ok(
        cli("applications", "show", str(application_id))
    )
    said = ok(cli("applications", "approve", str(application_id)))
    secret = said.split("(shown once): ")[1].strip()
    keys = ApiKeys(database)
    info = keys.authenticate(secret)
    keys.close()
    assert info is not None
    assert info.scopes == ("hub",)
    (member,) = [json.loads(line) for line in ok(cli("members", "list", "--json")).splitlines()]
    member_id = str(member["id"])
    dues: Any = json.loads(
        ok(cli("members", "dues", member_id, "--invoice", "INV-9", "--due", "2020-02-01", "--json"))
    )
    assert dues["dues"] == {
        "invoice": "INV-9",
        "due": "2020-02-01T00:00:00+00:00",
        "paid": False,
        "grace_days": None,
    }
    assert "annual dues (invoice INV-9)" in ok(cli("lapse-check"))
    assert ok(cli("lapse-check", "--json")) == "[]\n"
    assert "lapsed" in ok(cli("members", "show", member_id))
    line = refused(cli("members", "reinstate", member_id), 2)
    assert "record the payment or the re-attestation first" in line
    ok(cli("members", "dues", member_id, "--invoice", "INV-9", "--due", "2020-02-01", "--paid"))
    assert "active" in ok(cli("members", "reinstate", member_id))
    suspended: Any = json.loads(
        ok(cli("members", "suspend", member_id, "--reason", "pause", "--json"))
    )
    assert suspended["notices"][0]["message"] == "Suspended by the hub: pause"
    renewed: Any = json.loads(ok(cli("members", "reattest", member_id, "--json")))
    assert renewed["reattest_overdue"] is False


def test_reject_and_the_mistakes(cli: Cli, application_id: int) -> None:
    line = refused(cli("applications", "approve", str(application_id)), 2)
    assert line.startswith("error: application")
    assert "not yet: technology" in line
    assert "unknown criterion 'vibes'" in refused(
        cli("applications", "check", str(application_id), "vibes"), 2
    )
    assert "no application 999" in refused(cli("applications", "show", "999"), 2)
    assert "state must be one of" in refused(cli("applications", "list", "--state", "odd"), 2)
    rejected = ok(cli("applications", "reject", str(application_id), "--reason", "No terms."))
    assert "rejected because: No terms." in rejected
    assert "rejected already" in refused(
        cli("applications", "reject", str(application_id), "--reason", "x"), 2
    )
    assert "YYYY-MM-DD" in refused(
        cli("members", "dues", "1", "--invoice", "I", "--due", "soon"), 2
    )
    assert "no hub member 4" in refused(cli("members", "suspend", "4", "--reason", "x"), 2)
    assert ok(cli("members", "list")) == "no members\n"


def test_the_commands_need_hub_enabled(database_url: str) -> None:
    result = runner.invoke(app, ["--database-url", database_url, "hub", "members", "list"])
    assert "not a hub: set hub_enabled" in refused(result, 2)


def test_hub_help_imports_no_heavy_library() -> None:
    assert imported("hub", "applications", "--help").isdisjoint(HEAVY)
