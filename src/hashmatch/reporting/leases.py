"""Who files a report right now: one holder at a time, across processes.

    leases = ReportLeases(database)
    holder = leases.acquire(report_id)          # ReportConflictError while another holds it
    with leases.locked(report_id, holder) as (session, row):
        ...                                     # a step's change; the lease renewed
    leases.release(report_id, holder)
    ids = leases.claim_due(holder, limit=8)     # a filer's round

A lease is a conditional UPDATE on ``leased_until`` (taken only where it is
empty or past), so two processes never both hold one; a holder that dies
leaves it to run out.  :meth:`claim_due` selects due rows ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, as the outbox's ``claim`` does (two filers never wait
for, nor take, each other's reports); on SQLite the transaction holds the
database's write lock, so the select and the lease are one step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session

from hashmatch.errors import ReportConflictError, UnknownReportError
from hashmatch.rounds import holder_name
from hashmatch.store.models import utcnow
from hashmatch.store.reporting_models import CybertipReport, EvidencePackage

if TYPE_CHECKING:
    from hashmatch.store import Database

#: The statuses a filer works on.
ACTIVE = ("draft", "submitted", "files_uploaded")
#: A report's holder keeps it this long past its last step.
DEFAULT_LEASE = timedelta(minutes=10)


class ReportLeases:
    def __init__(
        self,
        database: Database,
        *,
        lease: timedelta = DEFAULT_LEASE,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        self.lease = lease
        self.now = now

    def _free(self, now: datetime) -> object:
        return or_(CybertipReport.leased_until.is_(None), CybertipReport.leased_until < now)

    def acquire(self, report_id: int) -> str:
        """Lease the report to a new holder, returned; ReportConflictError
        while another holds it, UnknownReportError when there is no such report."""
        holder = holder_name()
        now = self.now()
        with self.database.transaction() as session:
            taken = session.execute(
                update(CybertipReport)
                .where(CybertipReport.id == report_id, self._free(now))  # type: ignore[arg-type]
                .values(leased_by=holder, leased_until=now + self.lease)
            ).rowcount  # type: ignore[attr-defined]
            if not taken:
                row = session.get(CybertipReport, report_id)
                if row is None:
                    raise UnknownReportError(report_id)
                raise ReportConflictError(
                    f"report {report_id} is being filed by {row.leased_by}; try again later"
                )
        return holder

    def release(self, report_id: int, holder: str) -> None:
        with self.database.transaction() as session:
            session.execute(
                update(CybertipReport)
                .where(CybertipReport.id == report_id, CybertipReport.leased_by == holder)
                .values(leased_by=None, leased_until=None)
            )

    def claim_due(self, holder: str, *, limit: int) -> list[int]:
        """Lease to ``holder`` up to ``limit`` reports with work due, oldest
        due first: active ones whose time has come, and finished ones whose
        evidence is not preserved yet."""
        now = self.now()
        preserved = exists().where(EvidencePackage.report_id == CybertipReport.id)
        due = and_(
            or_(
                CybertipReport.status.in_(ACTIVE),
                and_(CybertipReport.status == "finished", ~preserved),
            ),
            CybertipReport.next_attempt_at <= now,
            self._free(now),  # type: ignore[arg-type]
        )
        with self.database.transaction() as session:
            ids = list(
                session.scalars(
                    select(CybertipReport.id)
                    .where(due)
                    .order_by(CybertipReport.next_attempt_at, CybertipReport.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True, of=CybertipReport)
                )
            )
            if ids:
                session.execute(
                    update(CybertipReport)
                    .where(CybertipReport.id.in_(ids))
                    .values(leased_by=holder, leased_until=now + self.lease)
                )
        return ids

    @contextmanager
    def locked(self, report_id: int, holder: str) -> Iterator[tuple[Session, CybertipReport]]:
        """The report's row, locked, in a transaction, while ``holder`` still
        holds it (the lease renewed); ReportConflictError when it lost it."""
        with self.database.transaction() as session:
            row = session.scalar(
                select(CybertipReport).where(CybertipReport.id == report_id).with_for_update()
            )
            if row is None:
                raise UnknownReportError(report_id)
            if row.leased_by != holder:
                raise ReportConflictError(f"report {report_id}: its filer's lease ran out")
            row.leased_until = self.now() + self.lease
            yield session, row
