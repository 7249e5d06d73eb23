"""Banks in Chromium: create a bank, add an image to it, edit it, switch it,
delete it by typing its name; a viewer sees no change buttons and is refused
a change; every page is checked for accessibility and photographed."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.helpers import look, sign_in

PASSWORD = "correct horse battery"
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def test_a_curator_makes_fills_edits_and_deletes_a_bank(
    live_server: LiveServer, page: Page, photo_path: Path, tmp_path: Path
) -> None:
    live_server.add_user("cora", "curator", PASSWORD)
    sign_in(page, live_server.url, "cora", PASSWORD)
    page.goto(f"{live_server.url}/ui/banks")
    expect(page.get_by_text("No banks yet")).to_be_visible()
    look(page, "banks-list-empty")

    page.get_by_role("link", name="Create a bank").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New bank")
    look(page, "banks-new")
    page.get_by_role("button", name="Create bank").click()
    expect(page.locator("#e-name")).to_have_text("A bank needs a name.")
    look(page, "banks-new-error")
    page.get_by_label("Name").fill("known-images")
    page.get_by_label("Labels").fill("A1, csam")
    page.get_by_label("pdq threshold", exact=True).fill("24")
    page.get_by_role("button", name="Create bank").click()
    expect(page.get_by_role("status")).to_have_text("Bank created.")
    expect(page.get_by_text("This bank is empty")).to_be_visible()
    look(page, "banks-show-empty")

    page.get_by_role("link", name="Add content").first.click()
    look(page, "banks-add")
    page.locator("#f-file").set_input_files(str(photo_path))
    page.get_by_label("External id").first.fill("beach-1")
    page.get_by_role("button", name="Hash and add").click()
    expect(page.get_by_role("status")).to_contain_text("Content added.")
    expect(page.get_by_text("beach-1")).to_be_visible()
    look(page, "banks-content")

    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_text("disabled until")).to_be_visible()
    page.get_by_role("button", name="Enable now").click()
    expect(page.get_by_role("status")).to_contain_text("matches again")

    listing = tmp_path / "list.csv"
    listing.write_text(f"signal_type,signal\npdq,{PDQ}\nmd5,{'a' * 32}\nmd5,zz\n")
    page.goto(f"{live_server.url}/ui/banks/known-images/add")
    page.locator("#f-list").set_input_files(str(listing))
    with page.expect_navigation(timeout=60_000):  # the first import starts its process
        page.get_by_role("button", name="Import").click()
    expect(page.get_by_text("Nothing was imported", exact=False).first).to_be_visible()
    expect(page.locator(".import-report code")).to_contain_text("list.csv:4")
    look(page, "banks-import-refused")
    listing.write_text(f"signal_type,signal\npdq,{PDQ}\nmd5,{'a' * 32}\n")
    page.locator("#f-list").set_input_files(str(listing))
    with page.expect_navigation(timeout=60_000):  # the first import starts its process
        page.get_by_role("button", name="Import").click()
    expect(page.locator(".import-report")).to_contain_text("Added")
    look(page, "banks-import-report")

    page.goto(f"{live_server.url}/ui/banks/known-images")
    expect(page.locator("tbody tr")).to_have_count(3)
    page.get_by_label("Search by").select_option("external_id")
    page.get_by_label("Search for").fill("beach-1")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("1 found")).to_be_visible()
    look(page, "banks-show-search")

    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_label("pdq threshold", exact=True)).to_have_value("24")
    look(page, "banks-edit")
    page.get_by_label("Description").fill("Pictures we know")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Bank saved.")
    page.get_by_role("button", name="Disable").click()
    expect(page.locator(".bank-facts")).to_contain_text("disabled: its content does not match")

    page.goto(f"{live_server.url}/ui/banks")
    expect(page.get_by_role("link", name="known-images")).to_be_visible()
    look(page, "banks-list")

    page.goto(f"{live_server.url}/ui/banks/known-images")
    page.get_by_role("link", name="Delete").click()
    look(page, "banks-delete")
    page.get_by_label("Type the bank's name to confirm").fill("known")
    page.get_by_role("button", name="Delete this bank").click()
    expect(page.locator("#e-confirm")).to_contain_text("Type the bank's name")
    page.get_by_label("Type the bank's name to confirm").fill("known-images")
    page.get_by_role("button", name="Delete this bank").click()
    expect(page.get_by_role("status")).to_contain_text("Bank known-images deleted")


def test_a_viewer_sees_no_change_buttons_and_is_refused_a_change(
    live_server: LiveServer, page: Page
) -> None:
    live_server.add_user("cora", "curator", PASSWORD)
    live_server.add_user("vic", "viewer", PASSWORD)
    sign_in(page, live_server.url, "cora", PASSWORD)
    page.goto(f"{live_server.url}/ui/banks/new")
    page.get_by_label("Name").fill("known")
    page.get_by_role("button", name="Create bank").click()
    expect(page.get_by_role("status")).to_have_text("Bank created.")
    page.context.clear_cookies()

    sign_in(page, live_server.url, "vic", PASSWORD)
    page.goto(f"{live_server.url}/ui/banks")
    expect(page.get_by_role("link", name="known")).to_be_visible()
    expect(page.get_by_role("link", name="New bank")).to_have_count(0)
    look(page, "banks-list-viewer")
    page.get_by_role("link", name="known").click()
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    expect(page.get_by_role("link", name="Add content")).to_have_count(0)
    expect(page.get_by_role("button", name="Disable")).to_have_count(0)
    look(page, "banks-show-viewer")
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    refused = page.request.post(
        f"{live_server.url}/ui/banks/known/delete",
        form={"csrf_token": token or "", "confirm": "known"},
        max_redirects=0,
    )
    assert refused.status == 403
    page.goto(f"{live_server.url}/ui/banks/known/edit")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    page.goto(f"{live_server.url}/ui/banks/known")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bank known")
