"""Feedback that matches were reported: when a CyberTipline report is filed,
one ``reported`` opinion per bank content its files matched, for the
exchange that sent the content, in the opinions outbox that the opinion
sender empties (``exchange/opinions.py``: leases, retries, at least once).

    queue_reported(session, report_id, submission_ids)  # in the transaction that files it

Only an exchange whose type takes them (``ExchangeSource.takes_reports``: a
TAXII collection, where each becomes a signed STIX Sighting) gets them:
content of another type's exchange (ncmec, threatexchange, stopncii,
lists), of a deleted one, or banked here queues nothing.  An exchange whose
``send_opinions`` option is false settles them ``not_sent``, as it does its
opinions.  A reported opinion belongs to its report (``report_id``), not to
a review decision: reopening or overturning the decision leaves it, as it
leaves the report.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashmatch.errors import InvalidFieldError
from hashmatch.exchange.catalog import exchange_named
from hashmatch.exchange.registry import get_source_type
from hashmatch.store.exchange_models import Exchange
from hashmatch.store.models import utcnow
from hashmatch.store.review_models import Opinion
from hashmatch.store.workflow import Submission

#: The opinion a filed report queues.
REPORTED = "reported"


def queue_reported(session: Session, report_id: int, submission_ids: Iterable[int]) -> int:
    """Queue the report's ``reported`` opinions (once per report); how many."""
    queued = session.scalar(select(Opinion.id).where(Opinion.report_id == report_id).limit(1))
    if queued is not None:
        return 0
    takers = _exchanges_taking_reports(session)
    rows: dict[tuple[str, int], Opinion] = {}
    now = utcnow()
    found: list[list[Any]] = list(
        session.scalars(select(Submission.matches).where(Submission.id.in_(set(submission_ids))))
    )
    for matches in found:
        for match in _reportable(matches or [], takers):
            key = (str(match.get("bank")), int(match.get("content_id", 0)))
            signal_type = str(match.get("signal_type") or "")
            row = rows.get(key)
            if row is None:
                rows[key] = Opinion(
                    item_id=None,
                    report_id=report_id,
                    bank=key[0],
                    content_id=key[1],
                    external_id=match.get("external_id"),
                    source=match.get("source"),
                    opinion=REPORTED,
                    signal_types=[signal_type] if signal_type else [],
                    status="pending",
                    created_at=now,
                )
            elif signal_type and signal_type not in row.signal_types:
                row.signal_types = [*row.signal_types, signal_type]
    session.add_all(rows.values())
    return len(rows)


def _reportable(matches: list[Any], takers: set[str]) -> Iterable[dict[str, Any]]:
    """The matches (allowlist suppressions left out) of content an exchange in ``takers`` sent."""
    for match in matches:
        if (
            isinstance(match, dict)
            and not match.get("suppressed")
            and exchange_named(match.get("source")) in takers
        ):
            yield match


def _exchanges_taking_reports(session: Session) -> set[str]:
    """The names of the exchanges whose type takes ``reported`` opinions (an
    uninstalled plugin's type takes none)."""
    names = set()
    for name, source_type in session.execute(select(Exchange.name, Exchange.source_type)):
        try:
            if get_source_type(source_type).takes_reports:
                names.add(name)
        except InvalidFieldError:
            continue
    return names
