"""Everything hashmatch knows about one of the platform's users (a
``user_ref``), newest first, a page at a time.

    page = user_history(database, "user-81", limit=50)
    page.entries[0]   # {"kind": "submission", "at": "...", "ids": {...}, "summary": "...", ...}
    user_history(database, "user-81", cursor=page.next_cursor)   # the next page

Six kinds of entry, each read from its own table through the user's
submissions (or, for reports, the report's own ``user_ref``): ``submission``
(verdict and match count), ``match`` (one per match a submission had: bank,
labels, distance), ``review`` (a review decision; skips left out),
``report`` (a CyberTipline report: state, NCMEC's id), ``appeal`` (state
and decision) and ``statement`` (a statement of reasons).

Paging is by keyset, not offset: an entry's key is (time, kind, row id,
position among a submission's matches), and the cursor is the last key
shown.  Each kind reads at most ``limit + 1`` rows after the cursor in its
own index order, and the page is the newest ``limit`` of those: a deep page
costs what the first one does, and records written while a reader pages
never shift what the next page holds.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Row, Select, and_, func, or_, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session

from hashmatch.errors import PlatformUserError, UnknownPlatformUserError
from hashmatch.platform_users.kinds import KINDS, MAX_PAGE, USER_REF_CHARS
from hashmatch.store.models import as_utc
from hashmatch.store.reporting_models import CybertipReport
from hashmatch.store.review_models import Appeal, ReviewDecision
from hashmatch.store.statement_models import Statement
from hashmatch.store.workflow import ReviewItem, Submission

if TYPE_CHECKING:
    from hashmatch.store import Database

#: A query of one kind's rows (its columns differ from kind to kind).
Rows = Select[*tuple[Any, ...]]


@dataclass(frozen=True, order=True)
class Key:
    """Where an entry stands in the history; larger is newer."""

    at: datetime
    rank: int
    row_id: int
    #: Among one submission's matches: minus the match's position, so the
    #: first match shows first.
    sub: int = 0

    def encode(self) -> str:
        text = json.dumps([self.at.isoformat(), self.rank, self.row_id, self.sub])
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> Key:
        """A cursor given back by a client; PlatformUserError if it is not one of ours."""
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            at, rank, row_id, sub = json.loads(base64.urlsafe_b64decode(padded.encode()))
            key = cls(as_utc(datetime.fromisoformat(at)), rank, row_id, sub)
        except (ValueError, TypeError, binascii.Error, UnicodeError):
            raise PlatformUserError("cursor: not a cursor this server gave") from None
        if not all(isinstance(n, int) for n in (rank, row_id, sub)) or not 0 <= rank < len(KINDS):
            raise PlatformUserError("cursor: not a cursor this server gave")
        return key


@dataclass(frozen=True)
class Entry:
    key: Key
    kind: str
    ids: dict[str, int | None]
    summary: str
    details: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "at": self.key.at.isoformat(),
            "ids": self.ids,
            "summary": self.summary,
            "details": self.details,
        }


@dataclass(frozen=True)
class HistoryPage:
    user_ref: str
    #: Entries of each kind in the whole history (not just this page).
    counts: dict[str, int]
    entries: list[Entry]
    #: Give it back for the next page; None after the last.
    next_cursor: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "user_ref": self.user_ref,
            "counts": self.counts,
            "total": sum(self.counts.values()),
            "entries": [entry.to_json() for entry in self.entries],
            "next_cursor": self.next_cursor,
        }


def match_count(matches: Any) -> ColumnElement[int]:
    """The length of a JSON array column, in SQL (both engines call it this)."""
    return func.coalesce(func.json_array_length(matches), 0)


def _mine(user_ref: str) -> ColumnElement[bool]:
    return Submission.user_ref == user_ref


@dataclass(frozen=True)
class _Source:
    """One kind of entry: its rows for a user, newest first, and what an entry says."""

    kind: str
    at: InstrumentedAttribute[datetime]
    row_id: InstrumentedAttribute[int]
    rows: Callable[[str], Rows]
    entries: Callable[[Row[Any], Key], list[Entry]]

    @property
    def rank(self) -> int:
        return KINDS.index(self.kind)

    def older_than(self, cursor: Key) -> ColumnElement[bool]:
        """Rows that may hold entries after ``cursor`` (the caller drops the
        few of a row at the cursor itself that came before it)."""
        same_moment = self.at == cursor.at
        if self.rank > cursor.rank:
            return self.at < cursor.at
        if self.rank < cursor.rank:
            return self.at <= cursor.at
        return or_(self.at < cursor.at, and_(same_moment, self.row_id <= cursor.row_id))

    def page(self, session: Session, user_ref: str, cursor: Key | None, limit: int) -> list[Entry]:
        query = self.rows(user_ref)
        if cursor is not None:
            query = query.where(self.older_than(cursor))
        rows = session.execute(query.order_by(self.at.desc(), self.row_id.desc()).limit(limit))
        return [
            entry
            for row in rows
            for entry in self.entries(row, Key(as_utc(row.at), self.rank, row.row_id))
            if cursor is None or entry.key < cursor
        ]


def _submission_rows(user_ref: str) -> Rows:
    return select(
        Submission.created_at.label("at"),
        Submission.id.label("row_id"),
        Submission.content_ref,
        Submission.content_type,
        Submission.verdict,
        match_count(Submission.matches).label("matches"),
    ).where(_mine(user_ref))


def _submission(row: Row[Any], key: Key) -> list[Entry]:
    plural = "" if row.matches == 1 else "es"
    return [
        Entry(
            key,
            "submission",
            {"submission_id": row.row_id},
            f"{row.content_type} {row.content_ref}: {row.verdict}, {row.matches} match{plural}",
            {
                "content_ref": row.content_ref,
                "content_type": row.content_type,
                "verdict": row.verdict,
                "match_count": row.matches,
            },
        )
    ]


def _match_rows(user_ref: str) -> Rows:
    return select(
        Submission.created_at.label("at"), Submission.id.label("row_id"), Submission.matches
    ).where(_mine(user_ref), match_count(Submission.matches) > 0)


def _matches(row: Row[Any], key: Key) -> list[Entry]:
    entries = []
    for position, match in enumerate(row.matches or []):
        labels = list(match.get("labels") or []) + list(match.get("content_labels") or [])
        suppressed = bool(match.get("suppressed"))
        summary = (
            f"{match.get('bank')} ({', '.join(labels) or 'no label'}), "
            f"{match.get('signal_type')} distance {match.get('distance')}"
            + (", suppressed" if suppressed else "")
        )
        entries.append(
            Entry(
                Key(key.at, key.rank, key.row_id, -position),
                "match",
                {"submission_id": row.row_id, "content_id": match.get("content_id")},
                summary,
                {
                    "bank": match.get("bank"),
                    "labels": labels,
                    "signal_type": match.get("signal_type"),
                    "distance": match.get("distance"),
                    "suppressed": suppressed,
                },
            )
        )
    return entries


def _review_rows(user_ref: str) -> Rows:
    return (
        select(
            ReviewDecision.created_at.label("at"),
            ReviewDecision.id.label("row_id"),
            ReviewDecision.item_id,
            ReviewDecision.decision,
            ReviewDecision.classification,
            ReviewDecision.actor,
            ReviewItem.submission_id,
            ReviewItem.queue,
        )
        .join(ReviewItem, ReviewItem.id == ReviewDecision.item_id)
        .join(Submission, Submission.id == ReviewItem.submission_id)
        .where(_mine(user_ref), ReviewDecision.decision != "skip")
    )


def _review(row: Row[Any], key: Key) -> list[Entry]:
    decision = row.decision + (f" {row.classification}" if row.classification else "")
    return [
        Entry(
            key,
            "review",
            {
                "decision_id": row.row_id,
                "review_item_id": row.item_id,
                "submission_id": row.submission_id,
            },
            f"{decision} by {row.actor} in {row.queue}",
            {
                "decision": row.decision,
                "classification": row.classification,
                "actor": row.actor,
                "queue": row.queue,
            },
        )
    ]


def _report_rows(user_ref: str) -> Rows:
    return select(
        CybertipReport.created_at.label("at"),
        CybertipReport.id.label("row_id"),
        CybertipReport.status,
        CybertipReport.ncmec_report_id,
        CybertipReport.environment,
    ).where(CybertipReport.user_ref == user_ref)


def _report(row: Row[Any], key: Key) -> list[Entry]:
    ncmec = f", NCMEC report {row.ncmec_report_id}" if row.ncmec_report_id else ""
    return [
        Entry(
            key,
            "report",
            {"report_id": row.row_id},
            f"CyberTipline report {row.status} ({row.environment}){ncmec}",
            {
                "status": row.status,
                "ncmec_report_id": row.ncmec_report_id,
                "environment": row.environment,
            },
        )
    ]


def _of_submissions(model: type[Appeal] | type[Statement], user_ref: str, *columns: Any) -> Rows:
    """``model``'s rows of the user's submissions: ``at``, ``row_id`` and ``columns``."""
    return (
        select(model.created_at.label("at"), model.id.label("row_id"), *columns)
        .join(Submission, Submission.id == model.submission_id)
        .where(_mine(user_ref))
    )


def _appeal_rows(user_ref: str) -> Rows:
    return _of_submissions(
        Appeal,
        user_ref,
        Appeal.submission_id,
        Appeal.review_item_id,
        Appeal.status,
        Appeal.decision,
    )


def _appeal(row: Row[Any], key: Key) -> list[Entry]:
    target = "review decision" if row.review_item_id else "verdict"
    state = f"decided: {row.decision}" if row.decision else row.status
    return [
        Entry(
            key,
            "appeal",
            {
                "appeal_id": row.row_id,
                "submission_id": row.submission_id,
                "review_item_id": row.review_item_id,
            },
            f"appeal against the {target}, {state}",
            {"status": row.status, "decision": row.decision},
        )
    ]


def _statement_rows(user_ref: str) -> Rows:
    return _of_submissions(
        Statement,
        user_ref,
        Statement.submission_id,
        Statement.decision_kind,
        Statement.decision_id,
        Statement.status,
    )


def _statement(row: Row[Any], key: Key) -> list[Entry]:
    return [
        Entry(
            key,
            "statement",
            {"statement_id": row.row_id, "submission_id": row.submission_id},
            f"statement of reasons for the {row.decision_kind} {row.decision_id}, {row.status}",
            {
                "decision_kind": row.decision_kind,
                "decision_id": row.decision_id,
                "status": row.status,
            },
        )
    ]


SOURCES = (
    _Source("submission", Submission.created_at, Submission.id, _submission_rows, _submission),
    _Source("match", Submission.created_at, Submission.id, _match_rows, _matches),
    _Source("review", ReviewDecision.created_at, ReviewDecision.id, _review_rows, _review),
    _Source("report", CybertipReport.created_at, CybertipReport.id, _report_rows, _report),
    _Source("appeal", Appeal.created_at, Appeal.id, _appeal_rows, _appeal),
    _Source("statement", Statement.created_at, Statement.id, _statement_rows, _statement),
)


def counts(session: Session, user_ref: str) -> dict[str, int]:
    """How many entries of each kind the user's whole history holds: one statement."""
    totals: dict[str, Any] = {
        source.kind: select(func.count()).select_from(source.rows(user_ref).subquery())
        for source in SOURCES
        if source.kind != "match"
    }
    totals["match"] = select(func.coalesce(func.sum(match_count(Submission.matches)), 0)).where(
        _mine(user_ref)
    )
    row = session.execute(
        select(*(query.scalar_subquery().label(k) for k, query in totals.items()))
    )
    found = row.one()._mapping
    return {kind: int(found[kind]) for kind in reversed(KINDS)}


#: PostgreSQL's planner, guessing a user's rows are spread evenly over time,
#: walked the whole table backwards by ``created_at`` (an incremental sort)
#: to find a page of a user whose records are old: 45 ms among 54,000
#: submissions, growing with the table, against 0.1 ms through the
#: (user_ref, created_at, id) index it takes once that plan is off.
_NO_INCREMENTAL_SORT = text("SET LOCAL enable_incremental_sort = off")


def check_request(user_ref: str, *, limit: int, kinds: Sequence[str] | None) -> None:
    if not user_ref or len(user_ref) > USER_REF_CHARS:
        raise PlatformUserError(f"user_ref must be 1 to {USER_REF_CHARS} characters")
    if not 1 <= limit <= MAX_PAGE:
        raise PlatformUserError(f"limit must be 1 to {MAX_PAGE}")
    unknown = sorted(set(kinds or ()) - set(KINDS))
    if unknown:
        raise PlatformUserError(f"kind: {', '.join(unknown)} is not one of {', '.join(KINDS)}")


def user_history(
    database: Database,
    user_ref: str,
    *,
    limit: int = 50,
    cursor: str | None = None,
    kinds: Sequence[str] | None = None,
) -> HistoryPage:
    """A page of the user's history, newest first (``kinds``: only those);
    UnknownPlatformUserError when nothing at all is known about them,
    PlatformUserError for a bad cursor, kind or limit."""
    check_request(user_ref, limit=limit, kinds=kinds)
    after = Key.decode(cursor) if cursor is not None else None
    with database.reading(consistent=True) as session:
        if database.dialect == "postgresql":
            session.execute(_NO_INCREMENTAL_SORT)
        found = counts(session, user_ref)
        if not any(found.values()):
            raise UnknownPlatformUserError(user_ref)
        entries = sorted(
            (
                entry
                for source in SOURCES
                if not kinds or source.kind in kinds
                for entry in source.page(session, user_ref, after, limit + 1)
            ),
            key=lambda entry: entry.key,
            reverse=True,
        )
    shown = entries[:limit]
    more = len(entries) > limit
    return HistoryPage(user_ref, found, shown, shown[-1].key.encode() if more else None)
