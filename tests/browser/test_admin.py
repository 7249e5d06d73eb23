"""API keys and users in Chromium: a key shown once, a user made who then
signs in, and every page's accessibility and picture."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.helpers import look, path_of, sign_in, submit

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a different long password"


def test_a_new_key_is_shown_once(live_server: LiveServer, page: Page) -> None:
    live_server.add_user("ada", "admin", PASSWORD)
    sign_in(page, live_server.url, "ada", PASSWORD)
    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_text("No API keys yet")).to_be_visible()
    look(page, "keys-empty")

    page.get_by_role("link", name="New key").click()
    look(page, "keys-new")
    page.get_by_label("Name").fill("uploads")
    page.get_by_label("submit").check()
    submit(page, "Create key")
    key = page.locator("#new-key").inner_text()
    assert key.startswith("hm_")
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    look(page, "keys-created")

    page.goto(f"{live_server.url}/ui/keys")
    assert key not in page.content()
    expect(page.get_by_role("cell", name="uploads", exact=True)).to_be_visible()
    look(page, "keys-list")
    page.reload()
    assert key not in page.content()

    page.get_by_role("link", name="Revoke key uploads").click()
    look(page, "keys-revoke")
    submit(page, "Revoke key uploads")
    expect(page.get_by_role("status")).to_contain_text("Key uploads revoked")
    answer = page.request.get(
        f"{live_server.url}/v1/banks", headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status == 401


def test_an_admin_makes_a_user_who_signs_in(live_server: LiveServer, page: Page) -> None:
    live_server.add_user("ada", "admin", PASSWORD)
    sign_in(page, live_server.url, "ada", PASSWORD)
    page.get_by_role("link", name="Users").click()
    look(page, "users-list")

    page.get_by_role("link", name="New user").click()
    look(page, "users-new")
    page.get_by_label("Name").fill("sam")
    page.get_by_label("Role").select_option("curator")
    page.locator("#f-password").fill(NEW_PASSWORD)
    page.get_by_label("Password again").fill("not the same")
    submit(page, "Create user")
    expect(page.locator("#e-again")).to_have_text("The two passwords differ.")
    look(page, "users-new-errors")
    page.locator("#f-password").fill(NEW_PASSWORD)
    page.get_by_label("Password again").fill(NEW_PASSWORD)
    submit(page, "Create user")
    assert path_of(page) == "/ui/users/sam"
    expect(page.get_by_role("status")).to_have_text("User sam created.")
    look(page, "users-show")

    page.goto(f"{live_server.url}/ui/users/ada")
    submit(page, "Disable ada")
    expect(page.get_by_role("alert")).to_contain_text("last enabled admin")
    look(page, "users-show-last-admin")

    submit(page, "Sign out")
    sign_in(page, live_server.url, "sam", NEW_PASSWORD)
    assert path_of(page) == "/ui/"
    expect(page.get_by_role("link", name="Rules")).to_be_visible()
    expect(page.get_by_role("link", name="Users")).to_have_count(0)
