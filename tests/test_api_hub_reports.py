"""The annual report's routes in process, on both engines: a member sends
its signed record (422 for a bad signature, 400 naming the field for a bad
record), admins enter totals and forums, and the report's three formats,
with per-member figures only for admins and members that published."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hashmatch.hub.keys import public_key_text
from hashmatch.hub.period_reports import signed_report
from tests.hub_report_world import record
from tests.test_api_hub import Hub, open_hub
from tests.test_api_review import _error


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    yield from open_hub(database_url, tmp_path)


def _signing(hub: Hub, number: int) -> tuple[int, Ed25519PrivateKey]:
    member = hub.member(number)["member"]
    key = Ed25519PrivateKey.generate()
    added = hub.http.post(
        "/v1/hub/me/keys",
        headers=hub.as_(f"member{number}"),
        json={"public_key": public_key_text(key.public_key())},
    )
    assert added.status_code == 201, added.text
    return member["id"], key


def _send(hub: Hub, number: int, envelope: dict[str, Any]) -> Any:
    return hub.http.post("/v1/hub/reports", headers=hub.as_(f"member{number}"), json=envelope)


def test_members_send_signed_records_and_admins_read_the_report(hub: Hub) -> None:
    one, key_one = _signing(hub, 1)
    two, key_two = _signing(hub, 2)
    sent = _send(
        hub,
        1,
        signed_report(record("2026", filed=30), member_id=one, private_key=key_one, publish=True),
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["replaced"] is False
    sent = _send(
        hub,
        2,
        signed_report(record("2026", filed=70), member_id=two, private_key=key_two, publish=False),
    )
    assert sent.status_code == 201, sent.text
    total = hub.admin(
        "put", "/totals", json={"period": "2026", "source": "NCMEC CyberTipline", "total": 200}
    )
    assert total.status_code == 200, total.text
    forum = hub.admin(
        "post",
        "/forums",
        json={
            "date": "2026-04-01",
            "title": "Spring",
            "participants": 40,
            "countries": ["gb", "US"],
        },
    )
    assert forum.status_code == 201, forum.text
    assert forum.json()["countries"] == ["GB", "US"]

    admin = hub.http.get(
        "/v1/hub/annual-report", params={"period": "2026"}, headers=hub.as_("boss")
    ).json()
    assert admin["national_totals"][0]["share_percent"] == 50.0
    assert [m["member"] for m in admin["per_member"]] == ["Example Photos 1", "Example Photos 2"]
    seen = hub.http.get(
        "/v1/hub/annual-report", params={"period": "2026"}, headers=hub.as_("member2")
    ).json()
    assert seen["audience"] == "members"
    assert [m["member"] for m in seen["per_member"]] == ["Example Photos 1"]

    as_csv = hub.http.get(
        "/v1/hub/annual-report",
        params={"period": "2026", "format": "csv"},
        headers=hub.as_("member2"),
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert {"Example Photos 1"} == {r["section"] for r in rows if r["kind"] == "member"}
    html = hub.http.get(
        "/v1/hub/annual-report",
        params={"period": "2026", "format": "html"},
        headers=hub.as_("boss"),
    )
    assert html.headers["content-type"].startswith("text/html")
    assert html.text.count('<svg role="img"') == 3
    assert "<script" not in html.text
    assert "50% of NCMEC CyberTipline reports came from members" in html.text


def test_a_bad_signature_is_422_and_a_bad_record_is_400_naming_the_field(hub: Hub) -> None:
    one, key = _signing(hub, 1)
    envelope = signed_report(record("2026", filed=1), member_id=one, private_key=key, publish=False)
    envelope["report"]["figures"]["cybertip_reports"]["filed"]["value"] = 2
    assert "changed after it was signed" in _error(_send(hub, 1, envelope), 422, "bad_signature")
    stranger = Ed25519PrivateKey.generate()
    unknown = signed_report(record("2026"), member_id=one, private_key=stranger, publish=False)
    assert "no member registered" in _error(_send(hub, 1, unknown), 422, "bad_signature")
    broken = record("2026")
    broken["period"]["kind"] = "decade"
    refused = _send(hub, 1, signed_report(broken, member_id=one, private_key=key, publish=False))
    assert _error(refused, 400, "invalid_field").startswith("report.period.kind:")
    assert _error(_send(hub, 1, {"type": "nonsense"}), 400).startswith("the body is not")


def test_scopes_guard_every_route(hub: Hub) -> None:
    hub.member(1)
    for method, path in [
        ("post", "/v1/hub/reports"),
        ("get", "/v1/hub/annual-report?period=2026"),
        ("get", "/v1/hub/templates"),
    ]:
        _error(hub.http.request(method, path), 401)
        _error(hub.http.request(method, path, headers=hub.as_("looker")), 403)
    for method, path in [("put", "/v1/hub/admin/totals"), ("post", "/v1/hub/admin/forums")]:
        _error(hub.http.request(method, path, json={}, headers=hub.as_("member1")), 403)


def test_bad_totals_forums_and_periods_are_4xx_naming_the_field(hub: Hub) -> None:
    for body, field in [
        ({"period": "20266", "source": "NCMEC", "total": 1}, "period"),
        ({"period": "2026", "source": "NCMEC\n", "total": 1}, "source"),
        ({"period": "2026", "source": "NCMEC", "total": -1}, "total"),
    ]:
        answer = hub.admin("put", "/totals", json=body)
        assert answer.status_code in (400, 422), answer.text
        assert field in answer.text
    answer = hub.admin(
        "post",
        "/forums",
        json={"date": "2026-04-01", "title": "x", "participants": 1, "countries": ["Britain"]},
    )
    assert "ISO 3166-1" in _error(answer, 400, "invalid_field")
    asked = hub.http.get(
        "/v1/hub/annual-report", params={"period": "soon"}, headers=hub.as_("boss")
    )
    _error(asked, 400)


def test_the_routes_answers_are_typed_in_the_openapi_document(hub: Hub) -> None:
    document = hub.http.get("/openapi.json").json()
    mine = {
        ("post", "/v1/hub/reports"): "201",
        ("put", "/v1/hub/admin/totals"): "200",
        ("post", "/v1/hub/admin/forums"): "201",
        ("post", "/v1/hub/templates"): "201",
        ("get", "/v1/hub/templates"): "200",
        ("get", "/v1/hub/templates/{template_id}"): "200",
    }
    for (method, path), status in mine.items():
        content = document["paths"][path][method]["responses"][status]["content"]
        reference = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert document["components"]["schemas"][reference]["properties"], (method, path)
    report = document["paths"]["/v1/hub/annual-report"]["get"]["responses"]["200"]["content"]
    assert set(report) == {"application/json", "text/csv", "text/html"}


HOSTILE_BODIES = [
    (b"{not json", "malformed"),
    (b"[1, 2]", "not an object"),
    (b'{"kind": 7, "name": ["x"], "title": {}, "type": null}', "wrong types"),
    (b'{"name": "' + b"x" * 5000 + b'", "title": "' + b"x" * 5000 + b'"}', "oversize"),
]


@pytest.mark.parametrize(("body", "why"), HOSTILE_BODIES, ids=[why for _, why in HOSTILE_BODIES])
def test_hostile_bodies_are_4xx_with_a_message(hub: Hub, body: bytes, why: str) -> None:
    hub.member(1)
    for path, who in [
        ("/v1/hub/templates", "member1"),
        ("/v1/hub/reports", "member1"),
        ("/v1/hub/collections", "boss"),
    ]:
        answer = hub.http.post(
            path, content=body, headers={**hub.as_(who), "Content-Type": "application/json"}
        )
        assert 400 <= answer.status_code < 500, (path, why, answer.text)
        assert answer.json()["error"]["message"], (path, why)
    assert (
        len(hub.http.get("/v1/hub/templates", headers=hub.as_("member1")).json()["templates"]) == 0
    )


@pytest.mark.parametrize("period", ["", "2026-Q5", "x" * 5000, "20 26", "-1"])
def test_hostile_periods_are_4xx_with_a_message(hub: Hub, period: str) -> None:
    asked = hub.http.get(
        "/v1/hub/annual-report", params={"period": period}, headers=hub.as_("boss")
    )
    assert 400 <= asked.status_code < 500, asked.text
    assert asked.json()["error"]["message"]
