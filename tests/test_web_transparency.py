"""The transparency page under /ui/transparency, on both engines."""

from __future__ import annotations

import json

from hashmatch.reporting.transparency.periods import period_containing
from hashmatch.store.models import utcnow
from hashmatch.web.transparency import suggested_periods
from tests.transparency_world import EXPECTED, build_world
from tests.web_ui import Ui


def test_the_report_inside_the_layout(ui: Ui) -> None:
    build_world(ui.service.database)
    ui.sign_in("viewer")
    page = ui.get("/ui/transparency", params={"period": "2026-Q3"})
    assert page.status_code == 200
    html = page.text
    assert 'href="/ui/transparency"' in html  # the navigation entry
    assert "Transparency report 2026-Q3" in html
    assert html.count("<svg") == 2
    assert "<desc" in html
    assert "Reported files by classification" in html
    assert "/ui/transparency/download?period=2026-Q3&amp;format=csv" in html
    assert 'value="2026-Q3"' in html


def test_without_a_period_the_quarter_so_far(ui: Ui) -> None:
    ui.sign_in("viewer")
    page = ui.get("/ui/transparency")
    assert page.status_code == 200
    assert f"Transparency report {period_containing(utcnow(), 'quarter').name}" in page.text


def test_downloads(ui: Ui) -> None:
    build_world(ui.service.database)
    ui.sign_in("curator")
    record = ui.get("/ui/transparency/download", params={"period": "2026-Q3", "format": "json"})
    assert record.status_code == 200
    assert (
        record.headers["content-disposition"] == 'attachment; filename="transparency-2026-Q3.json"'
    )
    assert json.loads(record.text)["figures"]["evidence"] == EXPECTED["evidence"]
    rows = ui.get("/ui/transparency/download", params={"period": "2026-Q3", "format": "csv"})
    assert rows.headers["content-type"].startswith("text/csv")
    assert rows.text.startswith("period,section,name,key,value,previous,change_percent\n")


def test_a_bad_period_is_said_on_the_page(ui: Ui) -> None:
    ui.sign_in("viewer")
    page = ui.get("/ui/transparency", params={"period": "2026-Q9"})
    assert page.status_code == 400
    assert "&#39;2026-Q9&#39; is not understood" in page.text
    assert "<svg" not in page.text


def test_who_may_see_it(ui: Ui) -> None:
    assert ui.get("/ui/transparency").status_code in (302, 303)
    ui.sign_in("reviewer")
    assert ui.get("/ui/transparency").status_code == 403
    assert 'href="/ui/transparency"' not in ui.get("/ui/review").text


def test_suggested_periods() -> None:
    names = suggested_periods()
    assert len(names) == 12
    assert names[0] == str(utcnow().year)
    assert names[2] == period_containing(utcnow(), "quarter").name
