"""A CyberTipline report in Chromium, against a local NCMEC simulator: open a
confirmed item, press "Report to NCMEC", see the form prefilled and the XML
preview, file it, and see the report page's timeline end finished."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from hashmatch.reporting.cybertip.simulator import CybertipSimulator
from tests.browser.conftest import LiveServer
from tests.browser.helpers import look, path_of, sign_in, submit
from tests.reporting_world import (
    ReportingWorld,
)

PASSWORD = "correct horse battery"


@pytest.fixture
def live(reporting_server: LiveServer) -> LiveServer:
    reporting_server.add_user("rhea", "reviewer", PASSWORD)
    return reporting_server


def test_report_a_confirmed_item_to_ncmec(
    live: LiveServer, ncmec: CybertipSimulator, page: Page
) -> None:
    world = ReportingWorld.make(live.service.database, live.settings, ncmec)
    [item] = world.confirmed(1, user="user-77", metadata={"screen_name": "sunny_day"})
    sign_in(page, live.url, "rhea", PASSWORD)
    page.goto(f"{live.url}/ui/review/items/{item}")
    with page.expect_navigation():
        page.get_by_role("link", name="Report to NCMEC").click()
    assert path_of(page) == "/ui/reports/new"
    expect(page.get_by_role("heading", level=1)).to_have_text("Report to NCMEC")
    expect(page.locator(".environment")).to_contain_text("TEST environment")
    expect(page.get_by_role("textbox", name="Screen name")).to_have_value("sunny_day")
    expect(page.get_by_role("textbox", name="Review items")).to_have_value(str(item))

    submit(page, "Preview XML")
    preview = page.locator("#xml-preview")
    expect(preview).to_contain_text("<espIdentifier>user-77</espIdentifier>")
    expect(preview).to_contain_text("<screenName>sunny_day</screenName>")
    look(page, "report-form")
    assert ncmec.reports == {}

    submit(page, "File report with NCMEC (TEST)")
    assert path_of(page).startswith("/ui/reports/"), page.url
    expect(page.locator("#report-status")).to_have_text("finished")
    timeline = page.locator("#timeline tbody tr")
    expect(timeline).to_have_count(4)  # submit, upload, fileinfo, finish
    expect(timeline.first).to_contain_text("/submit")
    expect(timeline.last).to_contain_text("/finish")
    assert len(ncmec.finished_reports()) == 1
    look(page, "report-page")
