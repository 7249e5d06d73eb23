"""Sharing a bank with a TAXII collection: every content's signals as
Indicators signed with the member's key, POSTed in envelopes.

    result = share_bank(database, policy, "local-confirmed", exchange="hub")
    result.to_json()   # {"total", "succeeded", "failed", "skipped", "failures": [...]}

The collection, credentials, key (``signing_key_file``) and Identity
(``identity``) are a ``taxii`` exchange's options, so one configuration
pulls and shares.  Each signal hashmatch writes as a STIX pattern
(:mod:`hashmatch.hub.patterns`) is one Indicator, labelled with the
content's classification (A1, A2, B1, B2) when it has one; a keyed
identifier received from the hub is shared on as the same keyed value.
Indicator ids are the pattern's, so sharing twice sends the same objects.
Each share is one ``hub.share`` audit entry with its counts, which
``hashmatch hub status`` adds up.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from hashmatch import audit
from hashmatch.banks import Banks
from hashmatch.errors import ExchangeError, HashmatchError, InvalidFieldError
from hashmatch.exchange.catalog import ExchangeInfo, Exchanges, effective_options
from hashmatch.exchange.runner import open_source
from hashmatch.exchange.taxii import TaxiiSource
from hashmatch.exchange.taxii_records import KEYED_PREFIX
from hashmatch.hashlists import Entry
from hashmatch.hub.patterns import SHARED_TYPES, PatternSignal
from hashmatch.hub.signing import sign
from hashmatch.hub.stix import build_indicator
from hashmatch.media.download import UrlPolicy
from hashmatch.reporting.cybertip.content import CLASSIFICATIONS
from hashmatch.signals import names
from hashmatch.signals.vpdq_compact import compact_frames
from hashmatch.store import Database
from hashmatch.store.models import AuditEntry, iso_utc, utcnow

SHARE_ACTION = "hub.share"
#: Rounds of ``exchange/taxii_confirmed.py``.
CONFIRMED_ACTION = "hub.share_confirmed"
#: Objects per POSTed envelope.
ENVELOPE = 500
FAILURES_KEPT = 5


@dataclass
class ShareResult:
    exchange: str
    collection: str
    bank: str
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    #: Signals no STIX pattern carries (none today), or values that are not valid.
    skipped: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange,
            "collection": self.collection,
            "bank": self.bank,
            "total": self.total,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "skipped": self.skipped,
            "failures": list(self.failures),
        }


def taxii_exchange(database: Database, name: str | None) -> ExchangeInfo:
    """The ``taxii`` exchange named, or the only one; InvalidFieldError otherwise."""
    exchanges = Exchanges(database)
    if name is not None:
        info = exchanges.get(name)
        if info.source_type != TaxiiSource.name:
            raise InvalidFieldError(f"exchange {name!r} is {info.source_type}, not taxii")
        return info
    found = [info for info in exchanges.all() if info.source_type == TaxiiSource.name]
    if len(found) != 1:
        raise InvalidFieldError(
            f"{len(found)} taxii exchanges are configured: name one with --exchange"
        )
    return found[0]


def open_taxii(
    database: Database, policy: UrlPolicy, exchange: str | None, collection: str | None = None
) -> tuple[ExchangeInfo, TaxiiSource]:
    """The ``taxii`` exchange named (or the only one), opened to send to
    ``collection`` when given, else to its own."""
    info = taxii_exchange(database, exchange)
    options = effective_options(info)
    if collection:
        options["collection"] = collection
    source = open_source(info, options, policy)
    if not isinstance(source, TaxiiSource):
        raise ExchangeError(f"exchange {info.name!r} is not a taxii exchange")
    return info, source


class BankShare:
    """One share of a bank, prepared (every object built and signed), then
    POSTed an envelope at a time (a caller may draw progress between them)."""

    def __init__(
        self,
        database: Database,
        policy: UrlPolicy,
        bank: str,
        *,
        exchange: str | None = None,
        collection: str | None = None,
    ) -> None:
        self.database = database
        self.info, self.source = open_taxii(database, policy, exchange, collection)
        key, identity = self.source.signer()
        banks = Banks(database)
        banks.get(bank)  # UnknownBankError before any work
        self.result = ShareResult(self.info.name, self.source.config.option("collection"), bank)
        now = utcnow()
        self.objects: list[dict[str, Any]] = []
        for signal, classification in _signals(banks.export(bank), self.result):
            try:
                indicator = build_indicator(
                    signal, publisher=identity, created=now, classification=classification
                )
            except HashmatchError:
                self.result.skipped += 1
                continue
            self.objects.append(sign(indicator, key))
        self.result.total = len(self.objects)

    def envelopes(self) -> list[list[dict[str, Any]]]:
        return [
            self.objects[start : start + ENVELOPE]
            for start in range(0, len(self.objects), ENVELOPE)
        ]

    def post(self, envelope: list[dict[str, Any]]) -> None:
        """POST one envelope and count what the status resource says
        (ExchangeError when it cannot be sent)."""
        failures = self.source.post_objects(envelope)
        self.result.failed += len(failures)
        self.result.succeeded += len(envelope) - len(failures)
        for object_id, why in failures.items():
            if len(self.result.failures) < FAILURES_KEPT:
                self.result.failures.append({"id": object_id, "message": why})

    def finish(self, actor: audit.Actor | None = None) -> ShareResult:
        """The result, recorded as one ``hub.share`` audit entry."""
        with self.database.transaction() as session:
            audit.record(
                session, SHARE_ACTION, self.info.source, after=self.result.to_json(), actor=actor
            )
        return self.result


def share_bank(
    database: Database,
    policy: UrlPolicy,
    bank: str,
    *,
    exchange: str | None = None,
    collection: str | None = None,
    actor: audit.Actor | None = None,
) -> ShareResult:
    """Sign and POST every content of ``bank`` (ExchangeError when the
    collection cannot be reached: what was sent before stays sent)."""
    share = BankShare(database, policy, bank, exchange=exchange, collection=collection)
    for envelope in share.envelopes():
        share.post(envelope)
    return share.finish(actor)


def _signals(
    entries: Iterator[Entry], result: ShareResult
) -> Iterator[tuple[PatternSignal, str | None]]:
    for entry in entries:
        classification = next((label for label in entry.labels if label in CLASSIFICATIONS), None)
        if entry.frames:
            yield PatternSignal(names.VPDQ, compact_frames(entry.frames)), classification
        for signal_type, value in entry.signals.items():
            if signal_type not in SHARED_TYPES:
                result.skipped += 1
                continue
            yield _pattern_signal(signal_type, value), classification


def _pattern_signal(signal_type: str, value: str) -> PatternSignal:
    """The signal as a pattern takes it (a stored keyed value back to its parts)."""
    prefix, _, rest = value.partition(":")
    if prefix == KEYED_PREFIX:
        key_id, _, digest = rest.partition(":")
        return PatternSignal(signal_type, digest, key_id)
    return PatternSignal(signal_type, value)


def shared_totals(database: Database, info: ExchangeInfo) -> dict[str, Any]:
    """What ``hub share`` and confirmed decisions sent through the exchange,
    from their audit entries."""
    totals: dict[str, Any] = {"shares": 0, "succeeded": 0, "failed": 0, "last_shared_at": None}
    with database.reading() as session:
        rows = session.execute(
            select(AuditEntry.at, AuditEntry.after)
            .where(
                AuditEntry.action.in_((SHARE_ACTION, CONFIRMED_ACTION)),
                AuditEntry.target == info.source,
            )
            .order_by(AuditEntry.seq)
        )
        for row in rows:
            after = row.after or {}
            totals["shares"] += 1
            totals["succeeded"] += int(after.get("succeeded", 0))
            totals["failed"] += int(after.get("failed", 0))
            totals["last_shared_at"] = iso_utc(row.at)
    return totals
