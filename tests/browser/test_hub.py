"""The hub's membership in Chromium: an organisation applies through the
public form, an admin checks the six criteria off and approves, the member's
key is shown once, and the applicant's status page says approved."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from hashmatch.hub.criteria import CRITERIA
from tests.browser.conftest import LiveServer
from tests.browser.helpers import look, sign_in, submit

PASSWORD = "correct horse battery"


@pytest.fixture
def live(serve: Callable[..., LiveServer]) -> LiveServer:
    live = serve(hub_enabled=True)
    live.add_user("hana", "admin", PASSWORD)
    return live


def test_apply_then_an_admin_approves(live: LiveServer, page: Page) -> None:
    page.goto(f"{live.url}/ui/hub/apply")
    look(page, "hub-apply")
    page.get_by_label("Organisation").fill("Example Photos")
    page.get_by_label("Website").fill("https://photos.example.org")
    page.get_by_label("Product or service").fill("A photo sharing app for families.")
    page.get_by_label("Contact name").fill("Robin Example")
    page.get_by_label("Contact email").fill("trust@photos.example.org")
    for criterion in CRITERIA:
        page.get_by_label(criterion.title).fill(f"https://photos.example.org/{criterion.key}")
    submit(page, "Send the application")
    expect(page.get_by_role("heading", level=1)).to_contain_text("sent")
    status_link = page.locator("#status-link").get_attribute("href")
    assert status_link

    admin = page.context.browser.new_context()  # type: ignore[union-attr]
    admin_page = admin.new_page()
    admin_page.set_default_timeout(10_000)
    try:
        sign_in(admin_page, live.url, "hana", PASSWORD)
        admin_page.goto(f"{live.url}/ui/hub/applications")
        admin_page.get_by_role("link", name="#1").click()
        look(admin_page, "hub-application")
        expect(admin_page.get_by_text("Approval needs every criterion checked.")).to_be_visible()
        for criterion in CRITERIA:
            submit(admin_page, f"Check {criterion.title}")
        expect(admin_page.get_by_text("by user:hana")).to_have_count(len(CRITERIA))
        submit(admin_page, "Approve")
        expect(admin_page.locator("#new-key")).to_contain_text("hm_")
        look(admin_page, "hub-approved")
    finally:
        admin.close()

    page.goto(f"{live.url}{status_link}")
    expect(page.locator("#application-state")).to_have_text("approved")
