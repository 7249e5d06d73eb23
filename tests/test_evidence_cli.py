"""``hashmatch evidence ...`` on both engines: list, show, export, hold,
release, purge-due; each access audited as the OS user."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from hashmatch import audit
from hashmatch.cli import app
from hashmatch.cli.context import os_user
from hashmatch.reporting.evidence import Evidence
from hashmatch.reporting.evidence.export import check_zip
from hashmatch.store import Database
from tests.evidence_world import evidence_settings, long_ago, preserved

runner = CliRunner()
ME = f"cli:{os_user()}"
Cli = Callable[..., Result]


@pytest.fixture
def evidence(
    database: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Evidence:
    settings = evidence_settings(tmp_path, database_url)
    monkeypatch.setenv("HASHMATCH_EVIDENCE_KEY_FILE", str(settings.evidence_key_file))
    return Evidence(database, settings)


@pytest.fixture
def cli(database_url: str, evidence: Evidence) -> Cli:
    data_dir = str(evidence.settings.data_dir)

    def invoke(*args: str) -> Result:
        return runner.invoke(
            app, ["--data-dir", data_dir, "--database-url", database_url, "evidence", *args]
        )

    return invoke


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def json_lines(result: Result) -> list[Any]:
    return [json.loads(line) for line in ok(result).stdout.splitlines()]


def test_list_show_and_export(cli: Cli, evidence: Evidence, tmp_path: Path) -> None:
    package_id = preserved(evidence)
    assert ok(cli("list")).stdout.count("│ kept ") == 1
    [listed] = json_lines(cli("list", "--json"))
    assert listed["id"] == package_id
    assert listed["object_count"] == 3
    shown = json.loads(ok(cli("show", str(package_id), "--json")).stdout)
    assert [entry["name"] for entry in shown["manifest"]] == [
        "1-picture.png",
        "report.xml",
        "ncmec-responses.json",
    ]
    text = ok(cli("show", str(package_id))).stdout
    assert shown["manifest"][0]["sha256"] in text
    written = Path(ok(cli("export", str(package_id), "--to", str(tmp_path / "out"))).stdout.strip())
    assert written == tmp_path / "out" / f"evidence-{package_id}.zip"
    assert check_zip(io.BytesIO(written.read_bytes())) == []
    with evidence.database.reading() as session:
        actions = [e.action for e in audit.find(session, actor=ME)]
    assert actions == [
        *["evidence.list"] * 2,
        *["evidence.view"] * 2,
        "evidence.export",
    ]


def test_hold_release_and_purge(cli: Cli, evidence: Evidence) -> None:
    package_id = preserved(evidence, finished_at=long_ago())
    assert [p["id"] for p in json_lines(cli("list", "--due", "--json"))] == [package_id]
    assert "placed" in ok(cli("hold", str(package_id), "--reason", "case 9")).stdout
    assert json_lines(cli("list", "--due", "--json")) == []
    assert json.loads(ok(cli("purge-due", "--json")).stdout) == {"purged": []}
    hold_id = evidence.show(package_id, actor="t")["holds"][0]["id"]
    assert "released" in ok(cli("release", str(hold_id))).stdout
    assert json.loads(ok(cli("purge-due", "--json")).stdout) == {"purged": [package_id]}
    assert "purged 0" in ok(cli("purge-due")).stdout
    with evidence.database.reading() as session:
        [purge] = audit.find(session, action="evidence.purge")
    assert purge.actor == ME


def test_mistakes_are_one_line_and_an_exit_code(cli: Cli, evidence: Evidence) -> None:
    package_id = preserved(evidence)
    missing = cli("show", "999")
    assert missing.exit_code == 1
    assert missing.stderr.strip() == "error: no evidence package 999"
    blank = cli("hold", str(package_id), "--reason", " ")
    assert blank.exit_code == 1
    assert "reason" in blank.stderr
    assert cli("hold", str(package_id), "--reason", "x", "--until", "soon").exit_code == 2
    assert cli("release", "999").exit_code == 1


def test_every_command_has_help() -> None:
    for command in ("list", "show", "export", "hold", "release", "purge-due"):
        result = runner.invoke(app, ["evidence", command, "--help"])
        assert result.exit_code == 0, result.output
    assert "purge-due" in runner.invoke(app, ["evidence", "--help"]).stdout
