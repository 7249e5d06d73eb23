"""The rules pages, on both engines: list, create, edit, switch, delete, the dry run."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from hashmatch.actions.rule_store import Rules
from hashmatch.store.models import AuditEntry
from hashmatch.store.workflow import Submission
from tests.web_ui import Ui

WHEN = json.dumps({"banks": ["known"]})
THEN = json.dumps([{"action": "block"}])


def rule_form(**changes: str) -> dict[str, str]:
    return {
        "name": "block-known",
        "priority": "0",
        "description": "",
        "when": WHEN,
        "then": THEN,
        "enabled": "on",
        **changes,
    }


def audited(ui: Ui, action: str) -> list[AuditEntry]:
    """The audit entries of ``action`` made through the pages (not by the fixtures)."""
    with ui.service.database.reading() as session:
        query = select(AuditEntry).where(
            AuditEntry.action == action, AuditEntry.actor.like("user:%")
        )
        return list(session.scalars(query))


@pytest.fixture(autouse=True)
def no_rules(ui: Ui) -> None:
    """Start with no rules (a new database has a default one)."""
    rules = Rules(ui.service.database)
    for rule in rules.all():
        rules.delete(rule.name)


def add_submission(ui: Ui, bank: str = "known") -> int:
    match = {"bank": bank, "content_id": 1, "signal_type": "pdq", "distance": 0, "labels": []}
    with ui.service.database.transaction() as session:
        row = Submission(
            content_ref="u1",
            content_type="photo",
            matches=[match],
            verdict="allow",
            actor="key:test",
        )
        session.add(row)
        session.flush()
        return int(row.id)


def test_a_curator_creates_edits_switches_and_deletes_a_rule(ui: Ui) -> None:
    ui.service.banks.create("known")
    ui.sign_in("curator")
    assert "No rules yet" in ui.get("/ui/rules").text
    assert ui.get("/ui/rules/new").status_code == 200
    made = ui.post("/ui/rules", rule_form())
    assert made.status_code == 303, made.text
    assert made.headers["location"] == "/ui/rules/block-known"
    shown = ui.get("/ui/rules/block-known")
    assert "Rule created." in shown.text
    assert "&#34;known&#34;" in shown.text
    listed = ui.get("/ui/rules").text
    assert "banks: known" in listed
    assert "block" in listed

    edit = ui.get("/ui/rules/block-known/edit")
    assert edit.status_code == 200
    assert "block-known" in edit.text
    saved = ui.post("/ui/rules/block-known/edit", rule_form(name="blocker", priority="5"))
    assert saved.headers["location"] == "/ui/rules/blocker"
    assert ui.get("/ui/rules/block-known").status_code == 404

    assert ui.post("/ui/rules/blocker/disable").status_code == 303
    assert "Enable" in ui.get("/ui/rules/blocker").text
    assert ui.post("/ui/rules/blocker/enable").status_code == 303
    assert "Delete rule blocker?" in ui.get("/ui/rules/blocker/delete").text
    assert ui.post("/ui/rules/blocker/delete").headers["location"] == "/ui/rules"
    assert "No rules yet" in ui.get("/ui/rules").text

    for action in ("rule.create", "rule.update", "rule.disable", "rule.enable", "rule.delete"):
        entries = audited(ui, action)
        assert [entry.actor for entry in entries] == ["user:curator"], action


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"when": "{not json"}, "when", "This is not JSON"),
        ({"then": ""}, "then", "at least one action"),
        ({"priority": "soon"}, "priority", "whole number"),
        ({"when": '{"banks": ["nowhere"]}'}, "when", "nowhere"),
        ({"when": '{"colour": "red"}'}, "when", "when.colour"),
        ({"then": '[{"action": "explode"}]'}, "then", "then.0.action"),
        ({"name": ""}, "name", "name"),
    ],
)
def test_a_wrong_rule_is_shown_next_to_its_field(
    ui: Ui, changes: dict[str, str], field: str, message: str
) -> None:
    ui.service.banks.create("known")
    ui.sign_in("curator")
    answer = ui.post("/ui/rules", rule_form(**changes))
    assert answer.status_code == 422
    error = answer.text.split(f'id="e-{field}">', 1)[1].split("</p>", 1)[0]
    assert message in error
    assert "Traceback" not in answer.text
    assert audited(ui, "rule.create") == []


def test_the_dry_run_tries_a_typed_rule_on_recent_submissions_and_stores_nothing(ui: Ui) -> None:
    ui.service.banks.create("known")
    ui.sign_in("curator")
    assert "No submissions yet" in ui.post("/ui/rules", rule_form(intent="dry-run")).text
    submission_id = add_submission(ui)
    tried = ui.post("/ui/rules", rule_form(intent="dry-run"))
    assert tried.status_code == 200
    assert '<h2 id="dry-run-heading">Dry run</h2>' in tried.text
    row = tried.text.split(f"<td>{submission_id}</td>", 1)[1].split("</tr>", 1)[0]
    assert "verdict-allow" in row
    assert "verdict-block" in row
    assert audited(ui, "rule.create") == []
    assert "No rules yet" in ui.get("/ui/rules").text

    ui.post("/ui/rules", rule_form())
    stored = ui.get("/ui/rules/block-known?dry_run=1")
    assert f"<td>{submission_id}</td>" in stored.text
    assert "verdict-block" in stored.text


def test_who_may_see_and_change_rules(ui: Ui) -> None:
    ui.service.banks.create("known")
    ui.sign_in("curator")
    ui.post("/ui/rules", rule_form())
    for name in ("viewer", "legal"):
        ui.sign_in(name)
        page = ui.get("/ui/rules/block-known")
        assert page.status_code == 200
        assert "/ui/rules/block-known/edit" not in page.text
        assert "New rule" not in ui.get("/ui/rules").text
        assert ui.get("/ui/rules/new").status_code == 403
        assert ui.post("/ui/rules", rule_form(name="other")).status_code == 403
        assert ui.post("/ui/rules/block-known/disable").status_code == 403
        assert ui.post("/ui/rules/block-known/delete").status_code == 403
    ui.sign_in("reviewer")
    assert ui.get("/ui/rules").status_code == 403
    assert ui.get("/ui/rules/block-known").status_code == 403
    assert [entry.action for entry in audited(ui, "rule.disable")] == []


def test_a_form_without_its_token_is_refused(ui: Ui) -> None:
    ui.sign_in("curator")
    answer = ui.http.post("/ui/rules", data=rule_form(csrf_token="forged"))
    assert answer.status_code == 403
