"""One fetch per exchange at a time, across processes: a lease in the database.

    lease = Lease(database, exchange, holder="host:1234:ab12", seconds=120)
    lease.take()                      # ExchangeBusyError if another holds it
    with database.transaction() as session:
        lease.renew(session)          # first in every page's transaction
        ...                           # the page's content and checkpoint
    lease.release()

The lease is two columns of the exchange's state row, ``leased_by`` and
``leased_until``, changed in a transaction that holds the row (``SELECT ...
FOR UPDATE`` on PostgreSQL; SQLite's writers already take turns).  A lease
that is not renewed lapses, so a fetch killed with -9 blocks the next one
for at most ``seconds``.  Every page's transaction starts by renewing: if
the lease lapsed and another fetch took it, that renewal fails and the page
is rolled back, so two fetchers never both write.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hashmatch.errors import ExchangeBusyError, ExchangeError
from hashmatch.rounds import holder_name
from hashmatch.store import Database
from hashmatch.store.exchange_models import ExchangeState
from hashmatch.store.models import as_utc, utcnow

#: How long a lease holds unless renewed (each page renews it).
LEASE_SECONDS = 300.0


class Lease:
    """The fetch lease of one exchange, for one holder."""

    def __init__(
        self,
        database: Database,
        exchange_id: int,
        name: str,
        *,
        holder: str | None = None,
        seconds: float = LEASE_SECONDS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        self.exchange_id = exchange_id
        self.name = name
        self.holder = holder or holder_name()
        self.seconds = seconds
        self.clock = clock

    def take(self) -> None:
        """Hold the lease, or ExchangeBusyError naming who holds it and until when."""
        with self.database.transaction() as session:
            query = select(ExchangeState).where(ExchangeState.exchange_id == self.exchange_id)
            if self.database.dialect == "postgresql":
                query = query.with_for_update()
            state = session.scalar(query)
            if state is None:
                raise ExchangeError(f"exchange {self.name!r} was deleted")
            now = self.clock()
            if (
                state.leased_by not in (None, self.holder)
                and state.leased_until is not None
                and as_utc(state.leased_until) > now
            ):
                until = as_utc(state.leased_until).isoformat(timespec="seconds")
                raise ExchangeBusyError(
                    f"exchange {self.name!r} is already fetching (by {state.leased_by} "
                    f"until {until})"
                )
            state.leased_by = self.holder
            state.leased_until = now + timedelta(seconds=self.seconds)

    def renew(self, session: Session) -> None:
        """In a writer's transaction: keep the lease, or ExchangeError if it
        was lost (the transaction must then roll back)."""
        result = session.execute(
            update(ExchangeState)
            .where(
                ExchangeState.exchange_id == self.exchange_id,
                ExchangeState.leased_by == self.holder,
            )
            .values(leased_until=self.clock() + timedelta(seconds=self.seconds))
        )
        if getattr(result, "rowcount", 0) != 1:
            raise ExchangeError(
                f"exchange {self.name!r}: this fetch lost its lease (it lapsed and another "
                "fetch took it); nothing of this page was written"
            )

    def release(self, session: Session) -> None:
        """In a writer's transaction: give the lease up, if still held."""
        session.execute(
            update(ExchangeState)
            .where(
                ExchangeState.exchange_id == self.exchange_id,
                ExchangeState.leased_by == self.holder,
            )
            .values(leased_by=None, leased_until=None)
        )
