"""Sharing what reviewers confirm: with the setting ``hub_share_confirmed``,
the upload behind each ``confirm`` decision whose classification is in
``hub_share_labels`` goes to the hub as signed Indicators (one per hash).

    result = share_confirmed(database, settings, policy)   # one round
    # hashmatch hub share-confirmed   (from cron), or in the background:
    sharing = confirmed_sharing(database, settings)   # serve and worker start it

The queue is the decisions table itself, read past a cursor: a round that
read any decision ends with one ``hub.share_confirmed`` audit entry that
holds the last decision id it read.  Nothing new is stored, and nothing is
lost: a round that fails (the hub is down) or dies before its entry is
written leaves the cursor where it was, and the next round sends the same
decisions again.  They are the same objects (an Indicator's id comes from
its pattern, its times from the decision), so a server takes a repeat as
the version it has.

A round holds the exchange's lease (``exchange/lease.py``, the one a fetch
holds) from reading the cursor to writing its entry, so rounds of several
processes (serve, workers, cron) take turns: two never read the same cursor,
so none sends a decision another round is sending, and the cursor only moves
forward.  A round that finds the lease held raises ExchangeBusyError; the
background rounds wait for their next period.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from hashmatch import audit
from hashmatch.errors import ExchangeBusyError, HashmatchError, InvalidFieldError
from hashmatch.exchange.catalog import ExchangeInfo
from hashmatch.exchange.lease import Lease
from hashmatch.exchange.taxii import TaxiiSource
from hashmatch.exchange.taxii_share import CONFIRMED_ACTION, open_taxii
from hashmatch.hub.patterns import SHARED_TYPES, PatternSignal
from hashmatch.hub.signing import sign
from hashmatch.hub.stix import build_indicator
from hashmatch.media.download import UrlPolicy
from hashmatch.reporting.cybertip.content import CLASSIFICATIONS
from hashmatch.review.decisions import allowlist_signals
from hashmatch.rounds import Rounds, holder_name
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.models import AuditEntry, as_utc, utcnow
from hashmatch.store.review_models import ReviewDecision
from hashmatch.store.workflow import ReviewItem, Submission

log = logging.getLogger("hashmatch.exchange")
#: Decisions read per round.
BATCH = 500
#: What a round's lease says it is, for a fetch that finds it held.
HOLDER_PREFIX = "share-confirmed@"


@dataclass
class ConfirmedShare:
    exchange: str
    after_decision: int
    last_decision: int
    decisions: int = 0
    succeeded: int = 0
    failed: int = 0
    #: Hashes no STIX pattern takes (not valid as their type says).
    skipped: int = 0
    #: The round read a full batch: more decisions may be waiting.
    more: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange,
            "after_decision": self.after_decision,
            "last_decision_id": self.last_decision,
            "decisions": self.decisions,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "skipped": self.skipped,
        }


def shared_labels(settings: Settings) -> set[str]:
    """``hub_share_labels``, checked (InvalidFieldError naming a bad one)."""
    unknown = [label for label in settings.hub_share_labels if label not in CLASSIFICATIONS]
    if unknown:
        raise InvalidFieldError(
            f"hub_share_labels: {unknown[0][:20]!r} is not one of {', '.join(CLASSIFICATIONS)}"
        )
    return set(settings.hub_share_labels)


def share_confirmed(
    database: Database,
    settings: Settings,
    policy: UrlPolicy,
    *,
    exchange: str | None = None,
    actor: audit.Actor | None = None,
) -> ConfirmedShare | None:
    """One round (None when ``hub_share_confirmed`` is off); ExchangeError
    when the hub cannot take it, the cursor left where it was, and
    ExchangeBusyError when another round or a fetch holds the exchange."""
    if not settings.hub_share_confirmed:
        return None
    labels = shared_labels(settings)
    info, source = open_taxii(database, policy, exchange)
    lease = Lease(database, info.id, info.name, holder=f"{HOLDER_PREFIX}{holder_name()}")
    lease.take()
    try:
        settled = utcnow() - timedelta(seconds=settings.hub_share_settle_seconds)
        result, objects = _read(database, source, info, labels, settled)
        if objects:
            failures = source.post_objects(objects)
            result.failed = len(failures)
            result.succeeded = len(objects) - len(failures)
        if result.last_decision != result.after_decision:
            with database.transaction() as session:
                lease.renew(session)  # lost (it lapsed): no entry, the next round sends again
                audit.record(
                    session, CONFIRMED_ACTION, info.source, after=result.to_json(), actor=actor
                )
        return result
    finally:
        with database.transaction() as session:
            lease.release(session)


def _read(
    database: Database,
    source: TaxiiSource,
    info: ExchangeInfo,
    labels: set[str],
    settled: datetime,
) -> tuple[ConfirmedShare, list[dict[str, Any]]]:
    """The decisions past the cursor made by ``settled``, as signed Indicators.

    The round stops at the first decision made after ``settled``: on
    PostgreSQL an id is taken when a decision is written but seen when its
    transaction commits, so a later id can be seen before an earlier one,
    and a cursor moved past the earlier one would never come back for it.
    """
    key, identity = source.signer()
    cursor = _cursor(database, info.source)
    result = ConfirmedShare(info.name, cursor, cursor)
    objects: list[dict[str, Any]] = []
    with database.reading() as session:
        rows = session.execute(
            select(ReviewDecision, Submission)
            .join(ReviewItem, ReviewItem.id == ReviewDecision.item_id)
            .join(Submission, Submission.id == ReviewItem.submission_id)
            .where(ReviewDecision.id > cursor, ReviewDecision.decision == "confirm")
            .order_by(ReviewDecision.id)
            .limit(BATCH)
        ).all()
        result.more = len(rows) == BATCH
        for decision, submission in rows:
            if as_utc(decision.created_at) > settled:
                result.more = False
                break
            result.last_decision = decision.id
            if decision.classification not in labels:
                continue
            result.decisions += 1
            for signal_type, value in allowlist_signals(submission).items():
                if signal_type not in SHARED_TYPES:
                    continue
                try:
                    indicator = build_indicator(
                        PatternSignal(signal_type, value),
                        publisher=identity,
                        created=as_utc(decision.created_at),
                        classification=decision.classification,
                    )
                except HashmatchError:
                    result.skipped += 1
                    continue
                objects.append(sign(indicator, key))
    return result, objects


def confirmed_sharing(database: Database, settings: Settings) -> Rounds | None:
    """The background rounds ``serve`` (with ``deliver_in_serve``) and
    ``worker`` run when ``hub_share_confirmed`` is on (None when off): one
    every ``hub_share_confirmed_minutes``, at once again while a round
    finds a full batch.  A round that fails is logged and tried again next
    period."""
    if not settings.hub_share_confirmed:
        return None
    policy = UrlPolicy.from_settings(settings)
    minutes = settings.hub_share_confirmed_minutes

    def one_round() -> bool:
        try:
            result = share_confirmed(database, settings, policy, actor=audit.SYSTEM)
        except ExchangeBusyError as error:
            log.info("sharing confirmed decisions waits for its next round: %s", error)
            return False
        except HashmatchError as error:
            log.warning(
                "sharing confirmed decisions failed (tried again in %g minutes): %s",
                minutes,
                error,
            )
            return False
        if result is not None and result.failed:
            log.warning(
                "sharing confirmed decisions: the hub refused %d of %d indicators",
                result.failed,
                result.failed + result.succeeded,
            )
        return result is not None and result.more

    return Rounds(
        one_round,
        name="hashmatch-hub-share",
        what="sharing confirmed decisions with the hub",
        poll_seconds=minutes * 60,
    )


def _cursor(database: Database, target: str) -> int:
    with database.reading() as session:
        after = session.scalar(
            select(AuditEntry.after)
            .where(AuditEntry.action == CONFIRMED_ACTION, AuditEntry.target == target)
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        )
    return int((after or {}).get("last_decision_id", 0))
