"""``/v1/evidence`` on both engines: scopes, listing, showing, exporting a
zip that verifies, holds placed and released, every access audited."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hashmatch import audit
from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.reporting.evidence import Evidence
from hashmatch.reporting.evidence.export import check_zip
from hashmatch.store import Database
from tests.evidence_world import OBJECTS, evidence_settings, long_ago, preserved


@dataclass
class Api:
    http: TestClient
    evidence: Evidence
    keys: dict[str, str]

    def as_(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name]}"}


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    database = Database.open(database_url)
    settings = evidence_settings(tmp_path, database_url, deliver_in_serve=False)
    keys = ApiKeys(database)
    scopes = {"legal": ["evidence"], "reviewer": ["review", "report"], "boss": ["admin"]}
    secrets = {name: keys.create(name, granted)[0] for name, granted in scopes.items()}
    with TestClient(create_app(settings), raise_server_exceptions=False) as http:
        yield Api(http, Evidence(database, settings), secrets)
    database.close()


def test_every_route_needs_the_evidence_scope(api: Api) -> None:
    package_id = preserved(api.evidence)
    routes = [
        ("get", "/v1/evidence", None),
        ("get", f"/v1/evidence/{package_id}", None),
        ("get", f"/v1/evidence/{package_id}/export", None),
        ("post", f"/v1/evidence/{package_id}/holds", {"reason": "case"}),
        ("delete", "/v1/evidence/holds/1", None),
    ]
    for method, path, body in routes:
        options = {"json": body} if body is not None else {}
        assert api.http.request(method, path, **options).status_code == 401
        refused = api.http.request(method, path, headers=api.as_("reviewer"), **options)
        assert refused.status_code == 403, path
        assert refused.json()["error"]["code"] == "forbidden"
    with api.evidence.database.reading() as session:
        assert audit.find(session, action="evidence.list") == []
        assert audit.find(session, action="evidence.view") == []


def test_list_show_and_export(api: Api) -> None:
    package_id = preserved(api.evidence)
    listed = api.http.get("/v1/evidence", headers=api.as_("legal"))
    assert listed.status_code == 200, listed.text
    assert [p["id"] for p in listed.json()["packages"]] == [package_id]
    shown = api.http.get(f"/v1/evidence/{package_id}", headers=api.as_("boss"))
    assert shown.status_code == 200, shown.text
    assert [o["name"] for o in shown.json()["objects"]] == [n for n, _ in OBJECTS] + [
        "manifest.json"
    ]
    assert "wrapped_key" not in shown.text
    exported = api.http.get(f"/v1/evidence/{package_id}/export", headers=api.as_("legal"))
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/zip"
    assert f"evidence-{package_id}.zip" in exported.headers["content-disposition"]
    assert check_zip(io.BytesIO(exported.content)) == []
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        assert archive.read("report.xml") == dict(OBJECTS)["report.xml"]
    missing = api.http.get("/v1/evidence/999", headers=api.as_("legal"))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_evidence"
    assert api.http.get("/v1/evidence/999/export", headers=api.as_("legal")).status_code == 404
    with api.evidence.database.reading() as session:
        seen = [(e.action, e.actor) for e in audit.find(session, action="evidence.*")]
    assert seen[1:] == [
        ("evidence.list", "key:legal"),
        ("evidence.view", "key:boss"),
        ("evidence.export", "key:legal"),
    ]


def test_holds_placed_and_released(api: Api) -> None:
    package_id = preserved(api.evidence, finished_at=long_ago())
    blank = api.http.post(
        f"/v1/evidence/{package_id}/holds", json={"reason": " "}, headers=api.as_("legal")
    )
    assert blank.status_code == 400
    assert blank.json()["error"]["code"] == "evidence_error"
    placed = api.http.post(
        f"/v1/evidence/{package_id}/holds",
        json={"reason": "subpoena 14", "until": "2099-01-01T00:00:00Z"},
        headers=api.as_("legal"),
    )
    assert placed.status_code == 201, placed.text
    hold = placed.json()
    assert hold["created_by"] == "key:legal"
    assert hold["until"].startswith("2099-01-01")
    due = api.http.get("/v1/evidence", params={"due": "true"}, headers=api.as_("legal"))
    assert due.json()["packages"] == []
    released = api.http.delete(f"/v1/evidence/holds/{hold['id']}", headers=api.as_("legal"))
    assert released.status_code == 200, released.text
    assert released.json()["released_by"] == "key:legal"
    again = api.http.delete(f"/v1/evidence/holds/{hold['id']}", headers=api.as_("legal"))
    assert again.status_code == 400
    assert api.evidence.purge_due() == [package_id]
    gone = api.http.get(f"/v1/evidence/{package_id}/export", headers=api.as_("legal"))
    assert gone.status_code == 400
    assert "purged" in gone.json()["error"]["message"]
