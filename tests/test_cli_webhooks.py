"""``hashmatch webhooks ...`` and ``hashmatch worker --help``, on both engines."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from typer.testing import CliRunner, Result

from hashmatch.actions import outbox
from hashmatch.actions.outbox import Outcome, Retries
from hashmatch.cli import app
from hashmatch.store import Database

runner = CliRunner()


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    monkeypatch.setenv("HASHMATCH_URL_ALLOW_PRIVATE", "true")

    def invoke(*args: str) -> Result:
        return runner.invoke(app, ["--database-url", database_url, "webhooks", *args])

    return invoke


def test_create_list_update_rotate_delete(cli: Callable[..., Result]) -> None:
    created = cli(
        "create", "--name", "mod", "--url", "http://127.0.0.1:9/h", "-e", "submission.verdict"
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert len(secret.splitlines()) == 1
    assert len(secret) >= 40
    assert "created webhook 'mod'" in created.stderr
    [listed] = [json.loads(line) for line in cli("list").stdout.splitlines()]
    assert listed["events"] == ["submission.verdict"]
    assert secret not in cli("list").stdout + cli("show", "mod").stdout
    updated = json.loads(cli("update", "mod", "--disable", "-e", "report.filed").stdout)
    assert (updated["enabled"], updated["events"]) == (False, ["report.filed"])
    rotated = cli("rotate", "mod")
    assert rotated.exit_code == 0
    assert rotated.stdout.strip() not in ("", secret)
    assert cli("delete", "mod").exit_code == 0
    missing = cli("show", "mod")
    assert missing.exit_code == 2
    assert "no webhook named 'mod'" in missing.stderr


def test_bad_input_is_a_usage_error(cli: Callable[..., Result]) -> None:
    bad = cli("create", "--name", "x", "--url", "http://h.example/", "-e", "nope")
    assert bad.exit_code == 2
    assert "unknown event type 'nope'" in bad.stderr
    assert cli("create", "--name", "x", "--url", "gopher://h/").exit_code == 2
    assert cli("deliveries", "x").exit_code == 2
    assert cli("redeliver", "12345").exit_code == 2
    assert cli("delivery", "12345").exit_code == 2


def test_deliveries_and_redeliver(cli: Callable[..., Result], database_url: str) -> None:
    cli("create", "--name", "mod", "--url", "http://127.0.0.1:9/h", "-e", "submission.verdict")
    database = Database.open(database_url)
    with database.transaction() as session:
        event_id = outbox.enqueue(session, "submission.verdict", {})
    [job] = outbox.claim(database, "t", limit=1, lease=timedelta(seconds=60))
    outbox.settle(
        database, "t", [Outcome(job.delivery_id, 0, None, 3.0, "refused")], Retries(max_attempts=1)
    )
    database.close()
    [dead] = [
        json.loads(line)
        for line in cli("deliveries", "mod", "--status", "dead").stdout.splitlines()
    ]
    assert (dead["event_id"], dead["last_error"]) == (event_id, "refused")
    assert cli("deliveries", "mod", "--status", "pending").stdout == ""
    shown = json.loads(cli("delivery", str(dead["id"])).stdout)
    assert shown["log"][0]["error"] == "refused"
    again = cli("redeliver", str(dead["id"]))
    assert json.loads(again.stdout) == {"redelivered": [dead["id"]]}
    assert cli("redeliver", str(dead["id"])).exit_code == 2  # pending already


def test_worker_help() -> None:
    shown = runner.invoke(app, ["worker", "--help"])
    assert shown.exit_code == 0
    assert "SIGTERM" in shown.stdout


def test_help_lists_every_event_type() -> None:
    """The help is written out (--help imports no library code): keep it true."""
    shown = runner.invoke(app, ["webhooks", "create", "--help"], terminal_width=200)
    assert all(event in shown.stdout for event in outbox.EVENT_TYPES)
