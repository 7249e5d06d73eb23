"""``/v1/reports`` on both engines, filing to a local CyberTipline simulator:
scopes, the 201/400/404/409 answers and their error shape, paging, the XML,
the preview, retry and retract."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from lxml import etree

from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.reporting.cybertip.simulator import CybertipSimulator
from hashmatch.settings import Settings
from hashmatch.store import Database
from tests.reporting_world import (
    CREDENTIALS,
    ReportingWorld,
    ScriptedClient,
    reporting_settings,
)

KEYS = {"reporter": ["report"], "reviewer": ["review"], "boss": ["admin"]}


def filing_settings(database_url: str, tmp_path: Path, ncmec: CybertipSimulator) -> Settings:
    """The reporting world's settings, filing to the simulator on loopback."""
    return reporting_settings(
        database_url,
        tmp_path,
        cybertip_url=ncmec.url,
        cybertip_username=CREDENTIALS[0],
        cybertip_password=CREDENTIALS[1],
        url_allow_private=True,
        deliver_in_serve=False,
    )


@dataclass
class Api:
    http: TestClient
    world: ReportingWorld
    keys: dict[str, str]

    def as_(self, name: str = "reporter") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name]}"}

    def post(
        self, path: str, body: dict[str, Any] | None = None, as_: str = "reporter"
    ) -> Response:
        return self.http.post(path, json=body, headers=self.as_(as_))

    def get(self, path: str, as_: str = "reporter", **params: Any) -> Response:
        return self.http.get(path, headers=self.as_(as_), params=params)


@pytest.fixture
def api(database_url: str, tmp_path: Path, ncmec: CybertipSimulator) -> Iterator[Api]:
    database = Database.open(database_url)
    settings = filing_settings(database_url, tmp_path, ncmec)
    world = ReportingWorld.make(database, settings, ncmec)
    keys = ApiKeys(database)
    secrets = {name: keys.create(name, scopes)[0] for name, scopes in KEYS.items()}
    with TestClient(create_app(settings), raise_server_exceptions=False) as http:
        yield Api(http, world, secrets)
    database.close()


def _error(response: Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    return str(error["message"])


def test_every_route_needs_the_report_scope(api: Api) -> None:
    routes = [
        ("post", "/v1/reports", {"items": [1]}),
        ("post", "/v1/reports/preview", {"items": [1]}),
        ("get", "/v1/reports", None),
        ("get", "/v1/reports/1", None),
        ("get", "/v1/reports/1/xml", None),
        ("post", "/v1/reports/1/retry", None),
        ("post", "/v1/reports/1/retract", None),
    ]
    for method, path, body in routes:
        options = {"json": body} if body is not None else {}
        assert api.http.request(method, path, **options).status_code == 401, path
        refused = api.http.request(method, path, headers=api.as_("reviewer"), **options)
        assert refused.status_code == 403, path
        assert refused.json()["error"]["code"] == "forbidden"
        admitted = api.http.request(method, path, headers=api.as_("boss"), **options)
        assert admitted.status_code != 403, path  # an admin key holds every scope
    assert not api.world.ncmec.reports


def test_filing_answers_201_with_the_finished_report_and_its_timeline(api: Api) -> None:
    items = api.world.confirmed(2, user="user-9")
    answer = api.post(
        "/v1/reports",
        {"items": items, "details": {"screen_name": "someone", "urls": ["https://example.com/u"]}},
    )
    assert answer.status_code == 201, answer.text
    report = answer.json()
    assert report["status"] == "finished"
    assert report["environment"] == "test"
    assert report["user_ref"] == "user-9"
    assert report["created_by"] == "key:reporter"
    assert report["ncmec_report_id"]
    assert sorted(file["review_item_id"] for file in report["files"]) == sorted(items)
    assert all(file["ncmec_file_id"] for file in report["files"])
    endpoints = [call["endpoint"] for call in report["calls"]]
    assert endpoints[0] == "submit"
    assert endpoints[-1] == "finish"
    assert endpoints.count("upload") == 2
    assert all(call["request_id"] and call["response_code"] == 0 for call in report["calls"])
    shown = api.get(f"/v1/reports/{report['id']}")
    assert shown.status_code == 200
    assert shown.json()["calls"] == report["calls"]


def test_a_draft_only_when_asked_and_the_item_is_never_reported_twice(api: Api) -> None:
    items = api.world.confirmed(1)
    draft = api.post("/v1/reports", {"items": items, "file": False})
    assert draft.status_code == 201, draft.text
    assert draft.json()["status"] == "draft"
    assert draft.json()["calls"] == []
    _error(api.post("/v1/reports", {"items": items}), 409, "report_conflict")


def test_bad_drafts_answer_409_400_404_and_422(api: Api) -> None:
    open_items = api.world.uploaded(1)
    message = _error(api.post("/v1/reports", {"items": open_items}), 409, "report_conflict")
    assert "not confirmed" in message
    confirmed = api.world.confirmed(1)
    message = _error(
        api.post("/v1/reports", {"items": confirmed, "details": {"annotations": ["nonsense"]}}),
        400,
        "invalid_report",
    )
    assert "annotations" in message
    assert api.post("/v1/reports", {"items": [987654]}).status_code in (400, 404)
    assert api.post("/v1/reports", {"items": []}).status_code == 422
    assert api.post("/v1/reports", {"items": confirmed, "extra": 1}).status_code == 422
    _error(api.get("/v1/reports/987654"), 404, "unknown_report")
    _error(api.get("/v1/reports/987654/xml"), 404, "unknown_report")


def test_list_pages_newest_first_and_filters(api: Api) -> None:
    ids = []
    for user in ("user-1", "user-2", "user-3"):
        items = api.world.confirmed(1, user=user)
        ids.append(api.post("/v1/reports", {"items": items, "file": False}).json()["id"])
    first = api.get("/v1/reports", limit=2).json()
    assert [report["id"] for report in first["reports"]] == [ids[2], ids[1]]
    assert first["next_before"] == ids[1]
    second = api.get("/v1/reports", limit=2, before=first["next_before"]).json()
    assert [report["id"] for report in second["reports"]] == [ids[0]]
    assert second["next_before"] is None
    assert [r["id"] for r in api.get("/v1/reports", user_ref="user-2").json()["reports"]] == [
        ids[1]
    ]
    api.post(f"/v1/reports/{ids[0]}/retry")
    finished = api.get("/v1/reports", status="finished").json()["reports"]
    assert [report["id"] for report in finished] == [ids[0]]


def test_xml_is_application_xml_and_the_preview_writes_nothing(api: Api) -> None:
    items = api.world.confirmed(1)
    preview = api.post("/v1/reports/preview", {"items": items, "details": {"screen_name": "zed"}})
    assert preview.status_code == 200, preview.text
    root = etree.fromstring(preview.json()["xml"].encode())
    assert root.findtext(".//screenName") == "zed"
    assert api.get("/v1/reports").json()["reports"] == []
    report = api.post("/v1/reports", {"items": items}).json()
    xml = api.get(f"/v1/reports/{report['id']}/xml")
    assert xml.status_code == 200
    assert xml.headers["content-type"].startswith("application/xml")
    assert etree.fromstring(xml.content).tag.endswith("report")


def test_retry_files_a_failed_report(api: Api) -> None:
    items = api.world.confirmed(1)
    api.world.ncmec.fail_next("code:4100")
    failed = api.post("/v1/reports", {"items": items})
    assert failed.status_code == 201
    assert failed.json()["status"] == "failed"
    assert failed.json()["error_kind"] == "invalid"
    retried = api.post(f"/v1/reports/{failed.json()['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "finished"
    _error(api.post(f"/v1/reports/{failed.json()['id']}/retry"), 409, "report_conflict")


def failed_after_submit(world: ReportingWorld, items: list[int]) -> int:
    """A report NCMEC opened that failed at the upload: open at NCMEC, retractable."""
    reports = world.reports()
    report_id = reports.draft(items, actor="user:alice")
    client = reports.client
    assert isinstance(client, ScriptedClient)
    client.before("upload", lambda: world.ncmec.fail_next("code:4000"))
    assert reports.file(report_id)["status"] == "failed"
    return report_id


def test_retract_withdraws_an_open_report_and_refuses_a_finished_one(api: Api) -> None:
    draft = api.post("/v1/reports", {"items": api.world.confirmed(1), "file": False}).json()
    _error(api.post(f"/v1/reports/{draft['id']}/retract"), 409, "report_conflict")
    report_id = failed_after_submit(api.world, api.world.confirmed(1, user="user-open"))
    retracted = api.post(f"/v1/reports/{report_id}/retract")
    assert retracted.status_code == 200, retracted.text
    assert retracted.json()["status"] == "retracted"
    assert retracted.json()["calls"][-1]["endpoint"] == "retract"
    finished = api.post("/v1/reports", {"items": api.world.confirmed(1, user="user-done")}).json()
    message = _error(api.post(f"/v1/reports/{finished['id']}/retract"), 409, "report_conflict")
    assert finished["ncmec_report_id"] in message
