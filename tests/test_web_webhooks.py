"""The webhooks pages, on both engines: create (secret once), change, rotate,
delete, deliveries and redelivery, and who may do what."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from hashmatch.actions import outbox
from hashmatch.store.models import AuditEntry
from hashmatch.store.workflow import Delivery
from tests.web_ui import Ui

URL = "https://hooks.example.com/hashmatch"
SECRET = re.compile(r'<code id="new-secret" class="secret">([^<]+)</code>')


def hook_form(**changes: object) -> dict[str, object]:
    return {"name": "ops", "url": URL, "events": ["submission.verdict"], "enabled": "on", **changes}


def audited(ui: Ui, action: str) -> list[AuditEntry]:
    with ui.service.database.reading() as session:
        query = select(AuditEntry).where(
            AuditEntry.action == action, AuditEntry.actor.like("user:%")
        )
        return list(session.scalars(query))


def dead_deliveries(ui: Ui, count: int) -> list[int]:
    """``count`` deliveries to the webhook "ops" that gave up."""
    with ui.service.database.transaction() as session:
        for number in range(count):
            outbox.enqueue(session, "submission.verdict", {"n": number}, webhooks=["ops"])
        session.execute(
            update(Delivery).values(
                status="dead", attempts=5, last_status=503, last_error="the receiver answered 503"
            )
        )
        return sorted(session.scalars(select(Delivery.id)), reverse=True)


def test_a_curator_creates_a_webhook_and_sees_its_secret_once(ui: Ui) -> None:
    ui.sign_in("curator")
    assert "No webhooks yet" in ui.get("/ui/webhooks").text
    assert ui.get("/ui/webhooks/new").status_code == 200
    made = ui.post("/ui/webhooks", hook_form(events=["submission.verdict", "review.decided"]))
    assert made.status_code == 200, made.text
    secret = SECRET.search(made.text)
    assert secret
    assert len(secret.group(1)) > 20
    assert 'data-copy="new-secret"' in made.text
    for path in ("/ui/webhooks", "/ui/webhooks/ops"):
        page = ui.get(path)
        assert page.status_code == 200
        assert secret.group(1) not in page.text
    assert URL in ui.get("/ui/webhooks").text

    rotated = ui.post("/ui/webhooks/ops/rotate")
    new_secret = SECRET.search(rotated.text)
    assert new_secret
    assert new_secret.group(1) != secret.group(1)
    assert "also signs deliveries until" in rotated.text
    assert new_secret.group(1) not in ui.get("/ui/webhooks/ops").text

    saved = ui.post("/ui/webhooks/ops/edit", {"url": URL + "/v2", "events": ["report.filed"]})
    assert saved.headers["location"] == "/ui/webhooks/ops"
    assert ui.service.database is not None
    shown = ui.get("/ui/webhooks/ops").text
    assert URL + "/v2" in shown
    assert "report.filed" in shown
    assert "Enable" in shown
    assert ui.post("/ui/webhooks/ops/enable").status_code == 303
    assert ui.post("/ui/webhooks/ops/disable").status_code == 303
    assert "Delete webhook ops?" in ui.get("/ui/webhooks/ops/delete").text
    assert ui.post("/ui/webhooks/ops/delete").headers["location"] == "/ui/webhooks"
    assert ui.get("/ui/webhooks/ops").status_code == 404

    for action in ("webhook.create", "webhook.rotate", "webhook.update", "webhook.delete"):
        assert {entry.actor for entry in audited(ui, action)} == {"user:curator"}, action
    with ui.service.database.reading() as session:
        texts = [
            str(entry.after) + str(entry.before) for entry in session.scalars(select(AuditEntry))
        ]
    assert not any(secret.group(1) in text or new_secret.group(1) in text for text in texts)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "needs a name"),
        ({"url": ""}, "url", "Give the URL"),
        ({"url": "ftp://x.example.com/"}, "url", "invalid webhook URL"),
        ({"url": "http://127.0.0.1/hook"}, "url", "private or reserved"),
        ({"events": []}, "events", "at least one event"),
        ({"name": "no spaces"}, "name", "name"),
    ],
)
def test_a_wrong_webhook_is_shown_next_to_its_field(
    ui: Ui, changes: dict[str, object], field: str, message: str
) -> None:
    ui.sign_in("curator")
    answer = ui.post("/ui/webhooks", hook_form(**changes))
    assert answer.status_code == 422
    assert message in answer.text.split(f'id="e-{field}">', 1)[1].split("</p>", 1)[0]
    assert 'id="new-secret"' not in answer.text


def test_deliveries_are_paged_and_sent_again(ui: Ui, monkeypatch: pytest.MonkeyPatch) -> None:
    from hashmatch.web import webhooks

    monkeypatch.setattr(webhooks, "PAGE_SIZE", 2)
    ui.sign_in("curator")
    ui.post("/ui/webhooks", hook_form())
    ids = dead_deliveries(ui, 3)
    first = ui.get("/ui/webhooks/ops")
    assert "the receiver answered 503" in first.text
    assert [f"<td>{i}</td>" in first.text for i in ids] == [True, True, False]
    assert f"before={ids[1]}" in first.text
    second = ui.get(f"/ui/webhooks/ops?before={ids[1]}")
    assert f"<td>{ids[2]}</td>" in second.text
    assert f"<td>{ids[0]}</td>" not in second.text
    assert "No deliveries with this status" in ui.get("/ui/webhooks/ops?status=delivered").text

    one = ui.post(f"/ui/webhooks/ops/deliveries/{ids[0]}/redeliver")
    assert one.status_code == 303
    assert "will be sent again" in ui.get(one.headers["location"]).text
    with ui.service.database.reading() as session:
        status = dict(session.execute(select(Delivery.id, Delivery.status)).all())
    assert status[ids[0]] == "pending"
    again = ui.get(ui.post(f"/ui/webhooks/ops/deliveries/{ids[0]}/redeliver").headers["location"])
    assert "pending already" in again.text
    ui.post("/ui/webhooks/ops/redeliver-dead")
    with ui.service.database.reading() as session:
        statuses = set(session.scalars(select(Delivery.status)))
    assert "dead" not in statuses
    assert len(audited(ui, "delivery.redeliver")) == 3
    assert {entry.actor for entry in audited(ui, "delivery.redeliver")} == {"user:curator"}


def test_who_may_see_and_change_webhooks(ui: Ui) -> None:
    ui.sign_in("curator")
    ui.post("/ui/webhooks", hook_form())
    ids = dead_deliveries(ui, 1)
    for name in ("viewer", "legal"):
        ui.sign_in(name)
        page = ui.get("/ui/webhooks/ops")
        assert page.status_code == 200
        assert "Rotate secret" not in page.text
        assert "Redeliver" not in page.text
        assert ui.get("/ui/webhooks/new").status_code == 403
        for path in (
            "/ui/webhooks/ops/rotate",
            "/ui/webhooks/ops/delete",
            "/ui/webhooks/ops/disable",
            f"/ui/webhooks/ops/deliveries/{ids[0]}/redeliver",
            "/ui/webhooks/ops/redeliver-dead",
        ):
            assert ui.post(path).status_code == 403, path
        assert ui.post("/ui/webhooks", hook_form(name="mine")).status_code == 403
    ui.sign_in("reviewer")
    assert ui.get("/ui/webhooks").status_code == 403
    assert audited(ui, "webhook.rotate") == []
