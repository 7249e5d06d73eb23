"""The review queue's routes under /v1/review, in process, on both engines:
scopes, claims that never collide, each decision and what it sets going,
every refusal as a 4xx with a message (never a 500), and rules whose review
actions carry follow-ups."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select

from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.banks import Banks
from hashmatch.matching import Matcher
from hashmatch.review import Review, Reviewer
from hashmatch.store import Bank, Content, Database
from hashmatch.store.review_models import Opinion
from hashmatch.store.workflow import Delivery, Event, ReportRequest, Webhook
from tests.review_world import PHOTO, REVIEW_KNOWN, ReviewWorld, review_settings

#: Each key's scopes; a key's headers are ``api.as_(name)``.
KEYS = {
    "platform": ["submit"],
    "alice": ["review"],
    "bob": ["review"],
    "boss": ["admin"],
    "curator": ["curate"],
    "looker": ["match"],
}


@dataclass
class Api:
    http: TestClient
    world: ReviewWorld
    secrets: dict[str, str]

    @property
    def database(self) -> Database:
        return self.world.database

    def as_(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[name]}"}

    def next(self, name: str, queue: str = "default") -> Response:
        return self.http.get("/v1/review/next", params={"queue": queue}, headers=self.as_(name))

    def decide(self, name: str, item_id: int, **body: Any) -> Response:
        return self.http.post(
            f"/v1/review/items/{item_id}/decision", json=body, headers=self.as_(name)
        )


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from open_api(database_url, tmp_path, KEYS)


def open_api(database_url: str, tmp_path: Path, scopes: dict[str, list[str]]) -> Iterator[Api]:
    """The review world behind the API, a key per name with its scopes, the
    service loaded (a lookup before then is a 503)."""
    database = Database.open(database_url)
    settings = review_settings(database_url, tmp_path, deliver_in_serve=False)
    world = ReviewWorld.make(database, settings)
    keys = ApiKeys(database)
    secrets = {name: keys.create(name, granted)[0] for name, granted in scopes.items()}
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as http:
        app.state.service.wait_until_loaded(60)
        yield Api(http, world, secrets)
    database.close()


def _error(response: Response, status: int, code: str | None = None) -> str:
    """The error's message, once the status (and code) are as expected."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    if code is not None:
        assert error["code"] == code, error
    assert error["message"]
    return str(error["message"])


# -- scopes ----------------------------------------------------------------------

ROUTES = [
    ("post", "/v1/review/items", {"submission_id": 1}),
    ("get", "/v1/review/next", None),
    ("get", "/v1/review/items", None),
    ("get", "/v1/review/items/{item}", None),
    ("post", "/v1/review/items/{item}/claim", None),
    ("post", "/v1/review/items/{item}/release", None),
    ("post", "/v1/review/items/{item}/decision", {"decision": "skip"}),
    ("post", "/v1/review/items/{item}/reopen", {"note": ""}),
    ("get", "/v1/review/queues", None),
    ("put", "/v1/review/queues/default", {"sla_minutes": 5}),
    ("get", "/v1/review/reveals", None),
]
#: What a ``review`` key may not do; a ``submit`` key may only queue.
ADMIN_ONLY = {"/v1/review/items/{item}/reopen", "/v1/review/queues/default", "/v1/review/reveals"}
QUEUEING = ("post", "/v1/review/items")


def test_scopes(api: Api) -> None:
    [item] = api.world.queue_photos(1)
    for method, template, body in ROUTES:
        path = template.format(item=item)
        call = _caller(api.http, method, body)
        _error(call(path), 401, "unauthorized")
        _error(call(path, headers=api.as_("looker")), 403, "forbidden")
        as_platform, as_alice = (
            call(path, headers=api.as_(name)) for name in ("platform", "alice")
        )
        if (method, path) == QUEUEING:
            assert as_platform.status_code == 201, as_platform.text
            assert "'submit'" in _error(as_alice, 403, "forbidden")
        elif template in ADMIN_ONLY:
            assert "'admin'" in _error(as_platform, 403, "forbidden")
            assert "'admin'" in _error(as_alice, 403, "forbidden")
        else:
            assert "'review'" in _error(as_platform, 403, "forbidden")
            assert as_alice.status_code < 300, (method, path, as_alice.text)
        as_boss = call(path, headers=api.as_("boss"))
        assert as_boss.status_code not in (401, 403), (method, path, as_boss.text)


def _caller(http: TestClient, method: str, body: dict[str, Any] | None) -> Any:
    return lambda path, **kwargs: http.request(method.upper(), path, json=body, **kwargs)


def test_the_openapi_document_lists_the_routes(api: Api) -> None:
    paths = api.http.get("/openapi.json").json()["paths"]
    for method, path, _ in ROUTES:
        documented = path.replace("{item}", "{item_id}").replace("/default", "/{name}")
        assert method in paths[documented], (method, path)
    assert "204" in paths["/v1/review/next"]["get"]["responses"]


# -- queueing and claiming ---------------------------------------------------------


def test_the_platform_queues_its_own_escalation(api: Api) -> None:
    [first] = api.world.queue_photos(1)
    submission = api.http.get(f"/v1/review/items/{first}", headers=api.as_("alice")).json()[
        "submission"
    ]["submission_id"]
    follow_ups = {"confirm": [{"action": "webhook", "webhook": "hook"}]}
    created = api.http.post(
        "/v1/review/items",
        json={
            "submission_id": submission,
            "queue": "urgent",
            "priority": -5,
            "reason": "a user reported it",
            "follow_ups": follow_ups,
        },
        headers=api.as_("platform"),
    )
    assert created.status_code == 201, created.text
    item = created.json()
    assert (item["queue"], item["priority"], item["status"]) == ("urgent", -5, "open")
    assert (item["rule"], item["reason"]) == ("key:platform", "a user reported it")
    assert item["follow_ups"] == follow_ups
    assert item["submission"]["submission_id"] == submission
    assert item["history"] == []
    assert item["decision"] is None
    assert api.next("alice", "urgent").json()["id"] == item["id"]

    _error(
        api.http.post(
            "/v1/review/items", json={"submission_id": 10**6}, headers=api.as_("platform")
        ),
        404,
        "unknown_submission",
    )
    assert "queue" in _error(
        api.http.post(
            "/v1/review/items",
            json={"submission_id": submission, "queue": "no spaces"},
            headers=api.as_("platform"),
        ),
        400,
        "invalid_review",
    )
    assert "follow_ups" in _error(
        api.http.post(
            "/v1/review/items",
            json={"submission_id": submission, "follow_ups": {"escalate": []}},
            headers=api.as_("platform"),
        ),
        422,
    )
    unknown_webhook = {"confirm": [{"action": "webhook", "webhook": "nobody"}]}
    assert "nobody" in _error(
        api.http.post(
            "/v1/review/items",
            json={"submission_id": submission, "follow_ups": unknown_webhook},
            headers=api.as_("platform"),
        ),
        400,
        "invalid_review",
    )


def test_two_keys_never_get_the_same_item_and_204_when_none_waits(api: Api) -> None:
    ids = api.world.queue_photos(2)
    alice, bob = api.next("alice").json(), api.next("bob").json()
    assert {alice["id"], bob["id"]} == set(ids)
    assert (alice["claimed_by"], bob["claimed_by"]) == ("key:alice", "key:bob")
    assert api.next("alice").json()["id"] == alice["id"]  # a reload: the same one
    nothing = api.next("boss")
    assert (nothing.status_code, nothing.content) == (204, b"")
    assert api.next("alice", "empty-queue").status_code == 204
    assert "queue" in _error(api.next("alice", "not a name"), 400, "invalid_review")


def test_claim_and_release(api: Api) -> None:
    [item] = api.world.queue_photos(1)
    claim = f"/v1/review/items/{item}/claim"
    release = f"/v1/review/items/{item}/release"
    assert api.http.post(claim, headers=api.as_("alice")).json()["claimed_by"] == "key:alice"
    assert api.http.post(claim, headers=api.as_("alice")).status_code == 200  # renewed
    assert "key:alice" in _error(api.http.post(claim, headers=api.as_("bob")), 409)
    bob_lets_go = api.http.post(release, headers=api.as_("bob"))  # holds nothing: no change
    assert bob_lets_go.status_code == 204
    released = api.http.post(release, headers=api.as_("alice"))
    assert (released.status_code, released.content) == (204, b"")
    assert api.http.post(claim, headers=api.as_("bob")).json()["claimed_by"] == "key:bob"
    _error(api.http.post("/v1/review/items/999999/claim", headers=api.as_("bob")), 404)
    _error(api.http.post("/v1/review/items/999999/release", headers=api.as_("bob")), 404)


def test_listing_pages_newest_first(api: Api) -> None:
    ids = api.world.queue_photos(3)
    first = api.http.get("/v1/review/items", params={"limit": 2}, headers=api.as_("alice")).json()
    assert [item["id"] for item in first["items"]] == sorted(ids, reverse=True)[:2]
    assert first["next_before"] == first["items"][-1]["id"]
    assert "history" not in first["items"][0]
    rest = api.http.get(
        "/v1/review/items",
        params={"limit": 2, "before": first["next_before"]},
        headers=api.as_("alice"),
    ).json()
    assert ([item["id"] for item in rest["items"]], rest["next_before"]) == ([min(ids)], None)

    held = api.next("bob").json()["id"]
    by_bob = api.http.get(
        "/v1/review/items", params={"claimed_by": "key:bob"}, headers=api.as_("alice")
    ).json()
    assert [item["id"] for item in by_bob["items"]] == [held]
    closed = api.http.get(
        "/v1/review/items", params={"status": "closed"}, headers=api.as_("alice")
    ).json()
    assert closed == {"items": [], "next_before": None}
    assert "status" in _error(
        api.http.get("/v1/review/items", params={"status": "done"}, headers=api.as_("alice")),
        400,
        "invalid_review",
    )
    _error(api.http.get("/v1/review/items", params={"limit": 0}, headers=api.as_("alice")), 422)


# -- decisions -------------------------------------------------------------------


def test_confirm_requests_a_report_and_tells_the_webhook(api: Api) -> None:
    [item] = api.world.queue_photos(1)
    api.next("alice")
    decided = api.decide(
        "alice", item, decision="confirm", classification="A1", annotations=["viral"], note="seen"
    )
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["status"] == "closed"
    assert body["claimed_by"] is None
    assert body["decision"] == {
        "decision": "confirm",
        "classification": "A1",
        "annotations": ["viral"],
        "note": "seen",
        "decided_by": "key:alice",
        "decided_at": body["decision"]["decided_at"],
        "escalated_to": None,
    }
    assert [entry["decision"] for entry in body["history"]] == ["confirm"]
    with api.database.reading() as session:
        assert session.scalars(select(ReportRequest.review_item_id)).all() == [item]
        [event] = session.scalars(select(Event).where(Event.type == "review.decided")).all()
        hooks = session.scalars(
            select(Webhook.name)
            .join(Delivery, Delivery.webhook_id == Webhook.id)
            .where(Delivery.event_id == event.id)
        ).all()
        opinions = session.scalars(select(Opinion.opinion).where(Opinion.item_id == item)).all()
    assert hooks == ["hook"]
    assert opinions == ["positive"]


def test_false_positive_allowlists_the_upload(api: Api) -> None:
    [item] = api.world.queue_photos(1)
    api.next("bob")
    decided = api.decide("bob", item, decision="false_positive", allowlist_bank="ours-ok")
    assert decided.status_code == 200, decided.text
    assert decided.json()["history"][0]["details"] == {"allowlist_bank": "ours-ok"}
    with api.database.reading() as session:
        allowlisted = session.scalar(
            select(func.count()).select_from(Content).join(Bank).where(Bank.name == "ours-ok")
        )
        opinions = session.execute(
            select(Opinion.opinion, Opinion.bank).where(Opinion.item_id == item)
        ).all()
        reports = session.scalar(select(func.count()).select_from(ReportRequest))
    assert allowlisted == 1
    assert [tuple(row) for row in opinions] == [("negative", "known")]
    assert reports == 0
    _, matches = Matcher(api.database).match_file(PHOTO)
    known = [match for match in matches if match.bank == "known"]
    assert known
    assert all(match.suppressed for match in known)


def test_escalate_opens_an_item_in_the_other_queue(api: Api) -> None:
    [item] = api.world.queue_photos(1)
    decided = api.decide("alice", item, decision="escalate", queue="senior", priority=-1)
    assert decided.status_code == 200, decided.text
    escalated_to = decided.json()["decision"]["escalated_to"]
    senior = api.next("bob", "senior").json()
    assert (senior["id"], senior["escalated_from"], senior["priority"]) == (
        escalated_to,
        item,
        -1,
    )
    assert senior["follow_ups"] == decided.json()["follow_ups"]
    assert "already" in _error(
        api.decide("bob", escalated_to, decision="escalate", queue="senior"), 400
    )


def test_skip_sends_the_key_to_another_item(api: Api) -> None:
    ids = api.world.queue_photos(2)
    first = api.next("alice").json()["id"]
    skipped = api.decide("alice", first, decision="skip", note="not now")
    assert skipped.status_code == 200, skipped.text
    assert (skipped.json()["status"], skipped.json()["claimed_by"]) == ("open", None)
    second = api.next("alice").json()["id"]
    assert second != first
    assert {first, second} == set(ids)
    assert api.next("bob").json()["id"] == first  # someone else gets the skipped one


def test_decision_errors(api: Api) -> None:
    first, second = api.world.queue_photos(2)
    api.next("alice")  # holds the first
    cases: list[tuple[dict[str, Any], str]] = [
        ({"decision": "confirm"}, "classification"),
        ({"decision": "approve"}, "decision"),
        ({"decision": "confirm", "classification": "Z9"}, "classification"),
        ({"decision": "confirm", "classification": "A1", "annotations": ["cute"]}, "annotation"),
        ({"decision": "escalate"}, "queue"),
        ({"decision": "skip", "classification": "A1"}, "classification"),
        ({"decision": "confirm", "classification": "A1", "allowlist_bank": "ours-ok"}, "allowlist"),
        ({"decision": "false_positive", "allowlist_bank": "known"}, "allowlist"),
        ({"decision": "false_positive", "allowlist_bank": "gone"}, "gone"),
        ({"decision": "false_positive", "allowlist_bank": "ours\x00ok"}, "allowlist_bank"),
    ]
    for body, field in cases:
        assert field in _error(api.decide("alice", first, **body), 400), body
    _error(api.decide("alice", 999999, decision="skip"), 404, "unknown_review_item")
    assert "claimed by key:alice" in _error(
        api.decide("bob", first, decision="confirm", classification="A2"), 409, "review_conflict"
    )
    assert api.decide("alice", first, decision="confirm", classification="B1").status_code == 200
    assert "decided already" in _error(
        api.decide("alice", first, decision="skip"), 409, "review_conflict"
    )

    configured = api.http.put(
        "/v1/review/queues/default", json={"access": ["key:alice"]}, headers=api.as_("boss")
    )
    assert configured.status_code == 200, configured.text
    assert configured.json()["access"] == ["key:alice"]
    for refused in (
        api.decide("bob", second, decision="skip"),
        api.next("bob"),
        api.http.get(f"/v1/review/items/{second}", headers=api.as_("bob")),
        api.http.post(f"/v1/review/items/{second}/claim", headers=api.as_("bob")),
    ):
        assert "key:bob" in _error(refused, 403, "queue_not_allowed")
    assert api.http.get("/v1/review/items", headers=api.as_("bob")).json()["items"] == []
    assert api.next("alice").json()["id"] == second
    assert api.next("boss").status_code == 204  # admitted (an admin), but alice holds it


def test_reopen_by_an_admin(api: Api) -> None:
    api.world.fetched_from_an_exchange()
    [item] = api.world.queue_photos(1)
    reopen = f"/v1/review/items/{item}/reopen"
    assert "open already" in _error(
        api.http.post(reopen, json={}, headers=api.as_("boss")), 409, "review_conflict"
    )
    api.decide("alice", item, decision="confirm", classification="A1")
    _error(api.http.post(reopen, json={"note": "oops"}, headers=api.as_("alice")), 403)
    reopened = api.http.post(reopen, json={"note": "wrong item"}, headers=api.as_("boss"))
    assert reopened.status_code == 200, reopened.text
    body = reopened.json()
    assert (body["status"], body["decision"]) == ("open", None)
    assert [entry["decision"] for entry in body["history"]] == ["confirm", "reopen"]
    assert body["history"][1]["details"] == {"opinions": 1, "report_requests": 1}
    assert api.http.post(reopen, headers=api.as_("boss")).status_code == 409  # no body: fine
    assert api.next("bob").json()["id"] == item


# -- queues and workload ---------------------------------------------------------------


def test_queues_overview_and_configuration(api: Api) -> None:
    api.world.queue_photos(2)
    set_up = api.http.put(
        "/v1/review/queues/senior",
        json={"description": "second looks", "sla_minutes": 30, "access": ["key:bob"]},
        headers=api.as_("boss"),
    )
    assert set_up.json() == {
        "name": "senior",
        "description": "second looks",
        "sla_minutes": 30,
        "access": ["key:bob"],
        "configured": True,
    }
    changed = api.http.put(
        "/v1/review/queues/senior", json={"sla_minutes": 45}, headers=api.as_("boss")
    ).json()
    assert (changed["description"], changed["sla_minutes"]) == ("second looks", 45)
    alice = api.http.get("/v1/review/queues", headers=api.as_("alice")).json()["queues"]
    assert [(queue["name"], queue["open"]) for queue in alice] == [("default", 2)]
    bob = api.http.get("/v1/review/queues", headers=api.as_("bob")).json()["queues"]
    assert [queue["name"] for queue in bob] == ["default", "senior"]
    for body, field in [
        ({"access": ["everyone"]}, "access"),
        ({"access": ["role:wizard"]}, "role"),
        ({"description": "a\x00b"}, "description"),
    ]:
        assert field in _error(
            api.http.put("/v1/review/queues/senior", json=body, headers=api.as_("boss")), 400
        )
    for body in ({"sla_minutes": 0}, {"colour": "red"}, {"access": "key:bob"}):
        _error(api.http.put("/v1/review/queues/senior", json=body, headers=api.as_("boss")), 422)
    _error(api.http.put("/v1/review/queues/no%20spaces", json={}, headers=api.as_("boss")), 400)


def test_reveals_per_day(api: Api) -> None:
    [item] = api.world.queue_photos(1)
    review = Review(api.database, api.world.settings, Banks(api.database))
    review.reveals.grant(Reviewer("key:alice"), item, kind="preview", seconds=4)
    days = api.http.get("/v1/review/reveals", headers=api.as_("boss")).json()["days"]
    assert [(day["reviewer"], day["reveals"]) for day in days] == [("key:alice", 1)]
    _error(api.http.get("/v1/review/reveals", params={"days": 0}, headers=api.as_("boss")), 422)


# -- hostile bodies --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/review/items", {"submission_id": "one"}),
        ("/v1/review/items", {"submission_id": 2**70}),
        ("/v1/review/items", {"submission_id": 1, "priority": 2**40}),
        ("/v1/review/items", {"submission_id": 1, "reason": "x" * 20_000}),
        ("/v1/review/items", {"submission_id": 1, "reason": "a\x00b"}),
        ("/v1/review/items", {"submission_id": 1, "admin": True}),
        ("/v1/review/items", {"submission_id": 1, "follow_ups": {"confirm": [{"action": "x"}]}}),
        ("/v1/review/items", [1, 2]),
        ("/v1/review/items/{item}/decision", {"decision": "skip", "note": "x" * 20_000}),
        ("/v1/review/items/{item}/decision", {"decision": "skip", "note": "a\x00b"}),
        ("/v1/review/items/{item}/decision", {"decision": ["confirm"]}),
        ("/v1/review/items/{item}/decision", {"decision": "skip", "sneaky": 1}),
        (
            "/v1/review/items/{item}/decision",
            {"decision": "escalate", "queue": "x", "priority": 2**40},
        ),
        ("/v1/review/items/{item}/decision", {"decision": "escalate", "queue": "q" * 300}),
        ("/v1/review/items/{item}/decision", {"decision": "confirm", "annotations": "viral"}),
        ("/v1/review/items/{item}/decision", {"decision": "confirm", "annotations": ["a"] * 500}),
        ("/v1/review/items/{item}/decision", {}),
        ("/v1/review/items/{item}/reopen", {"note": 5}),
        ("/v1/review/items/{item}/reopen", {"note": "", "why": "x"}),
    ],
)
def test_hostile_bodies_get_a_4xx_with_a_message(api: Api, path: str, body: Any) -> None:
    [item] = api.world.queue_photos(1)
    name = "boss" if path.endswith("reopen") else "platform" if path.endswith("items") else "alice"
    response = api.http.post(path.format(item=item), json=body, headers=api.as_(name))
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["message"]


def test_a_body_that_is_not_json(api: Api) -> None:
    [item] = api.world.queue_photos(1)
    response = api.http.post(
        f"/v1/review/items/{item}/decision",
        content=b"{not json",
        headers={**api.as_("alice"), "Content-Type": "application/json"},
    )
    assert "json" in _error(response, 422).lower()


# -- rules with follow-ups ---------------------------------------------------------------


def test_a_rule_with_follow_ups_round_trips_through_v1_rules(api: Api) -> None:
    curator = api.as_("curator")
    shown = api.http.get("/v1/rules/review-known", headers=curator)
    assert shown.status_code == 200, shown.text
    assert shown.json()["then"] == [{**REVIEW_KNOWN["then"][0], "priority": 0}]  # type: ignore[index]
    copy = {**shown.json(), "name": "review-copy"}
    for key in ("created_at", "updated_at"):
        copy.pop(key)
    created = api.http.post("/v1/rules", json=copy, headers=curator)
    assert created.status_code == 201, created.text
    assert created.json()["then"] == shown.json()["then"]
    listed = api.http.get("/v1/rules", headers=curator).json()["rules"]
    assert [rule["then"] for rule in listed if rule["name"] == "review-copy"] == [
        shown.json()["then"]
    ]
    bad = {
        **copy,
        "name": "bad",
        "then": [{"action": "block", "on_confirm": [{"action": "report"}]}],
    }
    assert "on_confirm" in _error(api.http.post("/v1/rules", json=bad, headers=curator), 422)
