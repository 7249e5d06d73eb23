"""``hashmatch report transparency``: the period's figures as JSON, CSV or HTML."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from hashmatch.cli import app
from hashmatch.store import Database
from hashmatch.store.models import utcnow
from tests.transparency_world import EXPECTED, build_world

runner = CliRunner()


@pytest.fixture
def world(database: Database, database_url: str) -> str:
    build_world(database)
    return database_url


def invoke(database_url: str, *args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(
        app, ["--database-url", database_url, "report", "transparency", *args], env=env
    )


def test_json_on_stdout_by_default(world: str) -> None:
    result = invoke(world, "--period", "2026-Q3")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["period"]["name"] == "2026-Q3"
    assert report["figures"]["cybertip_reports"] == EXPECTED["cybertip_reports"]
    assert report["instance"] == {"name": None}


def test_the_instance_name_comes_from_the_settings(world: str) -> None:
    env = {"HASHMATCH_TRANSPARENCY_INSTANCE_NAME": "Example Photos"}
    result = invoke(world, "--period", "2026-Q3", env=env)
    assert json.loads(result.stdout)["instance"] == {"name": "Example Photos"}


def test_csv_rows(world: str) -> None:
    result = invoke(world, "--period", "2026-Q3", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    submissions = next(r for r in rows if r["name"] == "submissions" and r["key"] == "")
    assert (submissions["value"], submissions["previous"], submissions["change_percent"]) == (
        "4",
        "2",
        "100.0",
    )


def test_html_to_a_file(world: str, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = invoke(world, "--period", "2026-07", "--format", "html", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    page = out.read_text()
    assert "<svg" in page
    assert "Transparency report 2026-07" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026-Q5"], "2026-Q5"),
        (["--period", "last year"], "give a year (2026)"),
        (["--period", "2026", "--format", "pdf"], "format 'pdf'"),
    ],
)
def test_mistakes_exit_2_with_a_message(world: str, args: list[str], message: str) -> None:
    result = invoke(world, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_help_names_the_formats() -> None:
    result = runner.invoke(app, ["report", "transparency", "--help"])
    assert result.exit_code == 0
    for word in ("--period", "--format", "json", "csv", "html", "--out"):
        assert word in result.stdout


def test_hashmatch_match_counts_its_lookups(database_url: str, database: Database) -> None:
    hashes = ["--hash", f"md5:{'0' * 32}", "--hash", f"md5:{'1' * 32}"]
    result = runner.invoke(app, ["--database-url", database_url, "match", *hashes])
    assert result.exit_code == 0, result.output
    month = utcnow().strftime("%Y-%m")
    report = invoke(database_url, "--period", month)
    assert json.loads(report.stdout)["figures"]["content_scanned"]["lookups"]["value"] == 2
