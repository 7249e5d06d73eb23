"""Signing in and out in Chromium: the form, wrong passwords, waits and
lockouts, the session cookie, and that API keys and sessions stay apart."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from hashmatch.apikeys import ApiKeys
from hashmatch.store import Database
from tests.browser.conftest import VIEWPORT, LiveServer
from tests.browser.helpers import check_accessibility, look, path_of, screenshot, sign_in, submit

PASSWORD = "correct horse battery"
WRONG = "not the password at all"


def test_the_login_page_is_a_labelled_form(live_server: LiveServer, page: Page) -> None:
    page.goto(f"{live_server.url}/ui/login")
    name = page.get_by_role("textbox", name="Name", exact=True)
    expect(name).to_have_attribute("name", "name")
    password = page.get_by_role("textbox", name="Password", exact=True)
    expect(password).to_have_attribute("name", "password")
    expect(password).to_have_attribute("type", "password")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    screenshot(page, "login")
    check_accessibility(page)


@pytest.mark.parametrize("name", ["ada", "nobody"], ids=["wrong-password", "unknown-name"])
def test_a_wrong_password_and_an_unknown_name_get_the_same_alert(
    live_server: LiveServer, page: Page, name: str
) -> None:
    live_server.add_user("ada", "viewer", PASSWORD)
    sign_in(page, live_server.url, name, WRONG)
    assert path_of(page) == "/ui/login"
    expect(page.get_by_role("alert")).to_contain_text("Wrong name or password")
    screenshot(page, f"login-{name}-refused")
    check_accessibility(page)
    page.goto(f"{live_server.url}/ui/")
    assert path_of(page) == "/ui/login"


def test_after_three_failures_the_name_must_wait(live_server: LiveServer, page: Page) -> None:
    live_server.add_user("ada", "viewer", PASSWORD)
    # The third failure starts a wait of one second: stop the clock, so that
    # the next try comes sooner however slow this machine is.
    users = live_server.service.users
    now = users.clock()
    users.clock = lambda: now
    for _ in range(3):
        sign_in(page, live_server.url, "ada", WRONG)
    sign_in(page, live_server.url, "ada", PASSWORD)
    assert path_of(page) == "/ui/login"
    expect(page.get_by_role("alert")).to_contain_text("try again in")


def test_after_the_threshold_the_name_is_locked_out(
    serve: Callable[..., LiveServer], page: Page
) -> None:
    live_server = serve(ui_login_lockout_failures=4, ui_login_delay_after=10)
    live_server.add_user("ada", "viewer", PASSWORD)
    for _ in range(3):
        sign_in(page, live_server.url, "ada", WRONG)
        expect(page.get_by_role("alert")).to_contain_text("Wrong name or password")
    sign_in(page, live_server.url, "ada", WRONG)
    locked = page.get_by_role("alert")
    expect(locked).to_contain_text("try again in 15 minutes")
    screenshot(page, "login-locked-out")
    check_accessibility(page)
    # Locked means the right password does not open it either.
    sign_in(page, live_server.url, "ada", PASSWORD)
    assert path_of(page) == "/ui/login"
    expect(locked).to_contain_text("try again in 15 minutes")


def test_a_right_password_opens_the_dashboard_until_signing_out(
    serve: Callable[..., LiveServer], database_url: str, page: Page
) -> None:
    live_server = serve(database_url=database_url)
    live_server.add_user("ada", "curator", PASSWORD)
    sign_in(page, live_server.url, "ada", PASSWORD)
    assert path_of(page) == "/ui/"
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.locator("header")).to_contain_text("ada")
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_visible()
    screenshot(page, "dashboard")
    check_accessibility(page)

    with page.expect_navigation():
        sign_out.click()
    assert path_of(page) == "/ui/login"
    page.goto(f"{live_server.url}/ui/")
    assert path_of(page) == "/ui/login"


def test_the_session_cookie_is_http_only_and_same_site(live_server: LiveServer, page: Page) -> None:
    live_server.add_user("ada", "viewer", PASSWORD)
    sign_in(page, live_server.url, "ada", PASSWORD)
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    session = cookies["hashmatch_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("hashmatch_session") == -1


def test_an_api_key_does_not_open_the_ui(live_server: LiveServer, browser: Browser) -> None:
    database = Database.open(live_server.database_url)
    try:
        key, _info = ApiKeys(database).create("k", ["admin"])
    finally:
        database.close()
    context = browser.new_context(
        viewport=VIEWPORT,
        extra_http_headers={"Authorization": f"Bearer {key}"},
    )
    try:
        page = context.new_page()
        answer = page.goto(f"{live_server.url}/ui/")
        assert answer is not None
        assert answer.status == 401 or path_of(page) == "/ui/login"
        expect(page.get_by_role("heading", name="Dashboard")).to_have_count(0)
    finally:
        context.close()


def test_the_session_cookie_does_not_open_the_api(live_server: LiveServer, page: Page) -> None:
    live_server.add_user("ada", "admin", PASSWORD)
    sign_in(page, live_server.url, "ada", PASSWORD)
    assert path_of(page) == "/ui/"
    # The context's request client sends the browser's cookies.
    answer = page.context.request.get(f"{live_server.url}/v1/banks")
    assert answer.status == 401


def test_a_role_that_needs_a_second_factor_enrols_and_then_gives_codes(
    serve: Callable[..., LiveServer], page: Page
) -> None:
    server = serve(ui_totp_required_roles=["reviewer"])
    server.add_user("rita", "reviewer", PASSWORD)
    sign_in(page, server.url, "rita", PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up a second factor")
    look(page, "totp-enrol")
    key = page.locator("code.secret").first.inner_text()
    assert re.fullmatch(r"[A-Z2-7]+", key)
    page.get_by_role("textbox", name="Code").fill("000000")
    submit(page, "Continue")
    expect(page.get_by_role("alert")).to_contain_text("not right")
    key = page.locator("code.secret").first.inner_text()  # a new key was offered
    page.get_by_role("textbox", name="Code").fill(pyotp.TOTP(key).now())
    submit(page, "Continue")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, server.url, "rita", PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")
    look(page, "totp-code")
    page.goto(f"{server.url}/ui/")  # no page before the code
    assert path_of(page) == "/ui/login/totp"
    later = server.service.users.clock() + timedelta(seconds=30)  # not the enrolment's code
    page.get_by_role("textbox", name="Code").fill(pyotp.TOTP(key).at(later))
    submit(page, "Continue")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
