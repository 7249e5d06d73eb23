"""/v1/statements on both engines: listed with filters and pages, shown with
the statement as built and the API's stored answer, a failed one sent again
(once, however many ask at once), keys without the scope refused, bad
input answered 4xx; and ``hashmatch statements list|resend``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from hashmatch import audit
from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.cli import app as cli
from hashmatch.errors import StatementError
from hashmatch.settings import Settings
from hashmatch.statements import build
from hashmatch.statements.records import resend
from hashmatch.statements.simulator import TransparencyDatabaseSimulator
from hashmatch.store import Database
from hashmatch.store.models import AuditEntry, utcnow
from hashmatch.store.statement_models import Statement
from tests.interleaving import PATIENCE, PausedInside, SecondWriter, run_together, started
from tests.test_statements import TOKEN, add_statements, restriction, sender, settings_for


class Api:
    def __init__(self, http: TestClient, keys: dict[str, str]) -> None:
        self.http, self.keys = http, keys

    def call(self, method: str, path: str, key: str | None = "report", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[key]}"} if key else {}
        return self.http.request(method, path, headers=headers, **kwargs)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return settings_for(database_url, tmp_path)


@pytest.fixture
def api(database: Database, settings: Settings) -> Iterator[Api]:
    keys = ApiKeys(database)
    secrets = {scope: keys.create(scope, [scope])[0] for scope in ("report", "admin", "submit")}
    # Statements off in the app: no background sender races the tests for
    # the rows they make (with the settings that have them on).
    app = create_app(settings.model_copy(update={"dsa_statements_enabled": False}))
    with TestClient(app, raise_server_exceptions=False) as http:
        app.state.service.wait_until_loaded(60)
        yield Api(http, secrets)


def fail(database: Database, statement_id: int, errors: dict[str, Any] | None = None) -> None:
    with database.transaction() as session:
        session.execute(
            update(Statement)
            .where(Statement.id == statement_id)
            .values(
                status="failed",
                attempts=3,
                last_error="422: category is invalid",
                response={"errors": errors or {"category": ["The selected category is invalid."]}},
            )
        )


def error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    return str(response.json()["error"]["message"])


def test_statements_are_listed_filtered_and_paged(
    api: Api, database: Database, settings: Settings
) -> None:
    ids = add_statements(database, settings, 5)
    with database.transaction() as session:
        build.record(session, settings, restriction(99, kind="review"), submission_id=1)
    fail(database, ids[1])
    listed = api.call("GET", "/v1/statements").json()
    assert len(listed["statements"]) == 6
    assert listed["next_before"] is None
    assert "statement" not in listed["statements"][0]  # the list carries the state only
    failed = api.call("GET", "/v1/statements", params={"status": "failed"}).json()
    assert [s["id"] for s in failed["statements"]] == [ids[1]]
    reviews = api.call("GET", "/v1/statements", params={"decision_kind": "review"}).json()
    assert [(s["decision_kind"], s["decision_id"]) for s in reviews["statements"]] == [
        ("review", 99)
    ]
    first = api.call("GET", "/v1/statements", params={"limit": 4}).json()
    assert len(first["statements"]) == 4
    rest = api.call("GET", "/v1/statements", params={"before": first["next_before"]}).json()
    assert [s["id"] for s in first["statements"] + rest["statements"]] == sorted(
        [*ids, ids[-1] + 1], reverse=True
    )
    later = (utcnow() + timedelta(minutes=5)).isoformat()
    assert api.call("GET", "/v1/statements", params={"since": later}).json()["statements"] == []
    earlier = (utcnow() - timedelta(minutes=5)).isoformat()
    assert (
        len(api.call("GET", "/v1/statements", params={"since": earlier}).json()["statements"]) == 6
    )


def test_one_statement_shows_what_was_built_and_what_the_api_said(
    api: Api, database: Database, settings: Settings
) -> None:
    [statement_id] = add_statements(database, settings, 1)
    fail(database, statement_id)
    shown = api.call("GET", f"/v1/statements/{statement_id}")
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["status"] == "failed"
    assert body["statement"]["puid"] == body["puid"] == "hashmatch-verdict-1"
    assert body["statement"]["decision_ground"]
    assert body["response"] == {"errors": {"category": ["The selected category is invalid."]}}
    error(api.call("GET", "/v1/statements/999"), 404, "unknown_statement")


def test_a_failed_statement_is_sent_again_and_then_sent(
    api: Api, database: Database, settings: Settings
) -> None:
    first, second = add_statements(database, settings, 2)
    fail(database, first)
    resent = api.call("POST", f"/v1/statements/{first}/resend")
    assert resent.status_code == 200, resent.text
    assert (resent.json()["status"], resent.json()["attempts"]) == ("pending", 0)
    with database.reading() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "statement.resend")
        ).one()
        assert (entry.target, entry.actor) == (f"statement:{first}", "key:report")
    # Only a failed one: pending, sent or resent already is a conflict.
    message = error(api.call("POST", f"/v1/statements/{first}/resend"), 409, "statement_conflict")
    assert message == f"statement {first} is pending: only a failed one is sent again"
    error(api.call("POST", f"/v1/statements/{second}/resend"), 409, "statement_conflict")
    error(api.call("POST", "/v1/statements/999/resend"), 404, "unknown_statement")
    with TransparencyDatabaseSimulator(token=TOKEN) as simulator:
        assert sender(simulator, database, "a").run_once()["sent"] == 2
    shown = api.call("GET", f"/v1/statements/{first}").json()
    assert shown["status"] == "sent"
    assert shown["response"]["uuid"]


def test_keys_without_the_scope_are_refused(
    api: Api, database: Database, settings: Settings
) -> None:
    [statement_id] = add_statements(database, settings, 1)
    fail(database, statement_id)
    for method, path in (
        ("GET", "/v1/statements"),
        ("GET", f"/v1/statements/{statement_id}"),
        ("POST", f"/v1/statements/{statement_id}/resend"),
    ):
        assert api.call(method, path, key=None).status_code == 401
        assert api.call(method, path, key="submit").status_code == 403
    assert api.call("GET", "/v1/statements", key="admin").status_code == 200


#: Filters a list refuses: (query, status, error code).
BAD_FILTERS: list[tuple[dict[str, Any], int, str]] = [
    ({"status": "bogus"}, 400, "invalid_field"),
    ({"decision_kind": "verdicts"}, 400, "invalid_field"),
    ({"since": "yesterday"}, 400, "invalid_field"),
    ({"since": "2026-07-01T00:00:00"}, 400, "invalid_field"),  # no offset
    ({"since": "x" * 65}, 422, "invalid_request"),
    ({"limit": 0}, 422, "invalid_request"),
    ({"limit": 501}, 422, "invalid_request"),
    ({"before": -1}, 422, "invalid_request"),
    ({"before": 2**63}, 422, "invalid_request"),
    ({"status": "\x00"}, 400, "bad_request"),
]


def test_bad_filters_and_ids_are_answered_4xx(api: Api) -> None:
    for params, status, code in BAD_FILTERS:
        response = api.call("GET", "/v1/statements", params=params)
        assert response.status_code == status, (params, response.text)
        assert response.json()["error"]["code"] == code, params
    for path in ("/v1/statements/-1", f"/v1/statements/{2**63}", "/v1/statements/x"):
        assert api.call("GET", path).status_code == 422
        assert api.call("POST", f"{path}/resend").status_code == 422


# -- two resends at once -----------------------------------------------------------


def test_two_resends_at_once_one_wins_and_the_other_is_told(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first is held inside its transaction after its update; the
    second's update waits for it (SQLite: the write lock; PostgreSQL: the
    row lock, then reads the row again), finds it pending, and is refused."""
    [statement_id] = add_statements(database, settings, 1)
    fail(database, statement_id)
    paused = PausedInside(monkeypatch, audit, "record")
    watcher = SecondWriter(database, monkeypatch)
    results: dict[str, Any] = {}
    one = started(lambda: resend(database, statement_id), "first", results)
    assert paused.reached.wait(PATIENCE)
    two = started(lambda: resend(database, statement_id), "second", results)
    watcher.wait_until_blocked(two)
    paused.release()
    one.join(PATIENCE)
    two.join(PATIENCE)
    assert results["first"]["status"] == "pending"
    assert isinstance(results["second"], StatementError)
    assert "is pending" in str(results["second"])


def test_many_resends_at_once_put_it_back_once(database: Database, settings: Settings) -> None:
    """Bounded stress: 3 failed statements, 6 threads resending each of them:
    each statement goes back exactly once, with one audit entry."""
    ids = add_statements(database, settings, 3)
    for statement_id in ids:
        fail(database, statement_id)
    outcomes: list[tuple[int, bool]] = []

    def work(name: str) -> None:
        for statement_id in ids:
            try:
                resend(database, statement_id)
                outcomes.append((statement_id, True))
            except StatementError:
                outcomes.append((statement_id, False))

    run_together(work, [f"w{n}" for n in range(6)])
    assert sorted(i for i, won in outcomes if won) == ids
    assert len(outcomes) == 18
    with database.reading() as session:
        entries = session.scalars(
            select(AuditEntry.target).where(AuditEntry.action == "statement.resend")
        ).all()
        statuses = session.scalars(select(Statement.status)).all()
    assert sorted(entries) == sorted(f"statement:{i}" for i in ids)
    assert set(statuses) == {"pending"}


# -- the CLI -----------------------------------------------------------------------


def test_the_cli_lists_with_filters_and_resends(
    database: Database,
    settings: Settings,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = add_statements(database, settings, 3)
    fail(database, ids[0])
    runner = CliRunner()
    monkeypatch.setenv("HASHMATCH_DATABASE_URL", database_url)
    monkeypatch.setenv("HASHMATCH_DATA_DIR", str(tmp_path / "data"))

    def run(*args: str) -> Any:
        return runner.invoke(cli, list(args))

    listed = run("statements", "list", "--status", "failed", "--decision-kind", "verdict", "--json")
    assert listed.exit_code == 0, listed.output
    assert [json.loads(line)["id"] for line in listed.output.splitlines()] == [ids[0]]
    paged = run("statements", "list", "--before", str(ids[2]), "--json")
    assert [json.loads(line)["id"] for line in paged.output.splitlines()] == [ids[1], ids[0]]
    later = (utcnow() + timedelta(minutes=5)).isoformat()
    assert run("statements", "list", "--since", later).output.strip() == "no statements"
    bad = run("statements", "list", "--since", "soon")
    assert bad.exit_code != 0
    assert "--since must be an RFC 3339 date and time" in bad.output
    assert "Traceback" not in bad.output
    assert run("statements", "list", "--decision-kind", "nope").exit_code != 0
    resent = run("statements", "resend", str(ids[0]))
    assert resent.exit_code == 0, resent.output
    assert json.loads(resent.output)["status"] == "pending"
    again = run("statements", "resend", str(ids[0]))
    assert again.exit_code == 1
    assert f"statement {ids[0]} is pending" in again.output
    assert run("statements", "resend", "999").exit_code == 1
