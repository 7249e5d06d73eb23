"""The rules pages: list, create, edit, switch and delete rules, and the dry run.

A rule is edited as the API takes it: name, priority and description as
fields, its ``when`` and ``then`` as the JSON of docs/rules.md.  The dry run
asks :meth:`Rules.test_submission` what a rule (stored, or as typed in the
form) would have decided for each of the most recent submissions; nothing is
stored and nothing is acted on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Form, Request, Response
from sqlalchemy import select

from hashmatch.actions.rule_store import Rules, StoredRule
from hashmatch.actions.rules import RuleSpec, parse_rule
from hashmatch.api.service import Service
from hashmatch.errors import RuleError
from hashmatch.store.models import as_utc
from hashmatch.store.workflow import Submission
from hashmatch.web.access import PageRoute, Viewer, page
from hashmatch.web.forms import FormState
from hashmatch.web.rendering import done, render

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

#: How many of the newest submissions a dry run goes over.
DRY_RUN_SUBMISSIONS = 20
#: The fields of the rule form, in the order their errors are looked for.
_FIELDS = ("name", "priority", "description", "when", "then")
_EXAMPLE_WHEN = '{"banks": ["known"], "max_distance": 31}'
_EXAMPLE_THEN = '[{"action": "block"}, {"action": "review", "queue": "default"}]'


@dataclass(frozen=True)
class DryRunRow:
    """What a rule would have decided for one stored submission."""

    submission_id: int
    created_at: datetime
    content_type: str
    matches: int
    verdict_then: str
    verdict: str
    actions: list[dict[str, Any]]
    #: The user's counts the rule's ``user_history`` conditions looked at.
    user_history: list[dict[str, Any]]


def _rules(request: Request) -> Rules:
    service: Service = request.app.state.service
    return Rules(service.database)


def dry_run(rules: Rules, rule: RuleSpec | None) -> list[DryRunRow]:
    """``rule`` (else every enabled rule) tried on the newest submissions, newest first."""
    with rules.database.reading() as session:
        recent = session.execute(
            select(Submission.id, Submission.created_at, Submission.verdict)
            .order_by(Submission.id.desc())
            .limit(DRY_RUN_SUBMISSIONS)
        ).all()
    rows = []
    for submission_id, created_at, verdict in recent:
        tried = rules.test_submission(submission_id, rule)
        rows.append(
            DryRunRow(
                submission_id,
                as_utc(created_at),
                tried["content_type"],
                len(tried["matches"]),
                verdict,
                tried["verdict"],
                tried["actions"],
                tried["user_history"],
            )
        )
    return rows


def summarise_when(when: dict[str, Any]) -> str:
    """A rule's condition in a line: ``banks: known; max_distance: 31``."""
    if not when:
        return "any match"
    parts = []
    for key, value in when.items():
        shown = ", ".join(str(item) for item in value) if isinstance(value, list) else value
        parts.append(f"{key}: {shown}")
    return "; ".join(parts)


def summarise_action(action: dict[str, Any]) -> str:
    if action["action"] == "review":
        return f"review in {action['queue']} (priority {action['priority']})"
    if action["action"] == "webhook":
        return f"webhook {action['webhook']}"
    return str(action["action"])


def _form_of(rule: StoredRule) -> FormState:
    spec = rule.spec.to_json()
    return FormState(
        {
            "name": spec["name"],
            "priority": str(spec["priority"]),
            "description": spec["description"],
            "when": json.dumps(spec["when"], indent=2),
            "then": json.dumps(spec["then"], indent=2),
            "enabled": "on" if spec["enabled"] else "",
        }
    )


def _field_of(problem: str) -> str:
    """Which form field a library message is about (``when.labels: ...`` is ``when``)."""
    head = problem.split(":", 1)[0].split(".", 1)[0].strip()
    if head in _FIELDS:
        return head
    if "names banks" in problem:
        return "when"
    if "names webhooks" in problem:
        return "then"
    return "rule"


def _add_problems(form: FormState, message: str) -> None:
    for problem in message.removeprefix("invalid rule: ").split("; "):
        field = _field_of(problem)
        form.errors[field] = f"{form.errors[field]}; {problem}" if field in form.errors else problem


def _parsed(form: FormState) -> RuleSpec | None:
    """The rule the form describes, or None with the form's errors set."""
    data: dict[str, Any] = {
        "name": form.value("name").strip(),
        "enabled": form.value("enabled") == "on",
        "description": form.value("description"),
    }
    try:
        data["priority"] = int(form.value("priority") or "0")
    except ValueError:
        form.errors["priority"] = "The priority is a whole number (lower runs first)."
    for field, empty in (("when", "{}"), ("then", "")):
        text = form.value(field).strip() or empty
        try:
            data[field] = json.loads(text)
        except json.JSONDecodeError as error:
            form.errors[field] = f"This is not JSON: {error.msg} (line {error.lineno})."
    if not form.value("then").strip():
        form.errors["then"] = "A rule needs at least one action, for example " + _EXAMPLE_THEN
    if not form.ok:
        return None
    try:
        return parse_rule(data)
    except RuleError as error:
        _add_problems(form, str(error))
        return None


def _edit_page(
    request: Request,
    viewer: Viewer,
    form: FormState,
    *,
    editing: str | None,
    status: int = 200,
    tried: list[DryRunRow] | None = None,
) -> Response:
    return render(
        request,
        "rules/edit.html",
        viewer,
        status=status,
        form=form,
        editing=editing,
        tried=tried,
        example_when=_EXAMPLE_WHEN,
        example_then=_EXAMPLE_THEN,
        summarise_action=summarise_action,
    )


def _submitted(
    request: Request, viewer: Viewer, form: FormState, intent: str, editing: str | None
) -> Response:
    """Save the rule in the form, or try it (intent "dry-run") and show the form again."""
    rules = _rules(request)
    spec = _parsed(form)
    if spec is None:
        return _edit_page(request, viewer, form, editing=editing, status=422)
    try:
        if intent == "dry-run":
            tried = dry_run(rules, spec)
            return _edit_page(request, viewer, form, editing=editing, tried=tried)
        if editing is None:
            saved = rules.create(spec)
            return done(f"/ui/rules/{saved.name}", "Rule created.")
        saved = rules.update(editing, spec)
        return done(f"/ui/rules/{saved.name}", "Rule saved.")
    except RuleError as error:
        _add_problems(form, str(error))
        return _edit_page(request, viewer, form, editing=editing, status=422)


@router.get("/rules")
def list_rules(request: Request, viewer: Viewer = Depends(page("read"))) -> Response:
    return render(
        request,
        "rules/list.html",
        viewer,
        rules=[rule.to_json() for rule in _rules(request).all()],
        summarise_when=summarise_when,
        summarise_action=summarise_action,
    )


@router.get("/rules/new")
def new_rule(request: Request, viewer: Viewer = Depends(page("curate"))) -> Response:
    form = FormState({"enabled": "on", "priority": "0", "when": "{}", "then": ""})
    return _edit_page(request, viewer, form, editing=None)


def _rule_form(
    # Not "name": the edit route's path has a parameter by that name.
    rule_name: str = Form("", alias="name"),
    priority: str = Form(""),
    description: str = Form(""),
    when: str = Form(""),
    then: str = Form(""),
    enabled: str = Form(""),
) -> FormState:
    """The rule form as sent, for the create and the edit routes alike."""
    return FormState(
        {
            "name": rule_name,
            "priority": priority,
            "description": description,
            "when": when,
            "then": then,
            "enabled": enabled,
        }
    )


@router.post("/rules")
def create_rule(
    request: Request,
    form: FormState = Depends(_rule_form),
    intent: str = Form("save"),
    viewer: Viewer = Depends(page("curate")),
) -> Response:
    return _submitted(request, viewer, form, intent, None)


@router.get("/rules/{name}")
def show_rule(request: Request, name: str, viewer: Viewer = Depends(page("read"))) -> Response:
    rules = _rules(request)
    rule = rules.get(name)
    tried = dry_run(rules, rule.spec) if request.query_params.get("dry_run") else None
    return render(
        request,
        "rules/show.html",
        viewer,
        rule=rule.to_json(),
        created_at=rule.created_at,
        updated_at=rule.updated_at,
        when_json=json.dumps(rule.spec.when.to_json(), indent=2),
        then_json=json.dumps([action.to_json() for action in rule.spec.then], indent=2),
        tried=tried,
        summarise_action=summarise_action,
    )


@router.get("/rules/{name}/edit")
def edit_rule(request: Request, name: str, viewer: Viewer = Depends(page("curate"))) -> Response:
    return _edit_page(request, viewer, _form_of(_rules(request).get(name)), editing=name)


@router.post("/rules/{name}/edit")
def update_rule(
    request: Request,
    name: str,
    form: FormState = Depends(_rule_form),
    intent: str = Form("save"),
    viewer: Viewer = Depends(page("curate")),
) -> Response:
    return _submitted(request, viewer, form, intent, name)


@router.post("/rules/{name}/enable")
def enable_rule(request: Request, name: str, viewer: Viewer = Depends(page("curate"))) -> Response:
    _rules(request).set_enabled(name, True)
    return done(f"/ui/rules/{name}", "Rule enabled: it decides from now on.")


@router.post("/rules/{name}/disable")
def disable_rule(request: Request, name: str, viewer: Viewer = Depends(page("curate"))) -> Response:
    _rules(request).set_enabled(name, False)
    return done(f"/ui/rules/{name}", "Rule disabled: it no longer decides.")


@router.get("/rules/{name}/delete")
def confirm_delete(
    request: Request, name: str, viewer: Viewer = Depends(page("curate"))
) -> Response:
    rule = _rules(request).get(name)
    return render(request, "rules/delete.html", viewer, rule=rule.to_json())


@router.post("/rules/{name}/delete")
def delete_rule(request: Request, name: str, viewer: Viewer = Depends(page("curate"))) -> Response:
    _rules(request).delete(name)
    return done("/ui/rules", f"Rule {name} deleted.")
