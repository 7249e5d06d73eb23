"""Knowledge sharing: rule templates and playbooks members publish on the hub.

    templates = Templates(database)
    templates.publish("hub-3", kind="rule", name="review PDQ", description="", body=rule_json)
    templates.publish("hub-3", kind="playbook", name="First 24 hours", body="# ...")
    templates.list("hub-7")          # every member's, newest first, without bodies
    templates.get("hub-7", 12)       # one, with its body

A rule template is the actions issue's rule JSON, checked by ``parse_rule``
and kept as its normal form with ``enabled`` false: whoever imports it
starts with it off (``import_rule``) and turns it on when it suits their
banks.  A playbook is Markdown of at most :data:`MAX_PLAYBOOK_CHARS`.  Only
an active member publishes or reads; a hub admin's key (``key_name=None``)
reads all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.actions.rules import RuleSpec, parse_rule
from hashmatch.errors import InvalidFieldError, UnknownHubObjectError
from hashmatch.fieldlimits import DESCRIPTION_CHARS, check_text
from hashmatch.hub.member_records import member_by_key
from hashmatch.hub.members import require_active
from hashmatch.store import Database
from hashmatch.store.hub_models import HubMember
from hashmatch.store.hub_report_models import TEMPLATE_KINDS, HubTemplate
from hashmatch.store.models import iso_utc

NAME_CHARS = 200
#: A playbook's Markdown, at most (a long one is a few thousand words).
MAX_PLAYBOOK_CHARS = 64 * 1024
#: Templates one list answer carries, at most.
MAX_LISTED = 500


def template_json(row: HubTemplate, member: str, *, with_body: bool) -> dict[str, Any]:
    shown = {
        "id": row.id,
        "member_id": row.member_id,
        "member": member,
        "kind": row.kind,
        "name": row.name,
        "description": row.description,
        "published_at": iso_utc(row.published_at),
    }
    if with_body:
        shown["body"] = row.body["rule"] if row.kind == "rule" else row.body["markdown"]
    return shown


def template_body(kind: str, body: Any) -> dict[str, Any]:
    """What is stored for ``body``: a checked rule (disabled), or checked Markdown."""
    if kind == "rule":
        spec = parse_rule(body)
        return {"rule": spec.model_copy(update={"enabled": False}).to_json()}
    if kind == "playbook":
        if not isinstance(body, str):
            raise InvalidFieldError("a playbook's body is Markdown text")
        return {"markdown": check_text("body", body, max_chars=MAX_PLAYBOOK_CHARS)}
    raise InvalidFieldError(f"kind must be one of {', '.join(TEMPLATE_KINDS)}")


def rule_to_import(template: dict[str, Any], *, name: str | None = None) -> RuleSpec:
    """A fetched rule template as a rule to add: off, whatever the hub said."""
    if template.get("kind") != "rule":
        raise InvalidFieldError(f"template {template.get('id')} is not a rule template")
    spec = parse_rule(template.get("body"))
    return spec.model_copy(update={"enabled": False, **({"name": name} if name else {})})


class Templates:
    def __init__(self, database: Database) -> None:
        self.database = database

    def publish(
        self, key_name: str, *, kind: str, name: str, description: str = "", body: Any
    ) -> dict[str, Any]:
        check_text("name", name, max_chars=NAME_CHARS, one_line=True)
        if not name.strip():
            raise InvalidFieldError("name must not be empty")
        check_text("description", description, max_chars=DESCRIPTION_CHARS)
        stored = template_body(kind, body)
        with self.database.transaction() as session:
            member = member_by_key(session, key_name)
            require_active(member)
            row = HubTemplate(
                member_id=member.id, kind=kind, name=name, description=description, body=stored
            )
            session.add(row)
            session.flush()
            shown = template_json(row, member.name, with_body=False)
            audit.record(session, "hub.template.publish", f"hub-template:{row.id}", after=shown)
            return template_json(row, member.name, with_body=True)

    def list(self, key_name: str | None, *, kind: str | None = None) -> list[dict[str, Any]]:
        with self.database.reading() as session:
            _reader(session, key_name)
            query = (
                select(HubTemplate, HubMember.name)
                .join(HubMember, HubMember.id == HubTemplate.member_id)
                .order_by(HubTemplate.id.desc())
                .limit(MAX_LISTED)
            )
            if kind is not None:
                query = query.where(HubTemplate.kind == kind)
            return [
                template_json(row, member, with_body=False)
                for row, member in session.execute(query)
            ]

    def get(self, key_name: str | None, template_id: int) -> dict[str, Any]:
        with self.database.reading() as session:
            _reader(session, key_name)
            found = session.execute(
                select(HubTemplate, HubMember.name)
                .join(HubMember, HubMember.id == HubTemplate.member_id)
                .where(HubTemplate.id == template_id)
            ).first()
            if found is None:
                raise UnknownHubObjectError(f"no template {template_id}")
            row, member = found
            return template_json(row, member, with_body=True)


def _reader(session: Session, key_name: str | None) -> None:
    """Only an active member reads (a hub admin, ``None``, always does)."""
    if key_name is not None:
        require_active(member_by_key(session, key_name))
