"""Telling exchanges what reviewers decided about their hashes: opinions
leased, sent a batch at a time, settled; at least once.

    sender = OpinionSender.from_settings(database, settings)
    rounds = sender.run_once()        # {exchange name: {"sent": 3, "retrying": 1, ...}}

A review decision writes one ``opinions`` row per matched bank content
(``review/decisions.py``); those about content an exchange sent
(``source`` ``exchange:<name>``) are ``pending``.  A filed CyberTipline
report writes ``reported`` ones, for the exchanges whose type takes them
(``exchange/reported.py``), sent the same way.  A round:

1. claims due pending opinions: never tried or past their retry wait, and
   not leased to a live sender.  On PostgreSQL the rows are selected ``FOR
   UPDATE SKIP LOCKED`` (two senders never wait for, nor take, each other's
   rows); on SQLite the transaction holds the write lock, so the select and
   the lease are one step.  A dead sender's lease lapses and its opinions
   are due again: an opinion whose call succeeded but was not yet settled
   is sent a second time (exchanges take a repeated opinion as the same one).
2. groups them by exchange and hands the exchange's source
   (``ExchangeSource.send_opinions``) at most ``opinion_batch`` at a time.
   An exchange that was deleted, whose type takes no opinions, or whose
   ``send_opinions`` option is ``false`` settles them as ``not_sent``, with why.
3. settles each outcome in one transaction, only for rows still leased to
   this sender: ``sent``; a retry after a doubling wait (``Retries``); or
   ``failed`` when the exchange refused it or every try failed.  An opinion
   withdrawn (its decision reopened) while in flight becomes ``sent`` if the
   call succeeded (it was), and stays ``withdrawn`` otherwise.

Each round audits one ``exchange.opinions`` entry per exchange with its counts.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.actions.outbox import Retries
from hashmatch.errors import ExchangeError, InvalidFieldError, UnknownExchangeError
from hashmatch.exchange.base import ExchangeSource, OpinionToSend, Sent
from hashmatch.exchange.catalog import (
    SOURCE_PREFIX,
    ExchangeInfo,
    Exchanges,
    effective_options,
    exchange_named,
    sends_opinions,
)
from hashmatch.exchange.registry import get_source_type
from hashmatch.exchange.reported import REPORTED
from hashmatch.exchange.runner import open_source
from hashmatch.exchange.status import OPINION_STATUSES
from hashmatch.media.download import UrlPolicy
from hashmatch.rounds import Rounds, holder_name
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.models import iso_utc, utcnow
from hashmatch.store.review_models import Opinion

log = logging.getLogger("hashmatch.exchange")
#: Opinions leased per round, and for how long.
CLAIM_LIMIT = 200
LEASE = timedelta(minutes=5)
#: Seconds between rounds of the background sender when the last one found nothing.
POLL_SECONDS = 10.0
#: What a settled opinion can become, and the counts a round reports.
OUTCOMES = ("sent", "retrying", "failed", "not_sent")
ERROR_CHARS = 1000


def retries_of(settings: Settings) -> Retries:
    return Retries(
        settings.exchange_opinion_max_attempts,
        settings.exchange_opinion_backoff_seconds,
        settings.exchange_opinion_backoff_max_seconds,
    )


@dataclass(frozen=True)
class Claimed:
    """A leased opinion, as the database had it."""

    opinion: OpinionToSend
    exchange: str
    attempts: int


@dataclass(frozen=True)
class Settled:
    """What a round decided for one opinion."""

    opinion_id: int
    outcome: str
    error: str | None = None


class OpinionSender:
    """Sends the pending opinions of one database's exchanges."""

    def __init__(
        self,
        database: Database,
        policy: UrlPolicy,
        retries: Retries,
        *,
        name: str | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        self.database = database
        self.policy = policy
        self.retries = retries
        self.name = name or holder_name()
        self.lease = lease
        self.exchanges = Exchanges(database)

    @classmethod
    def from_settings(cls, database: Database, settings: Settings) -> OpinionSender:
        return cls(database, UrlPolicy.from_settings(settings), retries_of(settings))

    def run_once(self, *, limit: int = CLAIM_LIMIT) -> dict[str, dict[str, int]]:
        """One round: claim, send, settle; the counts per exchange."""
        claimed = self.claim(limit=limit)
        by_exchange: dict[str, list[Claimed]] = defaultdict(list)
        for item in claimed:
            by_exchange[item.exchange].append(item)
        counts: dict[str, dict[str, int]] = {}
        for exchange, items in by_exchange.items():
            settled = self._send(exchange, items)
            counts[exchange] = self.settle(exchange, items, settled)
        return counts

    # -- claiming --------------------------------------------------------------

    def claim(self, *, limit: int) -> list[Claimed]:
        """Lease up to ``limit`` due pending opinions to this sender."""
        now = utcnow()
        with self.database.transaction() as session:
            query = (
                select(
                    Opinion.id,
                    Opinion.source,
                    Opinion.external_id,
                    Opinion.opinion,
                    Opinion.signal_types,
                    Opinion.attempts,
                    Opinion.report_id,
                )
                .where(_due(now))
                .order_by(Opinion.id)
                .limit(limit)
            )
            if self.database.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = session.execute(query).all()
            if not rows:
                return []
            session.execute(
                update(Opinion)
                .where(Opinion.id.in_([row.id for row in rows]))
                .values(leased_by=self.name, leased_until=now + self.lease)
            )
        return [
            Claimed(
                OpinionToSend(
                    int(row.id),
                    row.external_id or "",
                    row.opinion,
                    tuple(str(kind) for kind in row.signal_types or ()),
                    None if row.report_id is None else int(row.report_id),
                ),
                exchange_named(row.source) or "",
                int(row.attempts),
            )
            for row in rows
        ]

    # -- sending ---------------------------------------------------------------

    def _send(self, exchange: str, items: Sequence[Claimed]) -> list[Settled]:
        """Every claimed opinion's outcome (never raises: a failure is an outcome)."""
        try:
            info = self.exchanges.get(exchange)
        except UnknownExchangeError:
            info = None
        refused = _refusal(exchange, info)
        if refused is not None or info is None:
            return [Settled(item.opinion.id, "not_sent", refused) for item in items]
        # A filed report queues reported opinions only for a type that takes them.
        takes_reports = get_source_type(info.source_type).takes_reports
        why = f"exchange type {info.source_type!r} takes no reported feedback"
        settled = [
            Settled(item.opinion.id, "not_sent", why)
            for item in items
            if _reported(item) and not takes_reports
        ]
        items = [item for item in items if takes_reports or not _reported(item)]
        if not items:
            return settled
        try:
            source = open_source(info, effective_options(info), self.policy)
        except ExchangeError as error:  # credentials unreadable: an admin's to fix
            return settled + [
                self._after(item, Sent(item.opinion.id, str(error))) for item in items
            ]
        settled += [
            Settled(item.opinion.id, "failed", "the content has no external id to name it by")
            for item in items
            if not item.opinion.external_id
        ]
        sendable = [item for item in items if item.opinion.external_id]
        size = max(1, source.opinion_batch)
        for start in range(0, len(sendable), size):
            batch = sendable[start : start + size]
            settled.extend(self._send_batch(info, source, batch))
        return settled

    def _send_batch(
        self, info: ExchangeInfo, source: ExchangeSource, batch: Sequence[Claimed]
    ) -> list[Settled]:
        try:
            answers = source.send_opinions([item.opinion for item in batch])
        except Exception as error:  # a source's bug must not stop the others' opinions
            log.exception("exchange %s: sending opinions failed unexpectedly", info.name)
            why = source.http.redact(f"{type(error).__name__}: {error}")
            answers = [Sent(item.opinion.id, why) for item in batch]
        by_id = {answer.opinion_id: answer for answer in answers}
        return [
            self._after(
                item,
                by_id.get(item.opinion.id)
                or Sent(item.opinion.id, "the exchange's client gave no answer for it"),
            )
            for item in batch
        ]

    def _after(self, item: Claimed, answer: Sent) -> Settled:
        if answer.error is None:
            return Settled(item.opinion.id, "sent")
        if answer.retry and item.attempts + 1 < self.retries.max_attempts:
            return Settled(item.opinion.id, "retrying", answer.error)
        return Settled(item.opinion.id, "failed", answer.error)

    # -- settling --------------------------------------------------------------

    def settle(
        self, exchange: str, items: Sequence[Claimed], settled: Sequence[Settled]
    ) -> dict[str, int]:
        """Write the outcomes, for rows still leased to this sender; the counts."""
        now = utcnow()
        attempts = {item.opinion.id: item.attempts for item in items}
        counts = dict.fromkeys(OUTCOMES, 0)
        with self.database.transaction() as session:
            for outcome in settled:
                written = self._write(session, outcome, attempts[outcome.opinion_id], now)
                counts[outcome.outcome] += written
            if any(counts.values()):
                audit.record(
                    session,
                    "exchange.opinions",
                    f"{SOURCE_PREFIX}{exchange}",
                    after=counts,
                    actor=audit.SYSTEM,
                )
        for outcome in (o for o in settled if o.outcome == "failed"):
            log.warning(
                "exchange %s: opinion %d not sent: %s", exchange, outcome.opinion_id, outcome.error
            )
        return counts

    def _write(self, session: Session, outcome: Settled, attempts: int, now: datetime) -> int:
        mine = and_(Opinion.id == outcome.opinion_id, Opinion.leased_by == self.name)
        values: dict[str, Any] = {"leased_by": None, "leased_until": None}
        if outcome.outcome != "not_sent":
            values["attempts"] = attempts + 1
        if outcome.outcome == "sent":
            values.update(status="sent", sent_at=now, last_error=None)
            result = session.execute(update(Opinion).where(mine).values(**values))
            return int(result.rowcount)  # type: ignore[attr-defined]
        values["last_error"] = (outcome.error or "")[:ERROR_CHARS]
        if outcome.outcome == "retrying":
            wait = self.retries.delay(attempts + 1)
            values["next_attempt_at"] = now + timedelta(seconds=wait)
        result = session.execute(update(Opinion).where(mine).values(**values))
        if outcome.outcome != "retrying":  # a withdrawn opinion stays withdrawn
            session.execute(
                update(Opinion)
                .where(Opinion.id == outcome.opinion_id, Opinion.status == "pending")
                .values(status=outcome.outcome)
            )
        return int(result.rowcount)  # type: ignore[attr-defined]

    # -- reading and retrying ----------------------------------------------------

    def retry_failed(self, exchange: str) -> int:
        """Put the exchange's failed opinions back to pending, tries reset
        (after its credentials or options were fixed); how many."""
        info = self.exchanges.get(exchange)
        with self.database.transaction() as session:
            result = session.execute(
                update(Opinion)
                .where(Opinion.source == info.source, Opinion.status == "failed")
                .values(status="pending", attempts=0, next_attempt_at=None)
            )
            retried = int(result.rowcount)  # type: ignore[attr-defined]
            audit.record(
                session, "exchange.opinions_retry", info.source, after={"retried": retried}
            )
        return retried


def _refusal(exchange: str, info: ExchangeInfo | None) -> str | None:
    """Why the exchange's opinions are not sent at all (None: they are)."""
    if info is None:
        return f"exchange {exchange!r} no longer exists"
    cls = get_source_type(info.source_type)
    if not cls.takes_opinions:
        return f"exchange type {cls.name!r} takes no opinions"
    if not sends_opinions(effective_options(info)):
        return "sending opinions is off for this exchange (option send_opinions=false)"
    return None


def _reported(item: Claimed) -> bool:
    return item.opinion.opinion == REPORTED


def _due(now: datetime) -> Any:
    return and_(
        Opinion.status == "pending",
        Opinion.source.like(f"{SOURCE_PREFIX}%"),
        or_(Opinion.next_attempt_at.is_(None), Opinion.next_attempt_at <= now),
        or_(Opinion.leased_until.is_(None), Opinion.leased_until < now),
    )


def list_opinions(
    database: Database, exchange: str, *, status: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The exchange's opinions, newest first (UnknownExchangeError)."""
    info = Exchanges(database).get(exchange)
    query = select(Opinion).where(Opinion.source == info.source)
    if status is not None:
        if status not in OPINION_STATUSES:
            known = ", ".join(OPINION_STATUSES)
            raise InvalidFieldError(f"status must be one of {known}, not {status!r}")
        query = query.where(Opinion.status == status)
    with database.reading() as session:
        rows = session.scalars(query.order_by(Opinion.id.desc()).limit(limit)).all()
        return [opinion_json(row) for row in rows]


def opinion_json(row: Opinion) -> dict[str, Any]:
    return {
        "id": row.id,
        "review_item_id": row.item_id,
        "report_id": row.report_id,
        "bank": row.bank,
        "content_id": row.content_id,
        "external_id": row.external_id,
        "opinion": row.opinion,
        "signal_types": list(row.signal_types or []),
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": iso_utc(row.next_attempt_at),
        "last_error": row.last_error,
        "created_at": iso_utc(row.created_at),
        "sent_at": iso_utc(row.sent_at),
    }


def opinion_sending(database: Database, settings: Settings) -> Rounds:
    """The background sender ``serve`` (with ``deliver_in_serve``) and
    ``worker`` run: a round every few seconds, on a thread of its own."""
    sender = OpinionSender.from_settings(database, settings)
    return Rounds(
        sender.run_once,
        name="hashmatch-opinions",
        what="sending opinions to exchanges",
        poll_seconds=POLL_SECONDS,
    )
