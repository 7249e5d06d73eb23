"""``hashmatch rules`` through the CLI, on both engines."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import select
from typer.testing import CliRunner

from hashmatch.cli import app
from hashmatch.store import Database
from hashmatch.store.models import AuditEntry
from hashmatch.store.workflow import Submission
from tests.test_cli_startup import HEAVY, imported

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
DEFAULT = "review-any-match"
runner = CliRunner()
Cli = Callable[..., Result]


@pytest.fixture
def cli(database_url: str) -> Cli:
    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, ["--database-url", database_url, *args], input=input)

    return invoke


def names(cli: Cli) -> list[str]:
    listed = cli("rules", "list")
    assert listed.exit_code == 0, listed.output
    return [json.loads(line)["name"] for line in listed.stdout.splitlines()]


def write(path: Path, rule: dict[str, Any]) -> str:
    path.write_text(json.dumps(rule))
    return str(path)


def test_the_default_rule_is_turned_off_by_one_command(cli: Cli, database_url: str) -> None:
    assert names(cli) == [DEFAULT]
    disabled = cli("rules", "disable", DEFAULT)
    assert disabled.exit_code == 0, disabled.output
    assert json.loads(disabled.stdout)["enabled"] is False
    assert json.loads(cli("rules", "show", DEFAULT).stdout)["enabled"] is False
    assert json.loads(cli("rules", "enable", DEFAULT).stdout)["enabled"] is True
    database = Database.open(database_url)
    with database.reading() as session:
        query = select(AuditEntry.action, AuditEntry.target, AuditEntry.actor).where(
            AuditEntry.action.startswith("rule.")
        )
        entries = [tuple(row) for row in session.execute(query.order_by(AuditEntry.seq))]
    database.close()
    assert [(action, target) for action, target, _ in entries] == [
        ("rule.disable", f"rule:{DEFAULT}"),
        ("rule.enable", f"rule:{DEFAULT}"),
    ]
    assert all(actor.startswith("cli:") for _, _, actor in entries)  # the OS user


def test_rule_lifecycle_from_files_and_stdin(cli: Cli, tmp_path: Path) -> None:
    assert cli("bank", "create", "known", "-l", "A1").exit_code == 0
    assert cli("bank", "add", "known", "--hash", f"pdq:{PDQ}").exit_code == 0
    rule = {"name": "block-known", "when": {"banks": ["known"]}, "then": [{"action": "block"}]}
    created = cli("rules", "create", "--file", write(tmp_path / "rule.json", rule))
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["then"] == [{"action": "block"}]
    again = cli("rules", "create", "--file", "-", input=json.dumps(rule))
    assert again.exit_code == 2
    assert "a rule named 'block-known' already exists" in again.stderr
    assert names(cli) == ["block-known", DEFAULT]

    tried = cli("rules", "test", "--hash", f"pdq:{PDQ}")
    assert tried.exit_code == 0, tried.output
    decision = json.loads(tried.stdout)
    assert (decision["verdict"], decision["fired_rules"]) == ("block", ["block-known", DEFAULT])
    assert [m["bank"] for m in decision["matches"]] == ["known"]

    renamed = {**rule, "name": "review-known", "then": [{"action": "review", "queue": "q"}]}
    updated = cli("rules", "update", "block-known", "-f", "-", input=json.dumps(renamed))
    assert updated.exit_code == 0, updated.output
    assert names(cli) == ["review-known", DEFAULT]  # priority 0 runs before 100
    alone = cli("rules", "test", "--hash", f"pdq:{PDQ}", "--file", write(tmp_path / "b", rule))
    assert json.loads(alone.stdout)["fired_rules"] == ["block-known"]
    assert names(cli) == ["review-known", DEFAULT]  # tried, not stored

    deleted = cli("rules", "delete", "review-known")
    assert json.loads(deleted.stdout) == {"deleted": "review-known"}
    missing = cli("rules", "show", "review-known")
    assert (missing.exit_code, missing.stderr) == (2, "error: no rule named 'review-known'\n")


def test_a_dry_run_on_a_stored_submission(cli: Cli, database_url: str) -> None:
    database = Database.open(database_url)
    with database.transaction() as session:
        submission = Submission(
            content_ref="u1",
            content_type="photo",
            matches=[{"bank": "gone", "signal_type": "pdq", "distance": 2, "suppressed": False}],
            verdict="allow",
            actor="cli:test",
        )
        session.add(submission)
        session.flush()
        submission_id = submission.id
    database.close()
    tried = cli("rules", "test", "--submission", str(submission_id))
    assert tried.exit_code == 0, tried.output
    decision = json.loads(tried.stdout)
    # The bank was deleted since: it is no "match" bank, so the default rule holds back.
    assert (decision["verdict"], decision["content_type"]) == ("allow", "photo")
    unknown = cli("rules", "test", "--submission", str(submission_id + 1))
    assert unknown.exit_code == 2
    assert f"no submission {submission_id + 1}" in unknown.stderr


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("{", "not valid JSON"),
        ('{"name": "x"}', "then: Field required"),
        ('{"name": "x", "then": [{"action": "block"}], "colour": 1}', "colour"),
        (
            '{"name": "x", "when": {"banks": ["lost"]}, "then": [{"action": "block"}]}',
            "banks that do not exist: lost",
        ),
        (
            '{"name": "x", "then": [{"action": "webhook", "webhook": "ops"}]}',
            "names webhooks that do not exist: ops",
        ),
    ],
)
def test_a_bad_rule_file_is_an_error_naming_the_file(
    cli: Cli, tmp_path: Path, text: str, complaint: str
) -> None:
    path = tmp_path / "rule.json"
    path.write_text(text)
    result = cli("rules", "create", "--file", str(path))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert complaint in result.stderr
    if "exist" not in complaint:
        assert result.stderr.startswith(f"error: {path}: ")
    assert names(cli) == [DEFAULT]


def test_usage_errors(cli: Cli, tmp_path: Path) -> None:
    neither = cli("rules", "test")
    assert neither.exit_code == 2
    assert "give either --submission ID or --hash TYPE:HASH" in neither.stderr
    both = cli("rules", "test", "--submission", "1", "--hash", f"pdq:{PDQ}")
    assert both.exit_code == 2
    missing = cli("rules", "create", "--file", str(tmp_path / "none.json"))
    assert missing.exit_code == 2
    assert f"error: {tmp_path / 'none.json'}: cannot read the rule" in missing.stderr
    bad_hash = cli("rules", "test", "--hash", "pdq:nope")
    assert bad_hash.exit_code == 2


def test_rules_help_imports_no_heavy_library() -> None:
    assert imported("rules", "--help").isdisjoint(HEAVY)
