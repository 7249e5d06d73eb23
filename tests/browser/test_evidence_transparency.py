"""After a report is finished, in Chromium: a legal user finds its evidence,
places a legal hold and downloads the export; the transparency page counts
the report and draws its charts.  A reviewer is kept out of the evidence."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from hashmatch.reporting.cybertip.simulator import CybertipSimulator
from hashmatch.reporting.evidence.export import check_zip
from tests.browser.conftest import LiveServer
from tests.browser.helpers import look, sign_in, submit
from tests.reporting_world import (
    ReportingWorld,
)

PASSWORD = "correct horse battery"


@pytest.fixture
def live(reporting_server: LiveServer) -> LiveServer:
    reporting_server.add_user("lena", "legal", PASSWORD)
    reporting_server.add_user("rhea", "reviewer", PASSWORD)
    return reporting_server


def test_legal_holds_and_exports_evidence_and_reads_the_figures(
    live: LiveServer, ncmec: CybertipSimulator, page: Page, tmp_path: Path
) -> None:
    world = ReportingWorld.make(live.service.database, live.settings, ncmec)
    reports = world.reports()
    report_id = reports.draft(world.confirmed(2, user="user-5"), actor="user:rhea")
    report = reports.file(report_id)
    assert report["status"] == "finished"
    package = report["evidence_package_id"]

    sign_in(page, live.url, "rhea", PASSWORD)
    assert page.goto(f"{live.url}/ui/evidence/{package}").status == 403  # type: ignore[union-attr]
    page.context.clear_cookies()

    sign_in(page, live.url, "lena", PASSWORD)
    page.goto(f"{live.url}/ui/evidence")
    page.get_by_role("link", name=str(package), exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Evidence package {package}")
    expect(page.get_by_text("No holds.")).to_be_visible()
    page.get_by_role("textbox", name="Reason").fill("preservation request 2026-114")
    submit(page, "Place a hold")
    holds = page.locator("section[aria-labelledby=holds-heading] tbody tr")
    expect(holds).to_have_count(1)
    expect(holds.first).to_contain_text("preservation request 2026-114")
    look(page, "evidence-package")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download export (zip)").click()
    saved = tmp_path / "export.zip"
    download.value.save_as(saved)
    with saved.open("rb") as stream:
        assert check_zip(stream) == []  # every object against SHA256SUMS
    with zipfile.ZipFile(saved) as archive:
        names = archive.namelist()
    assert "report.xml" in names
    assert "manifest.json" in names

    year = datetime.now(UTC).year
    page.goto(f"{live.url}/ui/transparency?period={year}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Transparency")
    expect(page.locator("svg[role=img]")).to_have_count(2)  # trend, share by classification
    expect(page.get_by_role("table").filter(has_text="Trend per month")).to_be_visible()
    look(page, "transparency")
