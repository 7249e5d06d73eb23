"""Webhook routes under /v1, in process, on both engines: the secret shown
once, keys and scopes, hostile input, deliveries and redelivery, metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hashmatch.actions import outbox
from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.models import AuditEntry
from hashmatch.webhooks import verify
from tests.webhook_receiver import Receiver, running

Client = tuple[TestClient, dict[str, str], Database]


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[Client]:
    database = Database.open(database_url)
    keys = ApiKeys(database)
    curate = keys.create("curator", ["curate"])[0]
    match = keys.create("matcher", ["match"])[0]
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        url_allow_private=True,
        webhook_max_attempts=1,
    )
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield (
            test_client,
            {"Authorization": f"Bearer {curate}", "X-Match": f"Bearer {match}"},
            database,
        )
    database.close()


def test_webhook_lifecycle(client: Client) -> None:
    http, curate, database = client
    created = http.post(
        "/v1/webhooks",
        json={
            "name": "mod",
            "url": "https://hooks.example.com/hm",
            "events": ["submission.verdict"],
        },
        headers=curate,
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert len(secret) >= 40
    assert (
        http.post(
            "/v1/webhooks", json=created.json() | {"secret": None}, headers=curate
        ).status_code
        == 422
    )
    again = http.post(
        "/v1/webhooks", json={"name": "mod", "url": "https://a.example/"}, headers=curate
    )
    assert again.status_code == 409
    listed = http.get("/v1/webhooks", headers=curate)
    assert [hook["name"] for hook in listed.json()["webhooks"]] == ["mod"]
    assert secret not in listed.text
    assert secret not in http.get("/v1/webhooks/mod", headers=curate).text
    changed = http.patch(
        "/v1/webhooks/mod", json={"enabled": False, "events": ["report.filed"]}, headers=curate
    )
    assert (changed.json()["enabled"], changed.json()["events"]) == (False, ["report.filed"])
    rotated = http.post("/v1/webhooks/mod/rotate", headers=curate).json()
    assert rotated["secret"] != secret
    assert rotated["previous_secret_until"] is not None
    assert http.delete("/v1/webhooks/mod", headers=curate).json() == {"deleted": "mod"}
    assert http.get("/v1/webhooks/mod", headers=curate).status_code == 404
    with database.reading() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("webhook.%")).order_by(AuditEntry.seq)
        ).all()
    assert [entry.action for entry in entries] == [
        "webhook.create",
        "webhook.update",
        "webhook.rotate",
        "webhook.delete",
    ]
    assert {entry.actor for entry in entries} == {"key:curator"}
    for entry in entries:
        assert secret not in str(entry.before) + str(entry.after)
        assert rotated["secret"] not in str(entry.before) + str(entry.after)


def test_keys_and_scopes(client: Client) -> None:
    http, curate, _ = client
    body = {"name": "x", "url": "https://a.example/"}
    assert http.post("/v1/webhooks", json=body).status_code == 401
    wrong = {"Authorization": curate["X-Match"]}
    assert http.post("/v1/webhooks", json=body, headers=wrong).status_code == 403
    assert http.get("/v1/deliveries/1", headers=wrong).status_code == 403


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"name": "x", "url": "ftp://a.example/"}, 400, "invalid webhook URL"),
        ({"name": "x", "url": "http://a.example/\x00"}, 400, "control characters"),
        ({"name": "x", "url": "http://a.example/\ud800"}, 422, "valid string"),
        ({"name": "x", "url": "http://bücher.example/"}, 400, "xn--"),
        ({"name": "x", "url": "https://a.example/" + "a" * 3000}, 422, "2000"),
        ({"name": "x", "url": "https://a.example/", "events": ["nope"]}, 400, "unknown event"),
        ({"name": "x\x00", "url": "https://a.example/"}, 400, "invalid webhook name"),
        ({"name": "../x", "url": "https://a.example/"}, 400, "invalid webhook name"),
        ({"name": "x", "url": "https://a.example/", "extra": 1}, 422, "extra"),
        ({"name": "x", "url": ["https://a.example/"]}, 422, "string"),
    ],
)
def test_hostile_input_is_refused_with_a_message(
    client: Client, body: dict[str, object], status: int, message: str
) -> None:
    http, curate, _ = client
    sent = json.dumps(body)  # escapes what UTF-8 cannot carry (a lone surrogate)
    answer = http.post(
        "/v1/webhooks", content=sent, headers={**curate, "Content-Type": "application/json"}
    )
    assert answer.status_code == status, answer.text
    assert message in answer.text


def test_a_huge_body_is_refused(client: Client) -> None:
    http, curate, _ = client
    huge = {"name": "x", "url": "https://a.example/", "events": ["submission.verdict"] * 100_000}
    answer = http.post("/v1/webhooks", json=huge, headers=curate)
    assert 400 <= answer.status_code < 500
    assert "error" in answer.json()


def test_deliveries_listed_shown_and_redelivered(client: Client) -> None:
    http, curate, database = client
    with running(Receiver(lambda _item: 500)) as receiver:
        created = http.post(
            "/v1/webhooks",
            json={"name": "mod", "url": receiver.url, "events": ["submission.verdict"]},
            headers=curate,
        ).json()
        with database.transaction() as session:
            event_id = outbox.enqueue(session, "submission.verdict", {"n": 1})
        outbox.wake_deliverers()  # the app's deliverer is in this process

        def page(status: str) -> list[dict[str, object]]:
            answer = http.get(f"/v1/webhooks/mod/deliveries?status={status}", headers=curate)
            assert answer.status_code == 200, answer.text
            return list(answer.json()["deliveries"])

        deadline = time.monotonic() + 30
        while not page("dead") and time.monotonic() < deadline:
            time.sleep(0.02)
        [dead] = page("dead")
        assert (dead["event_id"], dead["attempts"], dead["last_status"]) == (event_id, 1, 500)
        shown = http.get(f"/v1/deliveries/{dead['id']}", headers=curate).json()
        assert [(entry["status_code"], entry["error"]) for entry in shown["log"]] == [
            (500, "HTTP 500")
        ]
        receiver.answer = lambda _item: 200
        again = http.post(f"/v1/deliveries/{dead['id']}/redeliver", headers=curate)
        assert again.json() == {"redelivered": [dead["id"]]}
        while not page("delivered") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [item["id"] for item in page("delivered")] == [dead["id"]]
    assert [
        verify(created["secret"], r.headers, r.body)["event_id"] for r in receiver.received
    ] == [
        event_id,
        event_id,
    ]
    assert http.get("/v1/deliveries/999999", headers=curate).status_code == 404
    assert http.post("/v1/deliveries/999999/redeliver", headers=curate).status_code == 404
    assert http.get("/v1/webhooks/mod/deliveries?status=lost", headers=curate).status_code == 400
    assert http.get("/v1/webhooks/nobody/deliveries", headers=curate).status_code == 404
    metrics = http.get("/metrics", headers=curate).text
    assert "hashmatch_outbox_depth 0.0" in metrics
    assert "hashmatch_outbox_oldest_pending_seconds 0.0" in metrics
