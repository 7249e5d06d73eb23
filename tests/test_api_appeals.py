"""Appeals under /v1/appeals, in process, on both engines: scopes, every
refusal as a 4xx with a message, the claim that skips the decider, and an
overturn's answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from httpx2 import Response

from tests.test_api_review import KEYS, Api, _error, open_api

TEXT = "It is a picture of a beach I took."


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from open_api(database_url, tmp_path, {**KEYS, "carol": ["review"]})


def confirmed_by_alice(api: Api) -> int:
    (item_id,) = api.world.queue_photos(1)
    answer = api.decide("alice", item_id, decision="confirm", classification="A1")
    assert answer.status_code == 200, answer.text
    return item_id


def appeal(api: Api, **body: Any) -> Response:
    return api.http.post("/v1/appeals", json=body, headers=api.as_("platform"))


def test_the_platform_appeals_and_a_reviewer_overturns(api: Api) -> None:
    item_id = confirmed_by_alice(api)
    created = appeal(api, review_item_id=item_id, text=TEXT, received_at="2026-11-01T10:00:00Z")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["original_decider"] == "key:alice"
    assert body["due_at"] == "2026-11-04T10:00:00+00:00"
    assert body["overdue"] is True
    assert body["appealed"]["decision"]["decided_by"] == "key:alice"
    appeal_id = body["id"]
    listed = api.http.get("/v1/appeals", params={"overdue": "true"}, headers=api.as_("bob"))
    assert [a["id"] for a in listed.json()["appeals"]] == [appeal_id]
    claimed = api.http.get("/v1/appeals/next", headers=api.as_("bob"))
    assert claimed.json()["claimed_by"] == "key:bob"
    message = _error(
        api.http.post(
            f"/v1/appeals/{appeal_id}/decision",
            json={"decision": "uphold"},
            headers=api.as_("carol"),
        ),
        409,
        "appeal_conflict",
    )
    assert "claimed by key:bob" in message
    decided = api.http.post(
        f"/v1/appeals/{appeal_id}/decision",
        json={"decision": "overturn", "note": "a beach", "allowlist_bank": "ours-ok"},
        headers=api.as_("bob"),
    )
    assert decided.status_code == 200, decided.text
    outcome = decided.json()["outcome"]
    assert outcome["previous_verdict"] == "review"
    assert outcome["allowlist"]["added_to"] == "ours-ok"
    assert outcome["allowlist"]["content_id"] is not None
    submission = api.http.get(
        f"/v1/submissions/{body['submission_id']}", headers=api.as_("platform")
    )
    assert submission.json()["verdict"] == "allow"
    again = api.http.post(
        f"/v1/appeals/{appeal_id}/decision", json={"decision": "uphold"}, headers=api.as_("bob")
    )
    assert "decided already" in _error(again, 409, "appeal_conflict")


def test_refusals_are_4xx_with_a_message(api: Api) -> None:
    item_id = confirmed_by_alice(api)
    (open_item,) = api.world.queue_photos(1, start=1)
    assert "no submission" in _error(appeal(api, submission_id=10**9), 404, "unknown_submission")
    assert "no review item" in _error(appeal(api, review_item_id=10**9), 404)
    assert "exactly one" in _error(appeal(api), 400, "invalid_appeal")
    assert "still open" in _error(appeal(api, review_item_id=open_item), 400, "invalid_appeal")
    assert "RFC 3339" in _error(
        appeal(api, review_item_id=item_id, received_at="yesterday"), 400, "invalid_appeal"
    )
    assert "future" in _error(
        appeal(api, review_item_id=item_id, received_at="2999-01-01T00:00:00Z"), 400
    )
    _error(appeal(api, review_item_id=item_id, text="x" * 5001), 422)
    _error(appeal(api, review_item_id=item_id, text="a\x00b"), 400, "invalid_field")
    first = appeal(api, review_item_id=item_id, text=TEXT)
    assert first.status_code == 201
    assert "open already" in _error(appeal(api, review_item_id=item_id), 409, "appeal_conflict")
    appeal_id = first.json()["id"]
    decide = f"/v1/appeals/{appeal_id}/decision"
    _error(api.http.post(decide, json={"decision": "maybe"}, headers=api.as_("bob")), 400)
    _error(api.http.post(decide, json={"decision": "uphold"}, headers=api.as_("platform")), 403)
    _error(
        api.http.post("/v1/appeals", json={"review_item_id": item_id}, headers=api.as_("bob")), 403
    )
    _error(api.http.get("/v1/appeals/99999", headers=api.as_("bob")), 404, "unknown_appeal")
    _error(api.http.get("/v1/appeals", params={"status": "x"}, headers=api.as_("bob")), 400)


def test_an_allowed_submission_has_nothing_to_appeal(api: Api) -> None:
    allowed = api.http.post(
        "/v1/submissions",
        json={"content_ref": "fine", "signals": [{"signal_type": "md5", "signal": "0" * 32}]},
        headers=api.as_("platform"),
    )
    assert allowed.json()["verdict"] == "allow", allowed.text
    message = _error(appeal(api, content_ref="fine"), 400, "invalid_appeal")
    assert "restricted nothing" in message
