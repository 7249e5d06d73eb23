"""``hashmatch cybertip ...`` on both engines, filing to a local CyberTipline
simulator: report, list, show (the timeline), xml, retry, retract, status;
mistakes as one line and an exit code; --help everywhere."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner, Result

from hashmatch.cli import app
from hashmatch.cli.context import os_user
from hashmatch.reporting.cybertip.simulator import CybertipSimulator
from hashmatch.store import Database
from tests.reporting_world import (
    CREDENTIALS,
    REPORTER,
    ReportingWorld,
    ScriptedClient,
    reporting_settings,
    simulator,
)

runner = CliRunner()
ME = f"cli:{os_user()}"
Cli = Callable[..., Result]
COMMANDS = ("report", "list", "show", "xml", "retry", "retract", "status")


@pytest.fixture
def ncmec() -> Iterator[CybertipSimulator]:
    with simulator() as server:
        yield server


@pytest.fixture
def world(
    database_url: str, tmp_path: Path, ncmec: CybertipSimulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ReportingWorld]:
    values = {
        **REPORTER,
        "cybertip_url": ncmec.url,
        "cybertip_username": CREDENTIALS[0],
        "cybertip_password": CREDENTIALS[1],
        "url_allow_private": "true",
    }
    settings = reporting_settings(database_url, tmp_path, **values)
    for name, value in {
        **values,
        "media_key_file": settings.media_key_file,
        "evidence_key_file": settings.evidence_key_file,
        "keep_media": "true",
    }.items():
        monkeypatch.setenv(f"HASHMATCH_{name.upper()}", str(value))
    database = Database.open(database_url)
    yield ReportingWorld.make(database, settings, ncmec)
    database.close()


@pytest.fixture
def cli(database_url: str, world: ReportingWorld) -> Cli:
    data_dir = str(world.settings.data_dir)

    def invoke(*args: str) -> Result:
        return runner.invoke(
            app, ["--data-dir", data_dir, "--database-url", database_url, "cybertip", *args]
        )

    return invoke


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def test_report_files_and_show_prints_the_timeline(cli: Cli, world: ReportingWorld) -> None:
    items = world.confirmed(2, user="user-4")
    args = [str(item) for item in items]
    filed = json.loads(ok(cli("report", *args, "--url", "https://example.com/a", "--json")).stdout)
    assert filed["status"] == "finished"
    assert filed["created_by"] == ME
    assert filed["details"]["urls"] == ["https://example.com/a"]
    assert len(world.ncmec.finished_reports()) == 1
    shown = ok(cli("show", str(filed["id"]))).stdout
    assert (
        f"report {filed['id']} (TEST): finished, NCMEC report {filed['ncmec_report_id']}" in shown
    )
    timeline = [line for line in shown.splitlines() if "Request-ID" in line]
    endpoints = [line.split()[2] for line in timeline]
    assert endpoints == [call["endpoint"] for call in filed["calls"]]
    assert endpoints[0] == "submit"
    assert endpoints[-1] == "finish"
    assert endpoints.count("upload") == endpoints.count("fileinfo") == 2
    for call in filed["calls"]:
        assert call["request_id"] in shown
    assert "HTTP 200  code 0" in shown
    again = cli("report", *args)
    assert again.exit_code == 1
    assert again.stderr.startswith("error: ")
    assert "already" in again.stderr


def test_a_draft_lists_prints_its_xml_and_is_filed_by_retry(
    cli: Cli, world: ReportingWorld
) -> None:
    items = world.confirmed(1, user="user-5")
    draft = json.loads(
        ok(cli("report", str(items[0]), "--no-file", "--annotation", "sextortion", "--json")).stdout
    )
    assert draft["status"] == "draft"
    assert world.ncmec.reports == {}
    listed = [json.loads(line) for line in ok(cli("list", "--json")).stdout.splitlines()]
    assert [row["id"] for row in listed] == [draft["id"]]
    assert ok(cli("list", "--status", "finished", "--json")).stdout == ""
    table = ok(cli("list")).stdout
    assert "user-5" in table
    assert "draft" in table
    xml = etree.fromstring(ok(cli("xml", str(draft["id"]))).stdout.encode())
    assert xml.findtext(".//espIdentifier") == "user-5"
    retried = ok(cli("retry", str(draft["id"]))).stdout
    assert "finished" in retried.splitlines()[0]


def test_retry_of_a_failure_and_retract(cli: Cli, world: ReportingWorld) -> None:
    world.ncmec.fail_next("code:4100")
    failed = cli("report", str(world.confirmed(1)[0]), "--json")
    assert failed.exit_code == 1
    report = json.loads(failed.stdout)
    assert report["status"] == "failed"
    assert report["error_kind"] == "invalid"
    assert "code 4100" in ok(cli("show", str(report["id"]))).stdout
    assert "finished" in ok(cli("retry", str(report["id"]))).stdout.splitlines()[0]
    refused = cli("retract", str(report["id"]))
    assert refused.exit_code != 0
    assert "finished" in refused.stderr

    reports = world.reports()
    open_id = reports.draft(world.confirmed(1, user="user-6"), actor="user:alice")
    client = reports.client
    assert isinstance(client, ScriptedClient)
    client.before("upload", lambda: world.ncmec.fail_next("code:4000"))
    assert reports.file(open_id)["status"] == "failed"
    retracted = json.loads(ok(cli("retract", str(open_id), "--json")).stdout)
    assert retracted["status"] == "retracted"


def test_status_says_the_environment_and_whether_credentials_work(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    working = ok(cli("status")).stdout
    assert "TEST environment" in working
    assert "credentials work" in working
    assert "Request-ID" in working
    monkeypatch.setenv("HASHMATCH_CYBERTIP_PASSWORD", "wrong")
    refused = cli("status")
    assert refused.exit_code == 1
    assert "credentials NOT working" in refused.stdout
    assert "wrong" not in refused.stdout.replace("NOT working", "")


def test_mistakes_are_one_line_and_an_exit_code(cli: Cli) -> None:
    unknown = cli("show", "424242")
    assert unknown.exit_code == 1
    assert unknown.stderr.strip().count("\n") == 0
    assert "424242" in unknown.stderr
    assert cli("xml", "0").exit_code == 2
    assert cli("report").exit_code == 2


def test_every_command_has_help() -> None:
    for command in COMMANDS:
        result = runner.invoke(app, ["cybertip", command, "--help"])
        assert result.exit_code == 0, command
        assert "Usage" in result.stdout
    listing = runner.invoke(app, ["cybertip", "--help"]).stdout
    assert all(command in listing for command in COMMANDS)
