"""The outbox: events written in the transaction of the change they announce,
one delivery job per webhook that wants them.

    event_id = enqueue(session, "submission.verdict", {...}, submission_id=7)
    # ... the transaction commits ...
    wake_deliverers()

A job is delivered at least once (docs/actions.md, "Webhooks"); receivers
deduplicate by ``event_id``.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashmatch.store.models import utcnow
from hashmatch.store.workflow import Delivery, Event, Webhook

#: Every event type a webhook may subscribe to.
EVENT_TYPES = ("submission.matched", "submission.verdict", "review.decided", "report.filed")

#: Set when this process committed new jobs: its deliverers look at once
#: instead of at their next poll.
_new_jobs = threading.Event()


def enqueue(
    session: Session,
    event_type: str,
    data: dict[str, Any],
    *,
    submission_id: int | None = None,
    webhooks: Iterable[str] = (),
) -> str:
    """Write an event and a delivery job for each enabled webhook subscribed
    to ``event_type`` or named in ``webhooks`` (a rule's webhook action);
    returns the event id.  Nothing is sent before the transaction commits."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    now = utcnow()
    event_id = str(uuid.uuid4())
    body = {"event_id": event_id, "type": event_type, "created_at": now.isoformat(), "data": data}
    event = Event(
        event_id=event_id,
        type=event_type,
        body=json.dumps(body, separators=(",", ":")),
        submission_id=submission_id,
        created_at=now,
    )
    session.add(event)
    session.flush()
    named = set(webhooks)
    for webhook in session.scalars(select(Webhook).where(Webhook.enabled.is_(True))):
        if webhook.name in named or event_type in webhook.events:
            session.add(Delivery(event_id=event.id, webhook_id=webhook.id, next_attempt_at=now))
    return event_id


def wake_deliverers() -> None:
    """Tell this process's deliverers that new jobs were committed."""
    _new_jobs.set()
