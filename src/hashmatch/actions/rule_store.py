"""The rules a database keeps: listed, changed and tried out.

    rules = Rules(database)
    rules.create(parse_rule(json.loads(text)))
    rules.set_enabled("review-any-match", False)
    rules.test_hashes(matcher, [("pdq", "f8f8...")])  # what they would decide

A rule is checked against the database when it is stored: every bank in
``when.banks`` and every webhook its actions name must exist (a bank or
webhook deleted later simply stops mattering to it).  Each change is one
transaction with its audit entry.  A change locks the rule's row first, so
two changes of one rule take turns, and each audit entry's ``before`` is
what the other left; two creates of one name end in one rule and a
RuleExistsError, whichever engine holds them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hashmatch.actions.rules import (
    Decision,
    RuleSpec,
    UserCounts,
    content_type_of,
    evaluate,
    history_windows,
    parse_rule,
    rule_order,
    webhooks_named,
)
from hashmatch.actions.user_history import count_user_history
from hashmatch.audit import record
from hashmatch.errors import (
    RuleError,
    RuleExistsError,
    UnknownRuleError,
    UnknownSubmissionError,
)
from hashmatch.signals import get_signal_type
from hashmatch.store import Bank, Database
from hashmatch.store.models import as_utc, utcnow
from hashmatch.store.workflow import Rule, Submission, Webhook

if TYPE_CHECKING:
    from hashmatch.matching import Matcher


@dataclass(frozen=True)
class StoredRule:
    spec: RuleSpec
    created_at: datetime
    updated_at: datetime

    @property
    def name(self) -> str:
        return self.spec.name

    def to_json(self) -> dict[str, Any]:
        return {
            **self.spec.to_json(),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def _stored(row: Rule) -> StoredRule:
    spec = parse_rule(
        {
            "name": row.name,
            "enabled": row.enabled,
            "priority": row.priority,
            "description": row.description,
            "when": row.when,
            "then": row.then,
        }
    )
    return StoredRule(spec, as_utc(row.created_at), as_utc(row.updated_at))


class Rules:
    """Rule operations on one database."""

    def __init__(self, database: Database) -> None:
        self.database = database

    # -- reading -------------------------------------------------------------

    def all(self) -> list[StoredRule]:
        """Every rule, in the order they run (priority, then name)."""
        with self.database.reading() as session:
            rows = session.scalars(select(Rule)).all()
            return sorted((_stored(row) for row in rows), key=lambda rule: rule_order(rule.spec))

    def enabled(self) -> list[RuleSpec]:
        """The rules that decide, in the order they run."""
        return [rule.spec for rule in self.all() if rule.spec.enabled]

    def get(self, name: str) -> StoredRule:
        with self.database.reading() as session:
            return _stored(_row(session, name))

    # -- changing ------------------------------------------------------------

    def create(self, spec: RuleSpec) -> StoredRule:
        with self._writing(spec.name) as session:
            _check_references(session, spec)
            if session.scalar(select(Rule.id).where(Rule.name == spec.name)) is not None:
                raise RuleExistsError(f"a rule named {spec.name!r} already exists")
            row = Rule(name=spec.name)
            _assign(row, spec)
            row.created_at = row.updated_at
            session.add(row)
            session.flush()
            record(session, "rule.create", f"rule:{spec.name}", after=spec.to_json())
            return _stored(row)

    def update(self, name: str, spec: RuleSpec) -> StoredRule:
        """Replace a rule by ``spec`` (which may rename it to a free name)."""
        with self._writing(spec.name) as session:
            row = _row(session, name, lock=True)
            before = _stored(row).spec
            _check_references(session, spec)
            if spec.name != name and session.scalar(select(Rule.id).where(Rule.name == spec.name)):
                raise RuleExistsError(f"a rule named {spec.name!r} already exists")
            _assign(row, spec)
            session.flush()
            record(
                session,
                "rule.update",
                f"rule:{name}",
                before=before.to_json(),
                after=spec.to_json(),
            )
            return _stored(row)

    def set_enabled(self, name: str, enabled: bool) -> StoredRule:
        """Turn a rule on or off (a rule already so is left as it is, unrecorded)."""
        with self.database.transaction() as session:
            row = _row(session, name, lock=True)
            before = _stored(row).spec
            if row.enabled != enabled:
                after = before.model_copy(update={"enabled": enabled})
                _assign(row, after)
                session.flush()
                action = "rule.enable" if enabled else "rule.disable"
                record(
                    session, action, f"rule:{name}", before=before.to_json(), after=after.to_json()
                )
            return _stored(row)

    def delete(self, name: str) -> None:
        with self.database.transaction() as session:
            row = _row(session, name, lock=True)
            before = _stored(row).spec
            session.delete(row)
            session.flush()
            record(session, "rule.delete", f"rule:{name}", before=before.to_json())

    @contextmanager
    def _writing(self, name: str) -> Iterator[Session]:
        """A write transaction in which a second rule called ``name`` (a
        concurrent create or rename the check did not see) is RuleExistsError."""
        try:
            with self.database.transaction() as session:
                yield session
        except IntegrityError:
            raise RuleExistsError(f"a rule named {name!r} already exists") from None

    # -- trying out ----------------------------------------------------------

    def test_submission(self, submission_id: int, rule: RuleSpec | None = None) -> dict[str, Any]:
        """What the enabled rules (or ``rule`` alone, stored or not) decide
        for a stored submission's matches, as JSON; the user's counts as
        they were when it was taken."""
        with self.database.reading() as session:
            submission = session.get(Submission, submission_id)
            if submission is None:
                raise UnknownSubmissionError(submission_id)
            matches = list(submission.matches)
            content_type = submission.content_type
            if content_type == "hashes":
                content_type = content_type_of(submission.signals)
            user_ref, taken_at = submission.user_ref, as_utc(submission.created_at)
        return self._tried(rule, matches, content_type, user_ref, taken_at)

    def test_hashes(
        self,
        matcher: Matcher,
        hashes: Sequence[tuple[str, str]],
        rule: RuleSpec | None = None,
        user_ref: str | None = None,
    ) -> dict[str, Any]:
        """As :meth:`test_submission`, for the matches of (signal type, hash)
        pairs uploaded now by ``user_ref`` (None: a user with no history)."""
        parsed = [(kind, get_signal_type(kind).parse(value)) for kind, value in hashes]
        found = matcher.match_many(parsed)
        matches = [match.to_json() for matches in found for match in matches]
        content_type = content_type_of(kind for kind, _ in parsed)
        return self._tried(rule, matches, content_type, user_ref, utcnow())

    def decide(
        self,
        rules: Sequence[RuleSpec],
        matches: Sequence[dict[str, Any]],
        content_type: str,
        user_counts: UserCounts | None = None,
    ) -> Decision:
        """:func:`evaluate`, with the banks' kinds as the database has them now."""
        with self.database.reading() as session:
            kinds = dict(session.execute(select(Bank.name, Bank.kind)).all())
        return evaluate(
            rules, matches, content_type=content_type, bank_kinds=kinds, user_counts=user_counts
        )

    def _tried(
        self,
        rule: RuleSpec | None,
        matches: list[dict[str, Any]],
        content_type: str,
        user_ref: str | None,
        now: datetime,
    ) -> dict[str, Any]:
        if rule is not None:
            with self.database.reading() as session:
                _check_references(session, rule)
        rules = [rule] if rule is not None else self.enabled()
        counts = count_user_history(self.database, user_ref, history_windows(rules), now=now)
        decision = self.decide(rules, matches, content_type, counts)
        return {
            **decision.to_json(),
            "content_type": content_type,
            "matches": matches,
            "user_ref": user_ref,
            "user_history": [
                {"count": kind, "within_days": days, "value": value}
                for (kind, days), value in sorted(counts.items())
            ],
        }


def _row(session: Session, name: str, *, lock: bool = False) -> Rule:
    query = select(Rule).where(Rule.name == name)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise UnknownRuleError(name)
    return row


def _assign(row: Rule, spec: RuleSpec) -> None:
    row.name = spec.name
    row.enabled = spec.enabled
    row.priority = spec.priority
    row.description = spec.description
    row.when = spec.when.to_json()
    row.then = [action.to_json() for action in spec.then]
    row.updated_at = utcnow()


def _check_references(session: Session, spec: RuleSpec) -> None:
    """RuleError, naming the rule and the name, for a bank or webhook the rule
    names that the database does not have (the request is at fault, not a
    missing rule: 400, not 404)."""
    for kind, table, names in (
        ("bank", Bank, set(spec.when.banks or ())),
        ("webhook", Webhook, webhooks_named(spec)),
    ):
        if not names:
            continue
        known = set(session.scalars(select(table.name).where(table.name.in_(names))))
        missing = sorted(names - known)
        if missing:
            raise RuleError(
                f"rule {spec.name!r} names {kind}s that do not exist: {', '.join(missing)}"
            )
