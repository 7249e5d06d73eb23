"""The audit log, settings and system pages in Chromium: a change made in the
UI shows with its person, filters and the chain check work, each role sees
only its pages, and every page's accessibility and picture."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.helpers import look, path_of, sign_in, submit

PASSWORD = "correct horse battery"


def test_the_audit_log_lists_changes_filters_and_checks_its_chain(
    live_server: LiveServer, page: Page
) -> None:
    live_server.add_user("ada", "admin", PASSWORD)
    sign_in(page, live_server.url, "ada", PASSWORD)
    page.get_by_role("link", name="API keys").click()
    page.get_by_role("link", name="New key").click()
    page.get_by_label("Name").fill("uploads")
    submit(page, "Create key")

    page.get_by_role("link", name="Audit log").click()
    assert path_of(page) == "/ui/audit"
    entries = page.locator("table.audit-entries tbody tr")
    created = entries.filter(has_text="key.create")
    expect(created).to_have_count(1)
    expect(created).to_contain_text("user:ada")
    expect(created).to_contain_text("key:uploads")
    look(page, "audit-log")

    created.get_by_text("Full entry").click()
    expect(created.locator("pre.audit-json")).to_contain_text('"actor": "user:ada"')

    page.get_by_label("Action").fill("key.*")
    submit(page, "Filter")
    expect(entries).to_have_count(1)
    expect(page.get_by_role("link", name="Clear filters")).to_be_visible()
    look(page, "audit-log-filtered")

    page.get_by_label("Actor").fill("user:nobody")
    submit(page, "Filter")
    expect(page.get_by_text("No entries match these filters")).to_be_visible()
    look(page, "audit-log-no-match")

    page.get_by_label("Actor").fill("")
    page.get_by_label("Since (UTC)").fill("last tuesday")
    submit(page, "Filter")
    expect(page.locator("#e-since")).to_contain_text("2026-11-26T16:00")
    look(page, "audit-log-bad-filter")

    page.goto(f"{live_server.url}/ui/audit")
    submit(page, "Verify the chain")
    expect(page.get_by_role("status")).to_contain_text("The chain holds")
    head = page.locator(".audit-check code").first.inner_text()
    assert len(head) == 64
    look(page, "audit-verify")

    page.get_by_label("Head from an earlier check (optional)").fill(head)
    submit(page, "Verify the chain")
    expect(page.get_by_role("status")).to_contain_text("The chain holds")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/ui/audit")
    look(page, "audit-log-narrow")


def test_admins_read_the_settings_with_secrets_hidden(live_server: LiveServer, page: Page) -> None:
    live_server.add_user("ada", "admin", PASSWORD)
    sign_in(page, live_server.url, "ada", PASSWORD)
    page.get_by_role("link", name="Settings").click()
    assert path_of(page) == "/ui/settings"
    expect(page.get_by_role("heading", level=1)).to_have_text("Settings")
    database = page.locator("#setting-database_url")
    expect(database).to_contain_text(live_server.database_url)
    expect(page.locator("#setting-media_key_command")).to_contain_text("(not set)")
    expect(page.locator("#setting-port")).to_contain_text("default")
    assert page.locator("main input, main textarea, main select").count() == 0  # read-only
    look(page, "settings")


def test_the_system_page_shows_the_index_and_requests(live_server: LiveServer, page: Page) -> None:
    live_server.add_user("vic", "viewer", PASSWORD)
    sign_in(page, live_server.url, "vic", PASSWORD)
    page.get_by_role("link", name="System").click()
    assert path_of(page) == "/ui/system"
    expect(page.get_by_text("loaded and current")).to_be_visible()
    expect(page.get_by_text("The index is empty")).to_be_visible()
    requests = page.get_by_role("table").filter(has_text="Route")
    expect(requests).to_contain_text("/ui/")
    look(page, "system")


def test_each_role_sees_only_its_pages(live_server: LiveServer, page: Page) -> None:
    live_server.add_user("vic", "viewer", PASSWORD)
    live_server.add_user("cur", "curator", PASSWORD)
    sign_in(page, live_server.url, "vic", PASSWORD)
    navigation = page.get_by_role("navigation", name="Main")
    expect(navigation.get_by_role("link", name="Audit log")).to_be_visible()
    expect(navigation.get_by_role("link", name="System")).to_be_visible()
    expect(navigation.get_by_role("link", name="Settings")).to_have_count(0)
    page.goto(f"{live_server.url}/ui/settings")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    look(page, "settings-refused")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server.url, "cur", PASSWORD)
    navigation = page.get_by_role("navigation", name="Main")
    expect(navigation.get_by_role("link", name="Audit log")).to_have_count(0)
    page.goto(f"{live_server.url}/ui/audit")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    look(page, "audit-refused")
