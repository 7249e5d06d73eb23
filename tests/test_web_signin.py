"""Signing in to the web UI, on both engines: sessions, CSRF, roles, the second factor."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select

from hashmatch.apikeys import ApiKeys
from hashmatch.store.models import AuditEntry
from hashmatch.web.access import SESSION_COOKIE
from tests.web_ui import PASSWORD, Ui, open_ui


def test_a_right_password_opens_the_dashboard_with_a_guarded_cookie(ui: Ui) -> None:
    answer = ui.sign_in("viewer")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; https sets it
    page = ui.get("/ui/")
    assert page.status_code == 200
    assert "<h1>Dashboard</h1>" in page.text
    assert "Sign out" in page.text


@pytest.mark.parametrize("name", ["viewer", "nobody"])
def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(ui: Ui, name: str) -> None:
    answer = ui.sign_in(name, "not the password")
    assert answer.status_code == 401
    assert 'role="alert"' in answer.text
    assert "Wrong name or password" in answer.text
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    assert ui.get("/ui/").status_code == 303


def test_sign_in_needs_the_forms_own_token(ui: Ui) -> None:
    ui.http.get("/ui/login")
    answer = ui.http.post(
        "/ui/login", data={"name": "admin", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert answer.status_code == 403
    assert ui.get("/ui/").status_code == 303


def test_pages_send_strangers_to_sign_in_and_back(ui: Ui) -> None:
    answer = ui.get("/ui/account?tab=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login?next=%2Fui%2Faccount%3Ftab%3D1"
    token = re.search(r'name="csrf_token" value="([^"]+)"', ui.http.get("/ui/login").text)
    assert token
    signed = ui.http.post(
        "/ui/login",
        data={
            "name": "viewer",
            "password": PASSWORD,
            "csrf_token": token.group(1),
            "next": "/ui/account?tab=1",
        },
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/ui/account?tab=1"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/ui/", "/v1/banks"])
def test_sign_in_never_sends_anyone_off_the_ui(ui: Ui, target: str) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', ui.http.get("/ui/login").text)
    assert token
    signed = ui.http.post(
        "/ui/login",
        data={"name": "viewer", "password": PASSWORD, "csrf_token": token.group(1), "next": target},
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/ui/"


def test_signing_out_ends_the_session_on_the_server(ui: Ui) -> None:
    ui.sign_in("admin")
    token = ui.http.cookies.get(SESSION_COOKIE)
    assert ui.post("/ui/logout").headers["location"] == "/ui/login"
    assert ui.service.web_sessions.find(token) is None
    ui.http.cookies.set(SESSION_COOKIE, token)  # a copy kept by someone else
    assert ui.get("/ui/").status_code == 303


def test_a_change_without_the_sessions_csrf_token_is_refused(ui: Ui) -> None:
    ui.sign_in("admin")
    answer = ui.http.post("/ui/logout", data={"csrf_token": "forged"}, follow_redirects=False)
    assert answer.headers["location"] == "/ui/"  # still signed in
    refused = ui.http.post("/ui/account/totp/begin", data={}, follow_redirects=False)
    assert refused.status_code == 403
    assert "expired" in refused.text
    assert ui.get("/ui/").status_code == 200


def test_disabling_a_user_ends_their_sessions(ui: Ui) -> None:
    ui.sign_in("curator")
    assert ui.get("/ui/").status_code == 200
    ui.service.users.disable("curator")
    assert ui.get("/ui/").status_code == 303
    assert ui.sign_in("curator").status_code == 401


def test_keys_and_sessions_open_only_their_own_side(ui: Ui) -> None:
    secret, _ = ApiKeys(ui.service.database).create("everything", ["admin"])
    page = ui.http.get(
        "/ui/", headers={"Authorization": f"Bearer {secret}"}, follow_redirects=False
    )
    assert page.status_code == 303
    assert page.headers["location"] == "/ui/login"
    ui.sign_in("admin")
    assert ui.http.get("/v1/banks").status_code == 401


def test_a_role_without_the_permission_gets_a_page_saying_so(ui: Ui) -> None:
    ui.sign_in("reviewer")
    answer = ui.get("/ui/settings")
    assert answer.status_code == 403
    assert "text/html" in answer.headers["content-type"]
    assert "may not open this page" in answer.text
    assert 'href="/ui/settings"' not in answer.text  # nor is it in the navigation


def test_errors_on_pages_are_pages(ui: Ui) -> None:
    ui.sign_in("viewer")
    missing = ui.get("/ui/no-such-page")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]
    assert "<h1>Not found</h1>" in missing.text
    assert ui.http.get("/v1/no-such-route").headers["content-type"].startswith("application/json")


def test_pages_forbid_framing_and_foreign_scripts(ui: Ui) -> None:
    page = ui.get("/ui/login")
    assert page.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_sign_in_and_out_are_in_the_audit_log_as_the_person(ui: Ui) -> None:
    ui.sign_in("legal")
    with ui.service.database.reading() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.login"))
        actors = [entry.actor for entry in entries]
    assert actors == ["user:legal"]


def test_a_role_that_needs_a_second_factor_enrols_then_gives_codes(
    database_url: str, tmp_path: Path
) -> None:
    for ui in open_ui(database_url, tmp_path, ui_totp_required_roles=["reviewer"]):
        enrol = ui.sign_in("reviewer")
        assert enrol.headers["location"].startswith("/ui/login/totp")
        assert ui.get("/ui/").status_code == 303  # no page before the code
        page = ui.get("/ui/login/totp")
        secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page.text)
        assert secret, page.text
        wrong = ui.post("/ui/login/totp", {"code": "000000"})
        assert wrong.status_code == 401
        secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', wrong.text)
        assert secret
        right = ui.post("/ui/login/totp", {"code": pyotp.TOTP(secret.group(1)).now()})
        assert right.headers["location"] == "/ui/"
        assert ui.get("/ui/").status_code == 200

        ui.sign_in("reviewer")
        assert ui.get("/ui/").status_code == 303
        code = pyotp.TOTP(secret.group(1)).at(ui.service.users.clock() + timedelta(seconds=30))
        assert ui.post("/ui/login/totp", {"code": code}).headers["location"] == "/ui/"
        assert ui.get("/ui/").status_code == 200


def test_the_login_page_says_how_to_make_the_first_admin(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from hashmatch.api import create_app
    from hashmatch.settings import Settings

    app = create_app(Settings(data_dir=tmp_path / "data"))
    with TestClient(app) as http:
        page = http.get("/ui/login")
    assert "hashmatch users create NAME --role admin" in page.text


def test_the_dashboard_counts_what_came_in_and_what_is_waiting(ui: Ui) -> None:
    from hashmatch.store.workflow import ReviewItem, Submission

    match = {"bank": "known-photos", "content_id": 1, "distance": 4}
    with ui.service.database.transaction() as session:
        for number, (verdict, matches) in enumerate(
            [("review", [match]), ("allow", []), ("block", [match])]
        ):
            submission = Submission(
                content_ref=f"upload-{number}",
                content_type="photo",
                verdict=verdict,
                matches=matches,
                actor="key:test",
            )
            session.add(submission)
            session.flush()
            if verdict == "review":
                session.add(ReviewItem(submission_id=submission.id, queue="default", rule="r"))
    ui.sign_in("reviewer")
    page = ui.get("/ui/").text
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", page))
    assert figures["Submissions"] == "3"
    assert figures["Matched"] == "2"
    assert figures["Blocked"] == "1"
    assert figures["Open items"] == "1"
    assert "upload-2" in page
    assert "upload-1" not in page  # no match: not a recent match
    assert "known-photos" in page
