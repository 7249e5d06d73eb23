"""Knowledge sharing on both engines: members publish rule templates
(checked as rules, kept disabled) and playbooks (size-limited Markdown),
browse them, and only active members may; an imported rule starts disabled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hashmatch.errors import InvalidFieldError
from hashmatch.hub.templates import MAX_PLAYBOOK_CHARS, rule_to_import
from tests.test_api_hub import Hub, open_hub
from tests.test_api_review import _error

RULE = {
    "name": "review-pdq",
    "description": "Queue every PDQ match for review.",
    "when": {"signal_types": ["pdq"], "max_distance": 20},
    "then": [{"action": "review", "queue": "default"}],
}


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    for hub in open_hub(database_url, tmp_path):
        hub.member(1)
        hub.member(2)
        yield hub


def _publish(hub: Hub, number: int, **template: Any) -> Any:
    return hub.http.post("/v1/hub/templates", headers=hub.as_(f"member{number}"), json=template)


def test_members_publish_and_browse_rule_templates_and_playbooks(hub: Hub) -> None:
    rule = _publish(hub, 1, kind="rule", name="PDQ to review", body=RULE)
    assert rule.status_code == 201, rule.text
    assert rule.json()["body"]["enabled"] is False  # kept off, whatever was sent
    playbook = _publish(
        hub, 2, kind="playbook", name="First 24 hours", description="", body="# Steps\n\n1. ..."
    )
    assert playbook.status_code == 201, playbook.text
    listed = hub.http.get("/v1/hub/templates", headers=hub.as_("member2")).json()["templates"]
    assert [(t["kind"], t["name"], t["member"]) for t in listed] == [
        ("playbook", "First 24 hours", "Example Photos 2"),
        ("rule", "PDQ to review", "Example Photos 1"),
    ]
    assert all("body" not in t for t in listed)
    rules_only = hub.http.get(
        "/v1/hub/templates", params={"kind": "rule"}, headers=hub.as_("boss")
    ).json()["templates"]
    assert [t["id"] for t in rules_only] == [rule.json()["id"]]
    shown = hub.http.get(f"/v1/hub/templates/{rule.json()['id']}", headers=hub.as_("member2"))
    assert shown.json()["body"]["when"]["signal_types"] == ["pdq"]
    text = hub.http.get(f"/v1/hub/templates/{playbook.json()['id']}", headers=hub.as_("member1"))
    assert text.json()["body"] == "# Steps\n\n1. ..."
    _error(hub.http.get("/v1/hub/templates/999", headers=hub.as_("member1")), 404)


def test_bad_templates_are_refused_naming_the_problem(hub: Hub) -> None:
    no_actions = _publish(hub, 1, kind="rule", name="x", body={**RULE, "then": []})
    assert "then" in _error(no_actions, 400, "invalid_rule")
    huge = _publish(hub, 1, kind="playbook", name="x", body="#" * (MAX_PLAYBOOK_CHARS + 1))
    assert "at most" in _error(huge, 400, "invalid_field")
    not_text = _publish(hub, 1, kind="playbook", name="x", body={"markdown": 1})
    assert "Markdown" in _error(not_text, 400, "invalid_field")
    _error(_publish(hub, 1, kind="script", name="x", body=""), 422)
    _error(_publish(hub, 1, kind="rule", name="", body=RULE), 400)


def test_a_suspended_member_neither_publishes_nor_browses(hub: Hub) -> None:
    suspended = hub.admin("post", "/members/1/suspend", json={"reason": "dues"})
    assert suspended.status_code == 200, suspended.text
    _error(_publish(hub, 1, kind="rule", name="x", body=RULE), 403, "membership_inactive")
    _error(hub.http.get("/v1/hub/templates", headers=hub.as_("member1")), 403)


def test_an_imported_rule_template_is_disabled_and_may_be_renamed() -> None:
    template = {"id": 3, "kind": "rule", "body": {**RULE, "enabled": True}}
    spec = rule_to_import(template, name="from-hub")
    assert (spec.name, spec.enabled) == ("from-hub", False)
    with pytest.raises(InvalidFieldError, match="not a rule template"):
        rule_to_import({"id": 4, "kind": "playbook", "body": "# x"})
