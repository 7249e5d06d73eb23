"""``hashmatch hub report|annual-report|totals|forums|templates``: a member
instance (its own SQLite file) talking to an in-process hub on each engine,
and the hub's admin commands against the hub's database."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner, Result

from hashmatch.actions.rule_store import Rules
from hashmatch.cli import app, hub_report_command
from hashmatch.exchange.http import HttpStatusError
from hashmatch.hub.hub_client import HubClient
from hashmatch.hub.keys import generate_signing_key
from hashmatch.store import Database
from tests.test_api_hub import Hub, open_hub
from tests.test_hub_templates import RULE

runner = CliRunner()


class InProcess:
    """Sends as PageClient does, to the hub app in this process."""

    def __init__(self, http: TestClient) -> None:
        self.http = http

    def send(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str] | None = None
    ) -> bytes:
        assert url.startswith("https://hub.example.org/v1/hub/")
        answer = self.http.request(
            method, url.removeprefix("https://hub.example.org"), content=body, headers=headers
        )
        if answer.status_code >= 300:
            raise HttpStatusError(f"HTTP {answer.status_code}", answer.status_code, answer.content)
        return answer.content


@pytest.fixture
def hub(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    for hub in open_hub(database_url, tmp_path):
        sender = InProcess(hub.http)
        monkeypatch.setattr(
            hub_report_command,
            "hub_client",
            lambda _ctx, url, api_key, sender=sender: HubClient(url, api_key, sender),
        )
        yield hub


@pytest.fixture
def member(hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Member 1 with a registered key, its key file and hub settings in the environment."""
    hub.member(1)
    private_pem, public_text = generate_signing_key()
    added = hub.http.post(
        "/v1/hub/me/keys", headers=hub.as_("member1"), json={"public_key": public_text}
    )
    assert added.status_code == 201, added.text
    key_file = tmp_path / "signing.pem"
    key_file.write_text(private_pem)
    monkeypatch.setenv("HASHMATCH_HUB_URL", "https://hub.example.org")
    monkeypatch.setenv("HASHMATCH_HUB_API_KEY", hub.secrets["member1"])
    monkeypatch.setenv("HASHMATCH_HUB_SIGNING_KEY_FILE", str(key_file))
    return tmp_path / "member.db"


def _member(database: Path, *args: str) -> Result:
    return runner.invoke(app, ["--database-url", f"sqlite:///{database}", "hub", *args])


def _hub(database_url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.setenv("HASHMATCH_HUB_ENABLED", "true")
    return runner.invoke(app, ["--database-url", database_url, "hub", *args])


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_member_reports_and_the_hub_builds_the_annual_report(
    hub: Hub, member: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    said = ok(_member(member, "report", "--period", "2026", "--publish"))
    assert said.startswith("sent 2026 to the hub as Example Photos 1: received")
    assert "replaced the earlier one" in ok(_member(member, "report", "--period", "2026"))
    ok(_hub(database_url, monkeypatch, "totals", "set", "--period", "2026", "--source",
            "NCMEC CyberTipline", "--total", "1000"))  # fmt: skip
    said = ok(_hub(database_url, monkeypatch, "forums", "add", "--date", "2026-05-04", "--title",
                   "Spring forum", "--participants", "80", "--countries", "GB,us,GB"))  # fmt: skip
    assert said.endswith("80 participants from 2 countries\n")
    out = tmp_path / "coalition.html"
    ok(_hub(database_url, monkeypatch, "annual-report", "--period", "2026", "--format", "html",
            "--out", str(out)))  # fmt: skip
    page = out.read_text()
    assert "1 forums, 80 participants from 2 countries" in page
    assert page.count("<svg") == 3
    made: dict[str, Any] = json.loads(
        ok(_hub(database_url, monkeypatch, "annual-report", "--period", "2026"))
    )
    assert made["members"] == {"total": 1, "new": 1, "reporting": 1}
    assert made["per_member"][0]["published"] is False  # the resend did not publish


def test_bad_input_is_a_message_not_a_traceback(
    hub: Hub, member: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wrong_key = tmp_path / "other.pem"
    wrong_key.write_text(generate_signing_key()[0])
    refused = _member(member, "report", "--period", "2026", "--key-file", str(wrong_key))
    assert refused.exit_code == 1
    assert "the hub refused (422): no member registered the signing key" in refused.stderr
    soon = _member(member, "report", "--period", "soon")
    assert (soon.exit_code, soon.stderr[:24]) == (1, "error: period 'soon' is ")
    not_pem = tmp_path / "garbage.pem"
    not_pem.write_text("hello")
    assert (
        "error:" in _member(member, "report", "--period", "2026", "--key-file", str(not_pem)).stderr
    )
    bad_date = _hub(database_url, monkeypatch, "forums", "add", "--date", "May 4", "--title", "x",
                    "--participants", "1")  # fmt: skip
    assert (bad_date.exit_code, bad_date.stderr) == (2, "error: --date 'May 4' is not YYYY-MM-DD\n")
    monkeypatch.setenv("HASHMATCH_HUB_ENABLED", "false")
    off = runner.invoke(
        app, ["--database-url", database_url, "hub", "annual-report", "--period", "2026"]
    )
    assert off.exit_code == 2
    assert "not a hub" in off.stderr


def test_templates_are_published_browsed_and_imported_disabled(
    hub: Hub, member: Path, tmp_path: Path
) -> None:
    rule_file = tmp_path / "review-pdq.json"
    rule_file.write_text(json.dumps(RULE))
    said = ok(_member(member, "templates", "publish", str(rule_file), "--description", "PDQ"))
    assert said == "published rule template 1: review-pdq\n"
    playbook = tmp_path / "first-day.md"
    playbook.write_text("# First day\n")
    ok(_member(member, "templates", "publish", str(playbook)))
    listed = ok(_member(member, "templates", "list"))
    assert "playbook  first-day" in listed
    assert "rule      review-pdq" in listed
    assert json.loads(ok(_member(member, "templates", "show", "1")))["body"]["name"] == "review-pdq"
    said = ok(_member(member, "templates", "import", "1"))
    assert "as rule 'review-pdq', disabled" in said
    database = Database.open(f"sqlite:///{member}")
    try:
        assert Rules(database).get("review-pdq").spec.enabled is False
    finally:
        database.close()
    again = _member(member, "templates", "import", "1")
    assert again.exit_code == 2
    assert "already exists" in again.stderr
    assert "not a rule template" in _member(member, "templates", "import", "2").stderr
    ok(_member(member, "templates", "import", "1", "--name", "review-pdq-2"))
