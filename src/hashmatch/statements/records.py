"""Reading statements of reasons back, and putting failed ones back to pending.

list_statements(database, status="failed")   # newest first, as JSON
get_statement(database, 7)                   # one, with the statement sent
retry_failed(database)                       # how many are pending again
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from hashmatch import audit
from hashmatch.errors import InvalidFieldError, UnknownStatementError
from hashmatch.store import Database
from hashmatch.store.models import iso_utc
from hashmatch.store.statement_models import STATEMENT_STATUSES, Statement


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
    database: Database, *, status: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Statements, newest first (InvalidFieldError for an unknown status)."""
    query = select(Statement)
    if status is not None:
        if status not in STATEMENT_STATUSES:
            known = ", ".join(STATEMENT_STATUSES)
            raise InvalidFieldError(f"status must be one of {known}, not {status!r}")
        query = query.where(Statement.status == status)
    with database.reading() as session:
        rows = session.scalars(query.order_by(Statement.id.desc()).limit(limit)).all()
        return [statement_json(row) for row in rows]


def get_statement(database: Database, statement_id: int) -> dict[str, Any]:
    with database.reading() as session:
        row = session.get(Statement, statement_id)
        if row is None:
            raise UnknownStatementError(f"no statement of reasons {statement_id}")
        return statement_json(row, body=True)


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
