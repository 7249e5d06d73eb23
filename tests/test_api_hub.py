"""The hub's routes under /v1/hub, in process, on both engines: the one
route without a key (rate limit, size limit, hostile input), the applicant's
token, the admin workflow, a member's keys and directory, scopes, and no hub
routes at all when hub_enabled is off."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from hashmatch import audit
from hashmatch.api import create_app
from hashmatch.api.ratelimit import RateLimiter
from hashmatch.apikeys import ApiKeys
from hashmatch.hub.criteria import CRITERION_KEYS
from hashmatch.hub.object_intake import member_identity
from hashmatch.settings import Settings
from hashmatch.store import Database
from tests.hub_world import form_fields, public_key_pem
from tests.interleaving import PATIENCE
from tests.test_api_review import _error

PER_HOUR = 5


@dataclass
class Hub:
    http: TestClient
    secrets: dict[str, str]

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[who]}"}

    def apply(self, number: int = 1, **change: Any) -> Any:
        return self.http.post("/v1/hub/applications", json={**form_fields(number), **change})

    def admin(self, method: str, path: str, **options: Any) -> Any:
        return self.http.request(
            method, f"/v1/hub/admin{path}", headers=self.as_("boss"), **options
        )

    def member(self, number: int = 1) -> dict[str, Any]:
        """An approved member: approve's answer, its key usable as ``member<number>``."""
        created = self.apply(number)
        assert created.status_code == 201, created.text
        application_id = created.json()["id"]
        for key in CRITERION_KEYS:
            checked = self.admin(
                "post", f"/applications/{application_id}/checks", json={"criterion": key}
            )
            assert checked.status_code == 200, checked.text
        approved = self.admin("post", f"/applications/{application_id}/approve")
        assert approved.status_code == 200, approved.text
        self.secrets[f"member{number}"] = approved.json()["api_key"]
        return approved.json()  # type: ignore[no-any-return]


def open_hub(
    database_url: str, tmp_path: Path, *, enabled: bool = True, **more: Any
) -> Iterator[Hub]:
    database = Database.open(database_url)
    keys = ApiKeys(database)
    secrets = {
        name: keys.create(name, scopes)[0]
        for name, scopes in {"boss": ["admin"], "looker": ["match"]}.items()
    }
    database.close()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        hub_enabled=enabled,
        hub_applications_per_hour=PER_HOUR,
        deliver_in_serve=False,
        **more,
    )
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as http:
        yield Hub(http, secrets)


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    yield from open_hub(database_url, tmp_path)


# -- applying without a key ------------------------------------------------------------------


def test_an_organisation_applies_without_a_key_and_follows_its_application(hub: Hub) -> None:
    created = hub.apply()
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["state"] == "submitted"
    token = body.pop("status_token")
    seen = hub.http.get(f"/v1/hub/applications/{body['id']}", params={"token": token})
    assert seen.json() == body
    wrong = hub.http.get(f"/v1/hub/applications/{body['id']}", params={"token": "guess"})
    _error(wrong, 404, "unknown_application")
    rejected = hub.admin(
        "post", f"/applications/{body['id']}/reject", json={"reason": "No terms of service."}
    )
    assert rejected.status_code == 200, rejected.text
    seen = hub.http.get(f"/v1/hub/applications/{body['id']}", params={"token": token}).json()
    assert (seen["state"], seen["rejection_reason"]) == ("rejected", "No terms of service.")
    with hub.http.app.state.service.database.reading() as session:  # type: ignore[attr-defined]
        trail = audit.find(session, target=f"hub-application:{body['id']}")
        assert [(e.action, e.actor, e.client) for e in trail] == [
            ("hub.application.submit", "anonymous:applicant", "testclient"),
            ("hub.application.reject", "key:boss", "testclient"),
        ]


def test_applying_is_rate_limited_per_address(hub: Hub) -> None:
    for number in range(PER_HOUR):
        assert hub.apply(number).status_code == 201
    refused = hub.apply(99)
    assert "too many applications" in _error(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) > 0
    # Bad requests count too: a flood of garbage is no cheaper.
    assert hub.http.post("/v1/hub/applications", content=b"{").status_code == 429


def test_an_oversized_application_is_refused_before_it_is_read(hub: Hub) -> None:
    huge = b'{"organisation": "' + b"x" * 70_000 + b'"}'
    _error(hub.http.post("/v1/hub/applications", content=huge), 413, "too_large")
    chunks = iter([b'{"organisation": "', b"x" * 70_000, b'"}'])  # no Content-Length
    _error(hub.http.post("/v1/hub/applications", content=chunks), 413, "too_large")


HOSTILE: list[tuple[Any, int, str]] = [
    (b"not json", 422, "body"),
    (b"[]", 422, "body"),
    (b'{"organisation": "\\ud800"}', 422, "body"),
    ({**form_fields(), "extra": 1}, 422, "extra"),
    ({**form_fields(), "organisation": "a\u0000b"}, 400, "NUL"),
    ({**form_fields(), "organisation": "two\nlines"}, 400, "control characters"),
    ({**form_fields(), "website": "file:///etc/passwd"}, 400, "https://"),
    ({**form_fields(), "contact_email": "@"}, 400, "email"),
    ({**form_fields(), "evidence": {"technology": "x"}}, 400, "evidence.commitment"),
    ({**form_fields(), "evidence": {str(n): "x" for n in range(7)}}, 422, "evidence"),
    ({**form_fields(), "product": ["nested"]}, 422, "product"),
    ({**form_fields(), "evidence": {"technology": {"deep": [[[]]]}}}, 422, "evidence"),
]


def test_hostile_applications_are_4xx_with_a_message(hub: Hub) -> None:
    hub.http.app.state.hub_applicants = RateLimiter(per_second=1, burst=100)  # type: ignore[attr-defined]
    for body, status, says in HOSTILE:
        if isinstance(body, bytes):
            answer = hub.http.post(
                "/v1/hub/applications", content=body, headers={"Content-Type": "application/json"}
            )
        else:
            answer = hub.http.post("/v1/hub/applications", json=body)
        assert says in _error(answer, status), body
    assert hub.admin("get", "/applications").json() == {"applications": [], "next_before": None}


# -- admins, members, scopes -----------------------------------------------------------------


def test_the_admin_workflow_and_a_members_own_routes(hub: Hub) -> None:
    application_id = hub.apply().json()["id"]
    early = hub.admin("post", f"/applications/{application_id}/approve")
    assert "not yet: technology" in _error(early, 409, "membership_conflict")
    approval = hub.member(2)
    assert approval["member"]["state"] == "active"
    listed = hub.admin("get", "/applications", params={"state": "approved"}).json()["applications"]
    assert [a["organisation"] for a in listed] == ["Example Photos 2"]
    assert listed[0]["criteria"][0]["checked_by"] == "key:boss"
    me = hub.http.get("/v1/hub/me", headers=hub.as_("member2")).json()
    assert me["name"] == "Example Photos 2"
    added = hub.http.post(
        "/v1/hub/me/keys", json={"public_key": public_key_pem()}, headers=hub.as_("member2")
    )
    assert added.status_code == 201, added.text
    kid = added.json()["kid"]
    bad_key = hub.http.post(
        "/v1/hub/me/keys", json={"public_key": "AAAA"}, headers=hub.as_("member2")
    )
    assert "32" in _error(bad_key, 400)
    (entry,) = hub.http.get("/v1/hub/members", headers=hub.as_("member2")).json()["members"]
    assert [k["kid"] for k in entry["keys"]] == [kid]
    # The Identity its objects name as created_by_ref, as the hub's intake checks it.
    assert entry["identity"] == member_identity(entry["id"])
    assert entry["identity"].startswith("identity--")
    revoked = hub.http.delete(f"/v1/hub/me/keys/{kid}", headers=hub.as_("member2"))
    assert revoked.json()["revoked_at"] is not None
    member_id = approval["member"]["id"]
    dues = hub.admin(
        "put",
        f"/members/{member_id}/dues",
        json={"invoice": "INV-1", "due": "2020-01-01T00:00:00Z", "paid": False},
    )
    assert dues.json()["dues"]["invoice"] == "INV-1"
    (lapsed,) = hub.admin("post", "/lapse-check").json()["lapsed"]
    assert lapsed["member_id"] == member_id
    refused = hub.http.get("/v1/hub/members", headers=hub.as_("member2"))
    assert "is lapsed: Sharing access lapsed: annual dues" in _error(
        refused, 403, "membership_inactive"
    )
    notices = hub.http.get("/v1/hub/me", headers=hub.as_("member2")).json()["notices"]
    assert notices[0]["kind"] == "lapsed"
    suspended = hub.admin("post", f"/members/{member_id}/suspend", json={"reason": "abuse"})
    assert suspended.json()["state"] == "suspended"


def test_a_hub_key_cannot_use_admin_routes_and_others_cannot_use_hub_routes(hub: Hub) -> None:
    hub.member(1)
    for method, path in [
        ("get", "/v1/hub/admin/applications"),
        ("post", "/v1/hub/admin/applications/1/approve"),
        ("post", "/v1/hub/admin/members/1/reinstate"),
        ("post", "/v1/hub/admin/lapse-check"),
    ]:
        answer = hub.http.request(method, path, headers=hub.as_("member1"))
        assert "'admin' scope" in _error(answer, 403, "forbidden")
    for path in ("/v1/hub/me", "/v1/hub/members"):
        _error(hub.http.get(path, headers=hub.as_("looker")), 403, "forbidden")
        _error(hub.http.get(path), 401, "unauthorized")
    no_member = hub.http.get("/v1/hub/me", headers=hub.as_("boss"))
    _error(no_member, 404, "unknown_member")
    directory = hub.http.get("/v1/hub/members", headers=hub.as_("boss"))
    assert [entry["name"] for entry in directory.json()["members"]] == ["Example Photos 1"]


def test_the_hub_routes_are_documented_with_the_keyless_exception(hub: Hub) -> None:
    paths = hub.http.get("/openapi.json").json()["paths"]
    apply = paths["/v1/hub/applications"]["post"]
    assert apply["security"] == []
    assert "evidence" in apply["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert "/v1/hub/admin/members/{member_id}/dues" in paths


def test_every_hub_answer_is_typed(hub: Hub) -> None:
    document = hub.http.get("/openapi.json").json()
    operations = [
        (path, operation)
        for path, item in document["paths"].items()
        if path.startswith("/v1/hub/")
        # JSON, CSV or HTML, as ?format= asks (hub-annual-report.md)
        and path != "/v1/hub/annual-report"
        for operation in item.values()
    ]
    assert len(operations) >= 18  # membership, collections, reports, templates
    for path, operation in operations:
        success = operation["responses"].get("200") or operation["responses"]["201"]
        schema = success["content"]["application/json"]["schema"]
        name = schema["$ref"].split("/")[-1]
        assert document["components"]["schemas"][name]["properties"], path


def test_serve_runs_the_lapse_check_on_its_own(database_url: str, tmp_path: Path) -> None:
    for hub in open_hub(database_url, tmp_path, hub_lapse_check_minutes=0.002):
        member_id = hub.member()["member"]["id"]
        hub.admin(
            "put",
            f"/members/{member_id}/dues",
            json={"invoice": "I", "due": "2020-01-01T00:00:00Z", "paid": False},
        )
        for _ in range(PATIENCE * 10):
            if hub.http.get("/v1/hub/me", headers=hub.as_("member1")).json()["state"] == "lapsed":
                break
            time.sleep(0.1)
        me = hub.http.get("/v1/hub/me", headers=hub.as_("member1")).json()
        assert me["state"] == "lapsed"
        assert me["notices"][0]["kind"] == "lapsed"


def test_without_hub_enabled_there_are_no_hub_routes_or_pages(
    database_url: str, tmp_path: Path
) -> None:
    for hub in open_hub(database_url, tmp_path, enabled=False):
        assert hub.apply().status_code == 404
        assert hub.http.get("/v1/hub/me", headers=hub.as_("boss")).status_code == 404
        assert hub.http.get("/ui/hub/apply").status_code == 404
        assert "/v1/hub/applications" not in hub.http.get("/openapi.json").json()["paths"]
        assert hub.http.app.state.service.hub_lapse_check is None  # type: ignore[attr-defined]
