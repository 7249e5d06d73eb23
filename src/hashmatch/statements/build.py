"""Building a statement of reasons from a decision, and writing it in the
decision's own transaction.

    record_verdict(session, settings, submission, decision)     # a block verdict
    record_review(session, settings, item, submission, now)     # a confirmed review decision
    record_upheld_appeal(session, settings, appeal_id, submission, now)  # for appeals

Each writes nothing unless ``dsa_statements_enabled`` is on, and at most one
statement per decision (a review decision reopened and taken again keeps the
first).  The ``puid`` is the ``dsa_platform_puid_prefix``, the decision's kind
and its id: unique on the platform and the same however often it is built.
The statement says nothing about the user: hashmatch knows only the
platform's reference for them, which is personal data the API must not get.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, insert, select

from hashmatch.statements import fields
from hashmatch.store.ids import reserve_ids
from hashmatch.store.models import as_utc, utcnow
from hashmatch.store.statement_models import Statement

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hashmatch.actions.rules import Decision
    from hashmatch.settings import Settings
    from hashmatch.store.workflow import Submission

CONTENT_TYPES = {"photo": "CONTENT_TYPE_IMAGE", "video": "CONTENT_TYPE_VIDEO"}
LEGAL_GROUND = (
    "Directive 2011/93/EU on combating the sexual abuse and sexual exploitation of children, "
    "and the national criminal law implementing it"
)
EXPLANATION = (
    "The content's perceptual or exact hash matched an entry of a list of hashes of known "
    "child sexual abuse material."
)
HOW = {
    fields.FULLY: "The platform's matching rule blocked it without a person's review.",
    fields.PARTIALLY: "The platform's matching rule blocked it and queued a person's review.",
}


@dataclass(frozen=True)
class PlatformFacts:
    """What every statement says about the platform (from settings)."""

    puid_prefix: str
    territorial_scope: tuple[str, ...]
    content_language: str

    @classmethod
    def from_settings(cls, settings: Settings) -> PlatformFacts:
        return cls(
            settings.dsa_platform_puid_prefix,
            tuple(settings.dsa_territorial_scope),
            settings.dsa_content_language,
        )


@dataclass(frozen=True)
class Restriction:
    """The decision a statement explains."""

    kind: str  # one of statement_models.DECISION_KINDS
    decision_id: int
    content_type: str  # the submission's: photo, video or file
    content_date: date
    application_date: date
    automated_decision: str
    facts: str


def puid_of(prefix: str, kind: str, decision_id: int) -> str:
    return f"{prefix}-{kind}-{decision_id}"


def build(platform: PlatformFacts, restriction: Restriction) -> dict[str, Any]:
    """The statement, as the API takes it (not yet checked)."""
    content_type = CONTENT_TYPES.get(restriction.content_type, "CONTENT_TYPE_OTHER")
    statement: dict[str, Any] = {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "decision_ground": fields.ILLEGAL_CONTENT,
        "illegal_content_legal_ground": LEGAL_GROUND,
        "illegal_content_explanation": EXPLANATION,
        "category": fields.PROTECTION_OF_MINORS,
        "category_specification": [fields.CHILD_SEXUAL_ABUSE_MATERIAL],
        "content_type": [content_type],
        "territorial_scope": list(platform.territorial_scope),
        "content_date": max(restriction.content_date, date(2000, 1, 1)).isoformat(),
        "application_date": restriction.application_date.isoformat(),
        "decision_facts": restriction.facts,
        "source_type": "SOURCE_VOLUNTARY",
        "automated_detection": fields.YES,
        "automated_decision": restriction.automated_decision,
        "puid": puid_of(platform.puid_prefix, restriction.kind, restriction.decision_id),
    }
    if content_type == "CONTENT_TYPE_OTHER":
        statement["content_type_other"] = "File"
    if platform.content_language:
        statement["content_language"] = platform.content_language
    return statement


def record(
    session: Session, settings: Settings, restriction: Restriction, submission_id: int
) -> int | None:
    """Build, check and write the statement in ``session``'s transaction;
    its id, or None when statements are off or this decision has one."""
    if not settings.dsa_statements_enabled:
        return None
    exists = session.scalar(
        select(Statement.id).where(
            Statement.decision_kind == restriction.kind,
            Statement.decision_id == restriction.decision_id,
        )
    )
    if exists is not None:
        return None
    body = build(PlatformFacts.from_settings(settings), restriction)
    fields.check_statement(body)
    [statement_id] = reserve_ids(session.connection(), cast(Table, Statement.__table__), 1)
    session.execute(
        insert(Statement).values(
            id=statement_id,
            decision_kind=restriction.kind,
            decision_id=restriction.decision_id,
            submission_id=submission_id,
            puid=body["puid"],
            body=body,
            status="pending",
            attempts=0,
            created_at=utcnow(),
        )
    )
    return statement_id


def _uploaded(uploaded_at: datetime | None, created_at: datetime) -> date:
    return as_utc(uploaded_at or created_at).date()


def _matched(matches: list[Any]) -> str:
    kinds = sorted({str(match.get("signal_type", "")) for match in matches if match})
    said = ", ".join(kind for kind in kinds if kind) or "hash"
    return f"{len(matches)} match(es) by {said} against lists of known material"


def record_verdict(
    session: Session,
    settings: Settings,
    *,
    submission_id: int,
    content_type: str,
    uploaded_at: datetime | None,
    matches: list[Any],
    decision: Decision,
    now: datetime,
) -> int | None:
    """A ``block`` verdict's statement: detected by hash matching; the
    decision fully automated, or partly when the blocking rule also queued
    a person's review."""
    if decision.verdict != "block":
        return None
    blocking = [fired.rule for fired in decision.actions if fired.action.action == "block"]
    reviewed = any(
        fired.action.action == "review" and fired.rule in blocking for fired in decision.actions
    )
    automated = fields.PARTIALLY if reviewed else fields.FULLY
    restriction = Restriction(
        "verdict",
        submission_id,
        content_type,
        _uploaded(uploaded_at, now),
        as_utc(now).date(),
        automated,
        f"Upload blocked: {_matched(matches)}. {HOW[automated]}",
    )
    return record(session, settings, restriction, submission_id)


def record_review(
    session: Session, settings: Settings, item_id: int, submission: Submission, now: datetime
) -> int | None:
    """A confirmed review decision's statement: detected by hash matching,
    decided by a person."""
    restriction = Restriction(
        "review",
        item_id,
        submission.content_type,
        _uploaded(submission.uploaded_at, submission.created_at),
        as_utc(now).date(),
        fields.NOT_AUTOMATED,
        f"Detected by {_matched(list(submission.matches or []))}; a reviewer confirmed the match.",
    )
    return record(session, settings, restriction, submission.id)


def record_upheld_appeal(
    session: Session, settings: Settings, appeal_id: int, submission: Submission, now: datetime
) -> int | None:
    """An upheld appeal's statement (for ``review/appeals.py`` to call in the
    transaction that records the uphold): the restriction stands after a
    person looked at the user's appeal."""
    restriction = Restriction(
        "appeal",
        appeal_id,
        submission.content_type,
        _uploaded(submission.uploaded_at, submission.created_at),
        as_utc(now).date(),
        fields.NOT_AUTOMATED,
        f"Detected by {_matched(list(submission.matches or []))}; "
        "the user's appeal was reviewed by a person and the decision upheld.",
    )
    return record(session, settings, restriction, submission.id)
