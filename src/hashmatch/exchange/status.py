"""Where each exchange's fetching stands, as the CLI, the API and HMA's
routes show it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from hashmatch.errors import UnknownExchangeError
from hashmatch.store import Database
from hashmatch.store.exchange_models import Exchange, ExchangeState
from hashmatch.store.models import as_utc, utcnow
from hashmatch.store.review_models import Opinion

#: What an opinion sent back to an exchange can be (``exchange/opinions.py``).
OPINION_STATUSES = ("pending", "sent", "failed", "not_sent", "withdrawn")


@dataclass(frozen=True)
class ExchangeStatus:
    name: str
    enabled: bool
    interval_seconds: int
    checkpoint: dict[str, Any] | None
    leased_by: str | None
    leased_until: datetime | None
    run_started_at: datetime | None
    run_finished_at: datetime | None
    succeeded: bool | None
    up_to_date: bool
    error: str | None
    counts: dict[str, Any]
    malformed_samples: list[Any]
    fetched_total: int
    #: Opinions sent back to it, by status, and the last error (opinion_counts).
    opinions: dict[str, Any]

    @property
    def running(self) -> bool:
        """Whether a fetch holds the lease now (a killed one's lapses)."""
        return self.leased_until is not None and self.leased_until > utcnow()

    def due(self, now: datetime) -> bool:
        """Whether a scheduled fetch should start now."""
        if not self.enabled or self.running:
            return False
        if self.run_started_at is None:
            return True
        return (now - self.run_started_at).total_seconds() >= self.interval_seconds

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "enabled": self.enabled,
            "interval_seconds": self.interval_seconds,
            "checkpoint": self.checkpoint,
            "leased_by": self.leased_by,
            "leased_until": _moment(self.leased_until),
            "run_started_at": _moment(self.run_started_at),
            "run_finished_at": _moment(self.run_finished_at),
            "running": self.running,
            "succeeded": self.succeeded,
            "up_to_date": self.up_to_date,
            "error": self.error,
            "counts": dict(self.counts),
            "malformed_samples": list(self.malformed_samples),
            "fetched_total": self.fetched_total,
            "opinions": dict(self.opinions),
        }

    def to_hma_json(self) -> dict[str, Any]:
        """HMA 2.0's ``/c/exchange/<name>/status`` shape."""
        return {
            "checkpoint_ts": _timestamp(self.run_finished_at if self.succeeded else None),
            "fetched_items": self.fetched_total,
            "last_fetch_complete_ts": _timestamp(self.run_finished_at),
            "last_fetch_succeeded": bool(self.succeeded),
            "running_fetch_start_ts": _timestamp(self.run_started_at) if self.running else None,
            "up_to_date": self.up_to_date,
        }


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _timestamp(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def _opt(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def opinion_counts(database: Database, sources: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per exchange source: its opinions by status and the last error (of
    those pending or failed)."""
    found: dict[str, dict[str, Any]] = {
        source: {**dict.fromkeys(OPINION_STATUSES, 0), "last_error": None} for source in sources
    }
    if not sources:
        return found
    with database.reading() as session:
        for source, status, count in session.execute(
            select(Opinion.source, Opinion.status, func.count())
            .where(Opinion.source.in_(sources))
            .group_by(Opinion.source, Opinion.status)
        ):
            found[str(source)][status] = int(count)
        latest = (
            select(Opinion.source, func.max(Opinion.id).label("id"))
            .where(
                Opinion.source.in_(sources),
                Opinion.last_error.is_not(None),
                Opinion.status.in_(("pending", "failed")),
            )
            .group_by(Opinion.source)
            .subquery()
        )
        for source, error in session.execute(
            select(Opinion.source, Opinion.last_error).join(latest, Opinion.id == latest.c.id)
        ):
            found[str(source)]["last_error"] = error
    return found


def statuses(
    database: Database, name: str | None = None, *, with_opinions: bool = True
) -> list[ExchangeStatus]:
    """Every exchange's status in name order (or the one named:
    UnknownExchangeError); ``with_opinions=False`` leaves the opinion
    counts empty (the scheduler's every-tick look needs none)."""
    query = (
        select(Exchange, ExchangeState)
        .join(ExchangeState, ExchangeState.exchange_id == Exchange.id)
        .order_by(Exchange.name)
    )
    if name is not None:
        query = query.where(Exchange.name == name)
    with database.reading() as session:
        rows = session.execute(query).all()
    if name is not None and not rows:
        raise UnknownExchangeError(name)
    sources = [f"exchange:{exchange.name}" for exchange, _ in rows]
    opinions = opinion_counts(database, sources if with_opinions else [])
    return [
        ExchangeStatus(
            exchange.name,
            exchange.enabled,
            exchange.interval_seconds,
            state.checkpoint,
            state.leased_by,
            _opt(state.leased_until),
            _opt(state.run_started_at),
            _opt(state.run_finished_at),
            state.succeeded,
            state.up_to_date,
            state.error,
            dict(state.counts),
            list(state.malformed_samples),
            int(state.fetched_total),
            opinions.get(f"exchange:{exchange.name}", {}),
        )
        for exchange, state in rows
    ]
