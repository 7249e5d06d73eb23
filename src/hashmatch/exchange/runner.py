"""Fetching an exchange into its bank: page by page, checkpointed, bounded.

    fetcher = Fetcher(database, UrlPolicy.from_settings(settings))
    result = fetcher.fetch("ncmec-test")          # FetchResult: counts, error, up_to_date

A run takes the exchange's lease (``exchange/lease.py``: one fetch per
exchange at a time, across processes), then asks the source for the page
after the stored checkpoint, again and again.  Each page's records and the
checkpoint after it commit in one transaction, so a run killed at any
moment resumes exactly where the bank stands, and a record applied twice
changes nothing (``exchange/apply.py``).

* A malformed record is counted, a few are kept as samples in the status,
  and it is skipped.
* A page that fails (a malformed page, a 5xx, a page that stalls past
  ``page_timeout``) is asked for again, ``retries`` times in all with a
  doubling wait; then the run fails and the checkpoint stays where it was.
  Rejected credentials (401, 403) fail the run at once, and say so.
* A run stops after ``max_records`` records or ``max_seconds`` seconds (at a
  page's end) and the next one goes on from there.

Each run ends with one audit entry, ``exchange.fetch``, with its counts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.banks.catalog import STATISTICS_AFTER
from hashmatch.banks.checks import check_labels
from hashmatch.banks.writes import log_added, log_removed
from hashmatch.errors import ExchangeError, HashmatchError, UnknownBankError
from hashmatch.exchange.apply import Applied, apply_records
from hashmatch.exchange.base import (
    Checkpoint,
    ExchangeSource,
    Malformed,
    Page,
    PageError,
    Record,
    SourceConfig,
)
from hashmatch.exchange.catalog import ExchangeInfo, Exchanges, effective_options, read_credentials
from hashmatch.exchange.http import (
    CREDENTIALS_STATUSES,
    RETRY_STATUSES,
    HttpStatusError,
    PageClient,
)
from hashmatch.exchange.lease import Lease
from hashmatch.exchange.registry import get_source_type
from hashmatch.fieldlimits import check_content_fields
from hashmatch.media.download import UrlPolicy
from hashmatch.store import Bank, Database
from hashmatch.store.exchange_models import ExchangeState
from hashmatch.store.models import utcnow

log = logging.getLogger("hashmatch.exchange")
#: Malformed records kept in the status, per run.
SAMPLES = 5
SAMPLE_CHARS = 300
COUNTS = ("pages", "added", "updated", "removed", "unchanged", "duplicate", "malformed")


@dataclass
class FetchResult:
    """What one run did."""

    exchange: str
    succeeded: bool
    up_to_date: bool
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    error: str | None = None
    #: Why a successful run stopped before the source's end ("max_records", "max_seconds").
    stopped: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange,
            "succeeded": self.succeeded,
            "up_to_date": self.up_to_date,
            "counts": dict(self.counts),
            "error": self.error,
            "stopped": self.stopped,
        }


class Fetcher:
    """Runs fetches of the exchanges of one database."""

    def __init__(
        self,
        database: Database,
        policy: UrlPolicy,
        *,
        retry_wait: float = 1.0,
        lease_seconds: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.database = database
        self.policy = policy
        self.retry_wait = retry_wait
        self.lease_seconds = lease_seconds
        self.sleep = sleep
        self.exchanges = Exchanges(database)

    def fetch(self, name: str, *, actor: audit.Actor | None = None) -> FetchResult:
        """One run of the exchange (ExchangeBusyError if another holds it)."""
        info = self.exchanges.get(name)
        lease = Lease(self.database, info.id, name)
        if self.lease_seconds is not None:
            lease.seconds = self.lease_seconds
        lease.take()
        result = FetchResult(name, succeeded=False, up_to_date=False)
        samples: list[dict[str, str]] = []
        client: PageClient | None = None
        try:
            options = effective_options(info)
            self._start(info, lease)
            source = open_source(info, options, self.policy)
            client = source.http
            self._run(info, source, lease, options, result, samples)
            result.succeeded = True
        except Exception as error:  # a source's bug fails its run, recorded, lease given back
            if not isinstance(error, HashmatchError):
                log.exception("exchange %s: the fetch failed unexpectedly", name)
            text = (
                str(error)
                if isinstance(error, HashmatchError)
                else f"{type(error).__name__}: {error}"
            )
            result.error = client.redact(text) if client is not None else text
        self._finish(info, lease, result, actor)
        return result

    def fetch_all(self, *, actor: audit.Actor | None = None) -> list[FetchResult]:
        """One run of every enabled exchange (a busy one is reported, not waited for)."""
        results = []
        for info in self.exchanges.all():
            if not info.enabled:
                continue
            try:
                results.append(self.fetch(info.name, actor=actor))
            except ExchangeError as error:
                results.append(FetchResult(info.name, False, False, error=str(error)))
        return results

    # -- a run ---------------------------------------------------------------

    def _run(
        self,
        info: ExchangeInfo,
        source: ExchangeSource,
        lease: Lease,
        options: dict[str, str],
        result: FetchResult,
        samples: list[dict[str, str]],
    ) -> None:
        deadline = time.monotonic() + float(options["max_seconds"])
        max_records = int(float(options["max_records"]))
        retries = max(1, int(float(options["retries"])))
        records_seen = 0
        counted = 0  # records added when the planner's statistics were last refreshed
        # The next page is asked for while this one is written: the source's
        # answer and the database's commit overlap.  Not after the page that
        # reaches max_records: that request would outlive the run.
        ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hashmatch-exchange-page")
        try:
            pending = ahead.submit(self._page, source, self._checkpoint(info), retries, deadline)
            while True:
                page = pending.result()
                if page.more and records_seen + len(page.items) < max_records:
                    pending = ahead.submit(self._page, source, page.checkpoint, retries, deadline)
                self._write(info, lease, page, result, samples)
                records_seen += len(page.items)
                if result.counts["added"] - counted >= STATISTICS_AFTER:
                    # As a big import does: PostgreSQL's plans for the next
                    # pages' lookups assumed the bank as it was.
                    self.database.refresh_statistics()
                    counted = result.counts["added"]
                if not page.more:
                    result.up_to_date = True
                    return
                if records_seen >= max_records:
                    result.stopped = "max_records"
                    return
                if time.monotonic() >= deadline:
                    result.stopped = "max_seconds"
                    return
        finally:
            ahead.shutdown(wait=False, cancel_futures=True)

    def _write(
        self,
        info: ExchangeInfo,
        lease: Lease,
        page: Page,
        result: FetchResult,
        samples: list[dict[str, str]],
    ) -> None:
        """One page's records and the checkpoint after it, in one transaction."""
        records, malformed = _split(page)
        for item in malformed:
            if len(samples) < SAMPLES:
                samples.append({"reason": item.reason, "sample": item.sample[:SAMPLE_CHARS]})
        with self.database.transaction() as session:
            bank_id = _locked_bank_id(session, info.bank, self.database.dialect)
            lease.renew(session)
            applied = apply_records(session, bank_id, info.source, records)
            _add_counts(result, applied, len(malformed))
            self._save(session, info, page.checkpoint, result, samples, len(records))
            log_removed(session, applied.removed_signals)
            log_added(session, applied.added_signals)

    def _page(
        self, source: ExchangeSource, checkpoint: Checkpoint, retries: int, deadline: float
    ) -> Page:
        """The page after ``checkpoint``, asked for up to ``retries`` times."""
        tries = 0
        while True:
            tries += 1
            try:
                return source.fetch_page(checkpoint)
            except ExchangeError as error:
                problem = _as_page_error(error)
            if not problem.retry:
                raise problem
            if tries >= retries:
                raise ExchangeError(
                    f"page failed after {tries} tries: {problem}; the checkpoint "
                    "stays at the last page written"
                )
            wait = self.retry_wait * 2 ** (tries - 1)
            if time.monotonic() + wait >= deadline:
                raise ExchangeError(f"out of time (max_seconds) retrying a page: {problem}")
            self.sleep(wait)

    # -- state ---------------------------------------------------------------

    def _checkpoint(self, info: ExchangeInfo) -> Checkpoint:
        with self.database.reading() as session:
            return session.scalar(
                select(ExchangeState.checkpoint).where(ExchangeState.exchange_id == info.id)
            )

    def _start(self, info: ExchangeInfo, lease: Lease) -> None:
        with self.database.transaction() as session:
            lease.renew(session)
            session.execute(
                update(ExchangeState)
                .where(ExchangeState.exchange_id == info.id)
                .values(
                    run_started_at=utcnow(), run_finished_at=None, counts={}, malformed_samples=[]
                )
            )

    def _save(
        self,
        session: Session,
        info: ExchangeInfo,
        checkpoint: Checkpoint,
        result: FetchResult,
        samples: list[dict[str, str]],
        applied: int,
    ) -> None:
        session.execute(
            update(ExchangeState)
            .where(ExchangeState.exchange_id == info.id)
            .values(
                checkpoint=checkpoint,
                counts=dict(result.counts),
                malformed_samples=list(samples),
                fetched_total=ExchangeState.fetched_total + applied,
            )
        )

    def _finish(
        self, info: ExchangeInfo, lease: Lease, result: FetchResult, actor: audit.Actor | None
    ) -> None:
        with self.database.transaction() as session:
            session.execute(
                update(ExchangeState)
                .where(
                    ExchangeState.exchange_id == info.id, ExchangeState.leased_by == lease.holder
                )
                .values(
                    run_finished_at=utcnow(),
                    succeeded=result.succeeded,
                    up_to_date=result.up_to_date,
                    error=result.error,
                    counts=dict(result.counts),
                )
            )
            audit.record(
                session,
                "exchange.fetch",
                info.source,
                after=result.to_json(),
                actor=actor,
            )
            lease.release(session)


def _as_page_error(error: ExchangeError) -> PageError:
    """What a failed page means: worth asking again (a 5xx, a stall, a
    malformed page) or not (rejected credentials, another 4xx)."""
    if isinstance(error, PageError):
        return error
    if isinstance(error, HttpStatusError):
        if error.status in CREDENTIALS_STATUSES:
            return PageError(
                f"the source rejected the credentials (HTTP {error.status}): they may have "
                "expired; check them and fetch again",
                retry=False,
            )
        return PageError(str(error), retry=error.status in RETRY_STATUSES)
    return PageError(str(error))  # the page stalled, or the connection failed


def _split(page: Page) -> tuple[list[Record], list[Malformed]]:
    """The page's records a bank can store, and the rest as malformed."""
    records: list[Record] = []
    malformed: list[Malformed] = []
    for item in page.items:
        if isinstance(item, Malformed):
            malformed.append(item)
            continue
        try:
            if not (item.signals or item.frames or item.deleted):
                raise ExchangeError("no hash hashmatch can match on")
            item.labels = check_labels(item.labels)
            check_content_fields(
                external_id=item.external_id,
                source_metadata=item.source_metadata or None,
            )
        except HashmatchError as error:
            malformed.append(Malformed(str(error), repr(item)))
            continue
        records.append(item)
    return records, malformed


def _add_counts(result: FetchResult, applied: Applied, malformed: int) -> None:
    result.counts["pages"] += 1
    for name, value in applied.counts().items():
        result.counts[name] += value
    result.counts["malformed"] += malformed


def _locked_bank_id(session: Session, bank: str, dialect: str) -> int:
    query = select(Bank.id).where(Bank.name == bank)
    if dialect == "postgresql":
        query = query.with_for_update()
    bank_id = session.scalar(query)
    if bank_id is None:
        raise UnknownBankError(bank)
    return int(bank_id)


def open_source(info: ExchangeInfo, options: dict[str, str], policy: UrlPolicy) -> ExchangeSource:
    """The exchange's source object, its credentials read now, talking
    through a client that redacts them (ExchangeError when they cannot be read)."""
    credentials = read_credentials(info)
    client = PageClient(
        policy, page_timeout=float(options["page_timeout"]), secrets=_secrets(credentials)
    )
    return get_source_type(info.source_type)(SourceConfig(info.name, options, credentials), client)


def _secrets(credentials: str | None) -> list[str]:
    """The credentials and their parts (``user:password``), to redact."""
    if not credentials:
        return []
    parts = [part for part in credentials.split(":") if len(part) >= 4]
    return [credentials, *parts]
