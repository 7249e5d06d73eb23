"""The CyberTipline report pages on both engines, filing to a local simulator:
who may see them, the "Report to NCMEC" button on a confirmed item, the form
prefilled from the items, the XML preview, filing, the report page's
timeline, Retry and Retract, CSRF."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashmatch.accounts.roles import ROLES
from hashmatch.reporting.cybertip.simulator import CybertipSimulator
from tests.reporting_world import (
    ReportingWorld,
    ScriptedClient,
    server_settings,
)
from tests.web_ui import Ui, open_ui

MAY_REPORT = ("admin", "reviewer", "legal")
METADATA = {"screen_name": "sunny_day", "email": "someone@example.com"}


@pytest.fixture
def ui(database_url: str, tmp_path: Path, ncmec: CybertipSimulator) -> Iterator[Ui]:
    yield from open_ui(
        database_url, tmp_path, **server_settings(tmp_path, ncmec), deliver_in_serve=False
    )


@pytest.fixture
def world(ui: Ui, ncmec: CybertipSimulator) -> ReportingWorld:
    return ReportingWorld.make(ui.service.database, ui.settings, ncmec)


def report_id_of(location: str) -> int:
    found = re.fullmatch(r"/ui/reports/(\d+)", location)
    assert found, location
    return int(found.group(1))


def test_only_roles_that_report_see_the_pages_and_the_navigation(
    ui: Ui, world: ReportingWorld
) -> None:
    for role in ROLES:
        ui.sign_in(role)
        listed = ui.get("/ui/reports")
        form = ui.get("/ui/reports/new?items=1")
        if role in MAY_REPORT:
            assert listed.status_code == 200, role
            assert 'href="/ui/reports"' in ui.get("/ui/").text, role
            assert "TEST environment" in listed.text
        else:
            assert listed.status_code == 403, role
            assert form.status_code == 403, role
            assert 'href="/ui/reports"' not in ui.get("/ui/").text, role


def test_a_confirmed_item_offers_the_form_prefilled(ui: Ui, world: ReportingWorld) -> None:
    [open_item] = world.uploaded(1, user="user-3")
    [item] = world.confirmed(1, user="user-3", classification="B1", metadata=METADATA)
    ui.sign_in("admin")
    assert "Report to NCMEC" not in ui.get(f"/ui/review/items/{open_item}").text
    page = ui.get(f"/ui/review/items/{item}").text
    assert f'href="/ui/reports/new?items={item}"' in page
    form = ui.get(f"/ui/reports/new?items={item}")
    assert form.status_code == 200
    text = form.text
    assert 'value="sunny_day"' in text
    assert "someone@example.com" in text
    assert "https://example.com/p/" in text
    assert "B1" in text
    assert "<code>user-3</code>" in text
    assert "TEST environment" in text
    assert ui.get("/ui/reports/new?items=x,y").status_code == 400
    assert ui.get(f"/ui/reports/new?items={2**63}").status_code == 400
    assert ui.get("/ui/reports/new?items=" + ",".join(["1"] * 1001)).status_code == 400


def test_preview_shows_the_xml_and_writes_nothing(ui: Ui, world: ReportingWorld) -> None:
    [item] = world.confirmed(1, user="user-8")
    ui.sign_in("reviewer")
    answer = ui.post(
        "/ui/reports/new",
        {"items": str(item), "action": "preview", "screen_name": "typed_name", "urls": ""},
    )
    assert answer.status_code == 200, answer.text
    xml = html.unescape(answer.text.split('id="xml-preview"', 1)[1])
    assert "<screenName>typed_name</screenName>" in xml
    assert "<espIdentifier>user-8</espIdentifier>" in xml
    assert 'value="typed_name"' in answer.text
    assert not world.ncmec.reports
    assert "No reports yet" in ui.get("/ui/reports").text


def test_filing_goes_to_the_report_page_with_its_timeline(ui: Ui, world: ReportingWorld) -> None:
    items = world.confirmed(2, user="user-2", metadata=METADATA)
    ui.sign_in("legal")
    filed = ui.post(
        "/ui/reports/new",
        {"items": ",".join(map(str, items)), "action": "file", "annotations": ["sextortion"]},
    )
    assert filed.status_code == 303, filed.text
    report_id = report_id_of(filed.headers["location"])
    [sent] = world.ncmec.finished_reports()
    page = ui.get(filed.headers["location"])
    assert page.status_code == 200
    assert f"Report {report_id}: finished" in page.text
    timeline = page.text.split('id="timeline"', 1)[1]
    assert (
        timeline.count("<tr>") == 1 + 1 + 2 * 2 + 1
    )  # the head, submit, 2 x (upload, fileinfo), finish
    report = world.reports().get(report_id)
    for call in report["calls"]:
        assert call["request_id"] in timeline
    assert report["created_by"] == "user:legal"
    assert report["details"]["annotations"] == ["sextortion"]
    assert "Retry" not in page.text
    assert "Retract" not in page.text
    assert str(report_id) in ui.get("/ui/reports").text
    assert (
        ui.get(f"/ui/reports/{report_id}/xml").headers["content-type"].startswith("application/xml")
    )
    ui.sign_in("admin")  # legal files reports but does not see the review queue
    item_page = ui.get(f"/ui/review/items/{items[0]}").text
    assert f'href="/ui/reports/{report_id}"' in item_page
    assert "Report to NCMEC" not in item_page
    again = ui.post("/ui/reports/new", {"items": str(items[0]), "action": "file"})
    assert again.status_code == 409
    assert 'id="report-error"' in again.text
    assert len(world.ncmec.reports) == 1
    assert sent.status == "finished"


def test_retry_a_failed_report_from_its_page(ui: Ui, world: ReportingWorld) -> None:
    [item] = world.confirmed(1)
    world.ncmec.fail_next("code:4100")
    ui.sign_in("reviewer")
    filed = ui.post("/ui/reports/new", {"items": str(item), "action": "file"})
    location = filed.headers["location"]
    page = ui.get(location).text
    assert "failed" in page
    assert "4100" in page
    assert "Retry…" in page
    assert "Retract…" not in page
    retried = ui.post(f"{location}/retry")
    assert retried.status_code == 303
    assert "finished" in ui.get(location).text.split("</h1>")[0]


def test_retract_an_open_report_and_csrf(ui: Ui, world: ReportingWorld) -> None:
    reports = world.reports()
    report_id = reports.draft(world.confirmed(1, user="user-open"), actor="user:alice")
    client = reports.client
    assert isinstance(client, ScriptedClient)
    client.before("upload", lambda: world.ncmec.fail_next("code:4000"))
    assert reports.file(report_id)["status"] == "failed"
    ui.sign_in("admin")
    page = ui.get(f"/ui/reports/{report_id}").text
    assert "Retract…" in page
    forged = ui.http.post(
        f"/ui/reports/{report_id}/retract", data={"csrf_token": "wrong"}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert world.reports().get(report_id)["status"] == "failed"
    retracted = ui.post(f"/ui/reports/{report_id}/retract")
    assert retracted.status_code == 303
    assert world.reports().get(report_id)["status"] == "retracted"
    assert "Retract…" not in ui.get(f"/ui/reports/{report_id}").text
    assert ui.post(f"/ui/reports/{report_id}/retract").status_code == 409
    forged_filing = ui.http.post(
        "/ui/reports/new", data={"items": "1", "action": "file"}, follow_redirects=False
    )
    assert forged_filing.status_code == 403
