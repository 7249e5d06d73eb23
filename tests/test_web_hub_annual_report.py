"""The annual report page on both engines: sign-in required, SVG charts
drawn on the server (no script), per-member figures for admins and only
published ones for others, downloads, and a bad period a 400 page."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashmatch.audit import acting_as
from hashmatch.hub.coalition_events import CoalitionEvents
from hashmatch.hub.membership import Membership
from hashmatch.hub.period_reports import PeriodReports
from tests.hub_report_world import record, signing_member
from tests.hub_world import ADMIN
from tests.web_ui import Ui, open_ui


@pytest.fixture
def hub_ui(database_url: str, tmp_path: Path) -> Iterator[Ui]:
    for ui in open_ui(database_url, tmp_path, hub_enabled=True):
        database = ui.service.database
        membership = Membership(database, ui.settings)
        reports = PeriodReports(database)
        for number, filed in ((1, 120), (2, 30)):
            member = signing_member(membership, number)
            envelope = member.envelope(record("2026", filed=filed), publish=number == 1)
            reports.receive(member.key_name, envelope)
        with acting_as(ADMIN):
            CoalitionEvents(database).set_total("2026", "NCMEC CyberTipline", 160)
        yield ui


def test_the_page_needs_a_sign_in(hub_ui: Ui) -> None:
    answer = hub_ui.get("/ui/hub/annual-report?period=2026")
    assert answer.status_code in (302, 303, 401)


def test_admins_see_svg_charts_and_every_member(hub_ui: Ui) -> None:
    hub_ui.sign_in("admin")
    page = hub_ui.get("/ui/hub/annual-report?period=2026")
    assert page.status_code == 200, page.text
    charts = re.findall(r"<svg role=\"img\".*?</svg>", page.text, flags=re.S)
    assert len(charts) == 3
    assert all("<title" in chart and "<desc" in chart for chart in charts)
    assert '<rect x="200"' in charts[2]  # a bar per member
    assert "<title>Example Photos 2 2026: 30</title>" in charts[2]
    assert "<script src" not in page.text.split('<div class="annual-report">')[1]
    assert "93.8% of NCMEC CyberTipline reports came from members" in page.text


def test_others_see_only_members_that_published(hub_ui: Ui) -> None:
    hub_ui.sign_in("viewer")
    page = hub_ui.get("/ui/hub/annual-report?period=2026")
    assert page.status_code == 200, page.text
    assert "Example Photos 1" in page.text
    assert "Example Photos 2" not in page.text
    download = hub_ui.get("/ui/hub/annual-report/download?period=2026&format=csv")
    assert download.headers["content-disposition"] == 'attachment; filename="coalition-2026.csv"'
    members = {
        r["section"] for r in csv.DictReader(io.StringIO(download.text)) if r["kind"] == "member"
    }
    assert members == {"Example Photos 1"}


def test_a_bad_period_is_a_400_page(hub_ui: Ui) -> None:
    hub_ui.sign_in("admin")
    page = hub_ui.get("/ui/hub/annual-report?period=next-year")
    assert page.status_code == 400
    assert "is not understood" in page.text
