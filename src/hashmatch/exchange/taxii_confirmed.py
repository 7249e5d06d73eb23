"""Sharing what reviewers confirm: with the setting ``hub_share_confirmed``,
the upload behind each ``confirm`` decision whose classification is in
``hub_share_labels`` goes to the hub as signed Indicators (one per hash).

    result = share_confirmed(database, settings, policy)   # one round
    # hashmatch hub share-confirmed   (run it from cron, or after reviews)

The queue is the decisions table itself, read past a cursor: each round
ends with one ``hub.share_confirmed`` audit entry that holds the last
decision id it read.  Nothing new is stored, and nothing is lost: a round
that fails (the hub is down) or dies before its entry is written leaves the
cursor where it was, and the next round sends the same decisions again.
They are the same objects (an Indicator's id comes from its pattern, its
times from the decision), so a server takes a repeat as the version it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from hashmatch import audit
from hashmatch.errors import ExchangeError, HashmatchError, InvalidFieldError
from hashmatch.exchange.catalog import effective_options
from hashmatch.exchange.runner import open_source
from hashmatch.exchange.taxii import TaxiiSource
from hashmatch.exchange.taxii_share import CONFIRMED_ACTION, taxii_exchange
from hashmatch.hub.patterns import SHARED_TYPES, PatternSignal
from hashmatch.hub.signing import sign
from hashmatch.hub.stix import build_indicator
from hashmatch.media.download import UrlPolicy
from hashmatch.reporting.cybertip.content import CLASSIFICATIONS
from hashmatch.review.decisions import allowlist_signals
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.models import AuditEntry, as_utc
from hashmatch.store.review_models import ReviewDecision
from hashmatch.store.workflow import ReviewItem, Submission

#: Decisions read per round.
BATCH = 500


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
    when the hub cannot take it, the cursor left where it was."""
    if not settings.hub_share_confirmed:
        return None
    labels = shared_labels(settings)
    info = taxii_exchange(database, exchange)
    source = open_source(info, effective_options(info), policy)
    if not isinstance(source, TaxiiSource):
        raise ExchangeError(f"exchange {info.name!r} is not a taxii exchange")
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
        for decision, submission in rows:
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
    if objects:
        failures = source.post_objects(objects)
        result.failed = len(failures)
        result.succeeded = len(objects) - len(failures)
    with database.transaction() as session:
        audit.record(session, CONFIRMED_ACTION, info.source, after=result.to_json(), actor=actor)
    return result


def _cursor(database: Database, target: str) -> int:
    with database.reading() as session:
        after = session.scalar(
            select(AuditEntry.after)
            .where(AuditEntry.action == CONFIRMED_ACTION, AuditEntry.target == target)
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        )
    return int((after or {}).get("last_decision_id", 0))
