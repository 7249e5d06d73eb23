"""Reading statements of reasons back, and putting failed ones back to pending.

list_statements(database, status="failed")   # newest first, as JSON
get_statement(database, 7)                   # one, with the statement sent
resend(database, 7)                          # one failed statement pending again
retry_failed(database)                       # how many are pending again

A failed statement is put back with one conditional update (``WHERE
status = 'failed'``): of two resends at once, one does it and the other is
told the statement is no longer failed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from hashmatch import audit
from hashmatch.errors import InvalidFieldError, StatementError, UnknownStatementError
from hashmatch.store import Database
from hashmatch.store.models import iso_utc
from hashmatch.store.statement_models import DECISION_KINDS, STATEMENT_STATUSES, Statement


def statement_json(row: Statement, *, body: bool = False) -> dict[str, Any]:
    said: dict[str, Any] = {
        "id": row.id,
        "decision_kind": row.decision_kind,
        "decision_id": row.decision_id,
        "submission_id": row.submission_id,
        "puid": row.puid,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": iso_utc(row.next_attempt_at),
        "last_error": row.last_error,
        "response": row.response,
        "created_at": iso_utc(row.created_at),
        "sent_at": iso_utc(row.sent_at),
    }
    if body:
        said["statement"] = row.body
    return said


def list_statements(
    database: Database,
    *,
    status: str | None = None,
    decision_kind: str | None = None,
    since: datetime | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Statements, newest first: of one status and decision kind, written
    at ``since`` or later, with ids below ``before`` (the next page).
    InvalidFieldError for an unknown status or decision kind."""
    query = select(Statement)
    for name, value, known, column in (
        ("status", status, STATEMENT_STATUSES, Statement.status),
        ("decision_kind", decision_kind, DECISION_KINDS, Statement.decision_kind),
    ):
        if value is None:
            continue
        if value not in known:
            raise InvalidFieldError(f"{name} must be one of {', '.join(known)}, not {value!r}")
        query = query.where(column == value)
    if since is not None:
        query = query.where(Statement.created_at >= since)
    if before is not None:
        query = query.where(Statement.id < before)
    with database.reading() as session:
        rows = session.scalars(query.order_by(Statement.id.desc()).limit(limit)).all()
        return [statement_json(row) for row in rows]


def get_statement(database: Database, statement_id: int) -> dict[str, Any]:
    with database.reading() as session:
        row = session.get(Statement, statement_id)
        if row is None:
            raise UnknownStatementError(f"no statement of reasons {statement_id}")
        return statement_json(row, body=True)


def resend(database: Database, statement_id: int) -> dict[str, Any]:
    """A failed statement back to pending, tries reset, audited; the
    statement after.  UnknownStatementError, or StatementError when it is
    not failed (pending, sent, not sent, or resent by someone else first)."""
    with database.transaction() as session:
        result = session.execute(
            update(Statement)
            .where(Statement.id == statement_id, Statement.status == "failed")
            .values(status="pending", attempts=0, next_attempt_at=None)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            row = session.get(Statement, statement_id)
            if row is None:
                raise UnknownStatementError(f"no statement of reasons {statement_id}")
            raise StatementError(
                f"statement {statement_id} is {row.status}: only a failed one is sent again"
            )
        audit.record(
            session,
            "statement.resend",
            f"statement:{statement_id}",
            before={"status": "failed"},
            after={"status": "pending"},
        )
    return get_statement(database, statement_id)


def retry_failed(database: Database) -> int:
    """Failed statements back to pending, tries reset (after the token or
    a field was fixed); how many."""
    with database.transaction() as session:
        result = session.execute(
            update(Statement)
            .where(Statement.status == "failed")
            .values(status="pending", attempts=0, next_attempt_at=None)
        )
        retried = int(result.rowcount)  # type: ignore[attr-defined]
        audit.record(session, "statements.retry", "dsa", after={"retried": retried})
    return retried
