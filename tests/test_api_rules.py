"""/v1/rules on both engines: the routes, their keys, and input meant to break them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.models import AuditEntry
from hashmatch.store.workflow import Submission, Webhook
from tests.test_rules import CONTRACT

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
DEFAULT = "review-any-match"
RULE = CONTRACT


class Api:
    """A client that sends the curate key unless told otherwise."""

    def __init__(self, http: TestClient, keys: dict[str, str], database_url: str) -> None:
        self.http = http
        self.keys = keys
        self.database_url = database_url

    def call(
        self,
        method: str,
        path: str,
        key: str | None = "curate",
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        auth = {"Authorization": self.keys[key]} if key else {}
        return self.http.request(method, path, headers={**auth, **(headers or {})}, **kwargs)


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    database = Database.open(database_url)
    keys = ApiKeys(database)
    secrets = {scope: keys.create(scope, [scope])[0] for scope in ("curate", "match")}
    with database.transaction() as session:
        session.add(Webhook(name="ops", url="https://hooks.example/", events=[], secret="s" * 32))
    database.close()
    app = create_app(Settings(data_dir=tmp_path / "data", database_url=database_url))
    with TestClient(app, raise_server_exceptions=False) as http:
        app.state.service.wait_until_loaded(60)
        yield Api(http, {k: f"Bearer {v}" for k, v in secrets.items()}, database_url)


def error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    return str(response.json()["error"]["message"])


def test_rule_lifecycle(api: Api) -> None:
    assert [r["name"] for r in api.call("GET", "/v1/rules").json()["rules"]] == [DEFAULT]
    assert api.call("POST", "/v1/banks", json={"name": "known"}).status_code == 201

    created = api.call("POST", "/v1/rules", json=RULE)
    assert created.status_code == 201, created.text
    body = created.json()
    assert {key: body[key] for key in RULE} == {
        **RULE,
        "then": [
            {"action": "block"},
            {"action": "review", "queue": "default", "priority": 0},
            {"action": "webhook", "webhook": "ops"},
            {"action": "report"},
        ],
    }
    assert api.call("GET", "/v1/rules/block-known").json() == body
    assert error(api.call("POST", "/v1/rules", json=RULE), 409, "rule_exists")

    renamed = api.call(
        "PUT", "/v1/rules/block-known", json={"name": "block", "then": [{"action": "block"}]}
    )
    assert renamed.json()["when"] == {}
    assert error(api.call("GET", "/v1/rules/block-known"), 404, "unknown_rule")

    assert api.call("POST", f"/v1/rules/{DEFAULT}/disable").json()["enabled"] is False
    assert api.call("GET", f"/v1/rules/{DEFAULT}").json()["enabled"] is False
    assert api.call("POST", f"/v1/rules/{DEFAULT}/enable").json()["enabled"] is True
    assert api.call("DELETE", "/v1/rules/block").json() == {"deleted": "block"}
    assert [r["name"] for r in api.call("GET", "/v1/rules").json()["rules"]] == [DEFAULT]
    for method, path in [
        ("DELETE", "/v1/rules/block"),
        ("POST", "/v1/rules/block/enable"),
        ("PUT", "/v1/rules/block"),
    ]:
        body = RULE if method == "PUT" else None
        assert error(api.call(method, path, json=body), 404, "unknown_rule")


def test_changes_are_audited_as_the_key_that_made_them(api: Api) -> None:
    api.call("POST", f"/v1/rules/{DEFAULT}/disable")
    database = Database.open(api.database_url)
    with database.reading() as session:
        query = select(AuditEntry).where(AuditEntry.action.startswith("rule."))
        (entry,) = session.scalars(query)
    database.close()
    assert (entry.action, entry.actor, entry.target) == (
        "rule.disable",
        "key:curate",
        f"rule:{DEFAULT}",
    )
    assert (entry.before or {})["enabled"] is True
    assert (entry.after or {})["enabled"] is False


def test_a_rule_naming_a_missing_bank_or_webhook_is_a_400_naming_it(api: Api) -> None:
    message = error(api.call("POST", "/v1/rules", json=RULE), 400, "invalid_rule")
    assert message == "rule 'block-known' names banks that do not exist: known"
    api.call("POST", "/v1/banks", json={"name": "known"})
    webhook = {**RULE, "then": [{"action": "webhook", "webhook": "legal"}]}
    message = error(api.call("POST", "/v1/rules", json=webhook), 400, "invalid_rule")
    assert message == "rule 'block-known' names webhooks that do not exist: legal"


ROUTES = [
    ("GET", "/v1/rules", None),
    ("POST", "/v1/rules", RULE),
    ("GET", f"/v1/rules/{DEFAULT}", None),
    ("PUT", f"/v1/rules/{DEFAULT}", RULE),
    ("DELETE", f"/v1/rules/{DEFAULT}", None),
    ("POST", f"/v1/rules/{DEFAULT}/enable", None),
    ("POST", f"/v1/rules/{DEFAULT}/disable", None),
    ("POST", "/v1/rules/test", {"hashes": [{"signal_type": "pdq", "signal": PDQ}]}),
]


def test_every_route_needs_the_curate_scope(api: Api) -> None:
    for method, path, body in ROUTES:
        error(api.call(method, path, key=None, json=body), 401, "unauthorized")
        error(api.call(method, path, key="match", json=body), 403, "forbidden")
    assert api.call("GET", f"/v1/rules/{DEFAULT}").status_code == 200  # nothing changed


def test_a_dry_run_on_hashes_and_on_a_submission(api: Api) -> None:
    api.call("POST", "/v1/banks", json={"name": "known", "labels": ["A1"]})
    api.call("POST", "/v1/banks/known/content", json={"signals": {"pdq": PDQ}})
    tried = api.call(
        "POST", "/v1/rules/test", json={"hashes": [{"signal_type": "pdq", "signal": PDQ}]}
    )
    assert tried.status_code == 200, tried.text
    decision = tried.json()
    assert (decision["verdict"], decision["fired_rules"]) == ("review", [DEFAULT])
    assert decision["actions"] == [
        {"rule": DEFAULT, "action": "review", "queue": "default", "priority": 0}
    ]
    assert [m["bank"] for m in decision["matches"]] == ["known"]

    alone = api.call(
        "POST",
        "/v1/rules/test",
        json={"rule": RULE, "hashes": [{"signal_type": "pdq", "signal": PDQ}]},
    ).json()
    assert (alone["verdict"], alone["fired_rules"]) == ("block", ["block-known"])
    assert [r["name"] for r in api.call("GET", "/v1/rules").json()["rules"]] == [DEFAULT]

    database = Database.open(api.database_url)
    with database.transaction() as session:
        submission = Submission(
            content_ref="u1",
            content_type="video",
            matches=decision["matches"],
            verdict="review",
            actor="key:test",
        )
        session.add(submission)
        session.flush()
        submission_id = submission.id
    database.close()
    photos_only = {**RULE, "name": "photos"}
    stored = api.call(
        "POST", "/v1/rules/test", json={"rule": photos_only, "submission_id": submission_id}
    ).json()
    assert (stored["verdict"], stored["content_type"]) == ("allow", "video")
    missing = api.call("POST", "/v1/rules/test", json={"submission_id": submission_id + 1})
    assert error(missing, 404, "unknown_submission") == f"no submission {submission_id + 1}"


MALFORMED_DRY_RUNS = [
    ({}, "give either submission_id or hashes"),
    ({"submission_id": 1, "hashes": [{"signal_type": "pdq", "signal": PDQ}]}, "either"),
    ({"hashes": []}, "hashes"),
    ({"submission_id": -1}, "submission_id"),
    ({"submission_id": 2**64}, "submission_id"),
    ({"submission_id": 1, "extra": True}, "extra"),
    ({"submission_id": 1, "rule": {"name": "x", "then": []}}, "rule.then"),
]


def test_a_malformed_dry_run_is_a_422_naming_the_field(api: Api) -> None:
    for body, complaint in MALFORMED_DRY_RUNS:
        message = error(api.call("POST", "/v1/rules/test", json=body), 422, "invalid_request")
        assert complaint in message, body


def test_dry_run_hashes_are_checked_and_bounded(api: Api) -> None:
    bad = {"hashes": [{"signal_type": "pdq", "signal": "nope"}]}
    error(api.call("POST", "/v1/rules/test", json=bad), 400, "invalid_hash")
    unknown = {"hashes": [{"signal_type": "crc", "signal": "00"}]}
    error(api.call("POST", "/v1/rules/test", json=unknown), 400, "unknown_signal_type")
    many = {"hashes": [{"signal_type": "pdq", "signal": PDQ}] * 1001}
    error(api.call("POST", "/v1/rules/test", json=many), 413, "batch_too_large")


def nested(depth: int) -> Any:
    value: Any = "A1"
    for _ in range(depth):
        value = [value]
    return value


HOSTILE_RULES = [
    ({"colour": "red"}, "colour"),
    ({"when": {"bank": ["known"]}}, "when.bank"),
    ({"then": [{"action": "block", "queue": "q"}]}, "only a review action"),
    ({"then": [{"action": "explode"}]}, "then.0.action"),
    ({"then": "block"}, "then"),
    ({"then": None}, "then"),
    ({"name": None}, "name"),
    ({"name": 7}, "name"),
    ({"name": "a" * 101}, "invalid rule name"),
    ({"name": "bad\x00name"}, "invalid rule name"),
    ({"description": "nul\x00"}, "NUL"),
    ({"description": "\ud800"}, "body.description"),
    ({"description": "x" * 10_001}, "description"),
    ({"priority": "0"}, "priority"),
    ({"priority": 2**63}, "priority"),
    ({"priority": 1.5}, "priority"),
    ({"enabled": "true"}, "enabled"),
    ({"when": {"max_distance": -1}}, "max_distance"),
    ({"when": {"labels": nested(200)}}, "when.labels"),
    ({"when": {"banks": ["known"] * 100_000}}, "when.banks"),
    ({"when": {"signal_types": ["x" * 33]}}, "signal_types"),
    ({"when": []}, "when"),
    ({"then": [{"action": "review", "queue": "q\n"}]}, "queue"),
    ({"then": [{"action": "block"}] * 10_000}, "then"),
]


def test_hostile_rules_are_a_422_naming_the_field(api: Api) -> None:
    for change, complaint in HOSTILE_RULES:
        body = json.dumps({**RULE, **change})  # escapes a lone surrogate, as a client may
        for method, path in [("POST", "/v1/rules"), ("PUT", f"/v1/rules/{DEFAULT}")]:
            sent = api.call(
                method, path, content=body, headers={"Content-Type": "application/json"}
            )
            message = error(sent, 422, "invalid_request")
            assert complaint in message, change
    assert [r["name"] for r in api.call("GET", "/v1/rules").json()["rules"]] == [DEFAULT]


def test_hostile_paths_and_bodies_are_4xx(api: Api) -> None:
    assert error(api.call("GET", "/v1/rules/a%00b"), 400, "bad_request")
    error(api.call("GET", "/v1/rules/" + "x" * 5000), 404, "unknown_rule")
    error(api.call("POST", "/v1/rules/%ff/enable"), 404, "unknown_rule")
    not_json = api.call(
        "POST", "/v1/rules", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert 400 <= not_json.status_code < 500


def test_the_openapi_document_describes_the_rules(api: Api) -> None:
    document = api.http.get("/openapi.json").json()
    paths = document["paths"]
    assert set(paths["/v1/rules/{name}"]) == {"get", "put", "delete"}
    created = paths["/v1/rules"]["post"]["responses"]["201"]["content"]["application/json"]
    assert created["schema"]["$ref"].endswith("/Rule")
    schemas = document["components"]["schemas"]
    assert {"RuleSpec", "RuleCondition", "RuleAction", "Decision"} <= set(schemas)
    assert "min_matches" in schemas["RuleCondition"]["properties"]
