"""Transparency figures from a small world with known counts (tests/transparency_world.py),
on both engines; the JSON against its schema, the CSV's fields, the HTML's charts."""

from __future__ import annotations

import csv
import io
import json
from importlib import resources
from typing import Any

import jsonschema
import pytest

from hashmatch.reporting.transparency.figures import change_percent, median, transparency
from hashmatch.reporting.transparency.formats import CSV_FIELDS, as_csv, as_html, as_json
from hashmatch.reporting.transparency.periods import parse_period
from hashmatch.store import Database
from tests.transparency_world import EXPECTED, build_world


@pytest.fixture
def report(database: Database) -> dict[str, Any]:
    build_world(database)
    return transparency(database, parse_period("2026-Q3"), instance_name="Example")


def schema() -> dict[str, Any]:
    location = resources.files("hashmatch.reporting.transparency") / "schema.json"
    loaded: dict[str, Any] = json.loads(location.read_text())
    return loaded


@pytest.mark.parametrize("section", sorted(EXPECTED))
def test_every_figure_of_a_section(report: dict[str, Any], section: str) -> None:
    assert report["figures"][section] == EXPECTED[section]


def test_header_names_the_period_and_schema(report: dict[str, Any]) -> None:
    assert report["schema_version"] == 1
    assert report["schema"].startswith("https://hashmatch.dev/schemas/transparency/")
    assert report["instance"] == {"name": "Example"}
    assert report["period"] == {
        "name": "2026-Q3",
        "kind": "quarter",
        "start": "2026-07-01T00:00:00+00:00",
        "end": "2026-10-01T00:00:00+00:00",
        "previous": "2026-Q2",
    }


def test_monthly_trend(report: dict[str, Any]) -> None:
    names = ("submissions", "lookups", "matched_submissions", "matches", "reports_filed")
    expected = {"2026-07": (2, 5, 1, 1, 0), "2026-08": (1, 7, 1, 1, 0), "2026-09": (1, 0, 0, 0, 1)}
    assert report["monthly"] == [
        {"month": month, **dict(zip(names, values, strict=True))}
        for month, values in expected.items()
    ]


def test_an_empty_database_reports_zeros_with_every_name(database: Database) -> None:
    empty = transparency(database, parse_period("2026-07"))
    assert empty["figures"]["content_scanned"]["submissions"] == {
        "value": 0,
        "previous": 0,
        "change_percent": None,
    }
    assert empty["figures"]["medians_seconds"]["upload_to_verdict"]["value"] is None
    assert set(empty["figures"]) == set(EXPECTED)
    jsonschema.validate(empty, schema())


def test_a_year_compares_with_the_year_before(database: Database) -> None:
    build_world(database)
    year = transparency(database, parse_period("2026"))
    # Q1's last submission, Q2's two, Q3's four, Q4's first; 2025 had none.
    assert year["figures"]["content_scanned"]["submissions"] == {
        "value": 8,
        "previous": 0,
        "change_percent": None,
    }
    assert [m["month"] for m in year["monthly"]][::11] == ["2026-01", "2026-12"]


def test_json_validates_against_the_schema(report: dict[str, Any]) -> None:
    jsonschema.validate(json.loads(as_json(report)), schema())


def test_the_schema_rejects_a_renamed_figure(report: dict[str, Any]) -> None:
    broken = json.loads(as_json(report))
    broken["figures"]["cybertip_reports"]["reports"] = broken["figures"]["cybertip_reports"].pop(
        "filed"
    )
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema())


def test_csv_has_one_row_per_figure(report: dict[str, Any]) -> None:
    rows = list(csv.DictReader(io.StringIO(as_csv(report))))
    assert list(rows[0]) == list(CSV_FIELDS)
    filed = [r for r in rows if (r["section"], r["name"]) == ("cybertip_reports", "filed")]
    assert filed == [
        {
            "period": "2026-Q3",
            "section": "cybertip_reports",
            "name": "filed",
            "key": "",
            "value": "1",
            "previous": "1",
            "change_percent": "0.0",
        }
    ]
    label = next(r for r in rows if r["name"] == "by_label" and r["key"] == "a1")
    assert (label["value"], label["previous"], label["change_percent"]) == ("1", "0", "")


def test_html_has_charts_with_tables_beside_them(report: dict[str, Any]) -> None:
    page = as_html(report)
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") >= 2
    assert page.count("<title") >= 3  # the page's and each chart's
    assert "<desc" in page
    assert "<script" not in page
    assert "2026-Q3" in page
    assert "+100%" in page
    assert page.count("<table") >= 3


def test_html_escapes_names_from_the_data(database: Database) -> None:
    build_world(database)
    report = transparency(database, parse_period("2026-Q3"), instance_name="<b>x</b>")
    assert "<b>x</b>" not in as_html(report)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], None),
        ([(5, 1)], 5),
        ([(1, 1), (3, 1)], 2),
        ([(1, 2), (9, 1)], 1),
        ([(4, 2), (2, 2)], 3),
    ],
)
def test_median_of_a_histogram(values: list[tuple[int, int]], expected: float | None) -> None:
    assert median(values) == expected


def test_change_percent() -> None:
    assert change_percent(129, 100) == 29.0
    assert change_percent(5, 0) is None
    assert change_percent(0, 4) == -100.0
