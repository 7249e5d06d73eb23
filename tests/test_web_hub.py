"""The hub's pages on both engines: the public application form and status
page (no sign-in), the admins' pages for applications and members, who may
open them, and bad input answered on the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hashmatch.hub.criteria import CRITERION_KEYS
from tests.hub_world import form_fields
from tests.web_ui import Ui, open_ui


@pytest.fixture
def hub_ui(database_url: str, tmp_path: Path) -> Iterator[Ui]:
    yield from open_ui(database_url, tmp_path, hub_enabled=True, hub_applications_per_hour=4)


def form_data(number: int = 1) -> dict[str, str]:
    fields = form_fields(number)
    evidence = fields.pop("evidence")
    return {**fields, **{f"evidence_{key}": value for key, value in evidence.items()}}


def apply(ui: Ui, data: dict[str, Any]) -> Any:
    ui.http.cookies.clear()
    return ui.http.post("/ui/hub/apply", data=data, follow_redirects=False)


def status_link(page: str) -> str:
    found = re.search(r'id="status-link" href="([^"]+)"', page)
    assert found, page
    return found.group(1)


def test_apply_then_an_admin_checks_and_approves(hub_ui: Ui) -> None:
    form = hub_ui.http.get("/ui/hub/apply")
    assert form.status_code == 200
    assert form.text.count("<textarea") == 1 + len(CRITERION_KEYS)
    applied = apply(hub_ui, form_data())
    assert applied.status_code == 201, applied.text
    link = status_link(applied.text)
    assert 'id="application-state">submitted' in hub_ui.http.get(link).text
    hub_ui.sign_in("admin")
    listed = hub_ui.get("/ui/hub/applications")
    assert "Example Photos 1" in listed.text
    application_id = int(re.findall(r"/ui/hub/applications/(\d+)", listed.text)[0])
    page = hub_ui.get(f"/ui/hub/applications/{application_id}")
    assert "Approval needs every criterion checked." in page.text
    for key in CRITERION_KEYS:
        checked = hub_ui.post(
            f"/ui/hub/applications/{application_id}/check", {"criterion": key, "note": "seen"}
        )
        assert checked.status_code == 303, checked.text
    again = hub_ui.post(f"/ui/hub/applications/{application_id}/check", {"criterion": "policy"})
    assert again.status_code == 409
    assert "checked already by user:admin" in again.text
    approved = hub_ui.post(f"/ui/hub/applications/{application_id}/approve")
    assert approved.status_code == 200, approved.text
    assert re.search(r'id="new-key" class="secret">hm_\w+_', approved.text)
    assert "approved" in hub_ui.http.get(link).text
    members = hub_ui.get("/ui/hub/members")
    assert "Example Photos 1" in members.text
    member_id = re.findall(r"/ui/hub/members/(\d+)", members.text)[0]
    dues = hub_ui.post(
        f"/ui/hub/members/{member_id}/dues",
        {"invoice": "INV-7", "due": "2020-01-01", "grace_days": "0"},
    )
    assert dues.status_code == 303, dues.text
    hub_ui.service.hub.dues.lapse_check()
    page = hub_ui.get(f"/ui/hub/members/{member_id}")
    assert 'id="member-state">lapsed' in page.text
    refused = hub_ui.post(f"/ui/hub/members/{member_id}/reinstate")
    assert refused.status_code == 409
    assert "record the payment" in refused.text
    bad = hub_ui.post(f"/ui/hub/members/{member_id}/dues", {"invoice": "I", "due": "soon"})
    assert bad.status_code == 422
    assert "YYYY-MM-DD" in bad.text


def test_a_rejection_reason_is_shown_to_the_applicant(hub_ui: Ui) -> None:
    link = status_link(apply(hub_ui, form_data()).text)
    application_id = link.split("/")[-1].split("?")[0]
    hub_ui.sign_in("admin")
    empty = hub_ui.post(f"/ui/hub/applications/{application_id}/reject", {"reason": ""})
    assert empty.status_code == 422
    assert "reason is required" in empty.text
    assert (
        hub_ui.post(
            f"/ui/hub/applications/{application_id}/reject", {"reason": "Not a platform."}
        ).status_code
        == 303
    )
    hub_ui.http.cookies.clear()
    status = hub_ui.http.get(link)
    assert 'id="rejection-reason">Not a platform.' in status.text
    wrong = hub_ui.http.get(link.replace("token=", "token=x"))
    assert wrong.status_code == 404
    assert "<html" in wrong.text


def test_bad_applications_are_shown_again_with_the_problem(hub_ui: Ui) -> None:
    answer = apply(hub_ui, {**form_data(), "website": "ftp://photos.example.org"})
    assert answer.status_code == 422
    assert "http:// or https://" in answer.text
    assert 'value="Example Photos 1"' in answer.text  # what was typed is kept
    answer = apply(hub_ui, {**form_data(), "organisation": "<script>alert(1)</script>"})
    link = status_link(answer.text)
    assert "<script>alert" not in hub_ui.http.get(link).text
    for _ in range(2):
        apply(hub_ui, form_data())
    limited = apply(hub_ui, form_data())
    assert limited.status_code == 429
    assert "Too many applications from here" in limited.text


def test_only_admins_open_the_admin_pages(hub_ui: Ui) -> None:
    assert hub_ui.get("/ui/hub/applications").status_code == 303  # to sign in
    for role in ("curator", "reviewer", "viewer", "legal"):
        hub_ui.sign_in(role)
        assert hub_ui.get("/ui/hub/applications").status_code == 403
        assert hub_ui.get("/ui/hub/members").status_code == 403
        assert hub_ui.post("/ui/hub/members/1/reinstate").status_code == 403


HUB_LINK = 'href="/ui/hub/applications"'


def test_the_navigation_links_the_hub_for_admins_when_it_is_on(hub_ui: Ui) -> None:
    hub_ui.sign_in("admin")
    dashboard = hub_ui.get("/ui/")
    assert dashboard.status_code == 200
    nav = dashboard.text.split('<nav class="main-nav"')[1].split("</nav>")[0]
    assert f"{HUB_LINK}>Hub</a>" in nav
    here = hub_ui.get("/ui/hub/members").text.split("</nav>")[0]
    assert f'{HUB_LINK} aria-current="page">Hub</a>' in here
    for role in ("curator", "reviewer", "viewer", "legal"):  # they may not open the pages
        hub_ui.sign_in(role)
        assert HUB_LINK not in hub_ui.get("/ui/").text


def test_no_hub_link_when_the_hub_is_off(ui: Ui) -> None:
    ui.sign_in("admin")
    assert ui.get("/ui/").status_code == 200
    assert HUB_LINK not in ui.get("/ui/").text
    assert ui.get("/ui/hub/applications").status_code == 404
