"""The outbox: events written in the transaction of the change they announce,
one delivery job per webhook that wants them, and the jobs' life after that.

    event_id = enqueue(session, "submission.verdict", {...}, submission_id=7)
    # ... the transaction commits ...
    wake_deliverers()

A job is delivered at least once (docs/webhooks.md); receivers deduplicate by
``event_id``.  Deliverers (``actions/deliverer.py``) take turns through
leases:

    jobs = claim(database, "host:123:ab12", limit=64, lease=timedelta(seconds=60))
    ...                                        # POST each job's body
    settle(database, "host:123:ab12", outcomes, Retries.from_settings(settings))

:func:`claim` picks due jobs and leases them to one deliverer, in one
transaction: on PostgreSQL the rows are selected ``FOR UPDATE SKIP LOCKED``
(two deliverers never wait for, nor take, each other's rows); on SQLite the
transaction holds the database's write lock, so the select and the lease
are one step.  A job whose lease ran out (its deliverer died) is due again.
:func:`settle` writes many jobs' outcomes in one transaction, and only for
jobs still leased to the deliverer that tried them.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Row,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from hashmatch.audit import record
from hashmatch.errors import UnknownDeliveryError, WebhookError
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.models import as_utc, iso_utc, utcnow
from hashmatch.store.workflow import Delivery, DeliveryAttempt, Event, Webhook

EVENTS = cast(Table, Event.__table__)
DELIVERIES = cast(Table, Delivery.__table__)
#: Every event type a webhook may subscribe to.
EVENT_TYPES = (
    "submission.matched",
    "submission.verdict",
    "review.decided",
    "report.filed",
    "appeal.decided",
)
#: What a delivery job can be.
DELIVERY_STATUSES = ("pending", "delivered", "dead")

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
    [event_id] = enqueue_many(
        session, [Announcement(event_type, data, tuple(webhooks))], submission_id=submission_id
    )
    return event_id


@dataclass(frozen=True)
class Announcement:
    """One event to write: its type, its data, and the webhooks that get it
    whatever they subscribe to (a rule's webhook actions)."""

    type: str
    data: dict[str, Any]
    webhooks: tuple[str, ...] = ()


def enqueue_many(
    session: Session, announcements: Sequence[Announcement], *, submission_id: int | None = None
) -> list[str]:
    """:func:`enqueue` for several events at once (their ids, in order): three
    statements in all, however many events and webhooks.  Core statements, not
    the ORM: a submission writes its events while it holds the write lock."""
    for announcement in announcements:
        if announcement.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {announcement.type!r}")
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for announcement in announcements:
        event_id = str(uuid.uuid4())
        body = {
            "event_id": event_id,
            "type": announcement.type,
            "created_at": now.isoformat(),
            "data": announcement.data,
        }
        rows.append(
            {
                "event_id": event_id,
                "type": announcement.type,
                "body": json.dumps(body, separators=(",", ":")),
                "submission_id": submission_id,
                "created_at": now,
            }
        )
    inserted = session.execute(insert(EVENTS).returning(EVENTS.c.id, EVENTS.c.event_id), rows)
    keys = {event_id: key for key, event_id in inserted}
    subscribers = _enabled_webhooks(session)
    jobs = [
        {
            "event_id": keys[row["event_id"]],
            "webhook_id": webhook,
            "next_attempt_at": now,
            "created_at": now,
        }
        for row, announcement in zip(rows, announcements, strict=True)
        for webhook, name, events in subscribers
        if name in announcement.webhooks or announcement.type in events
    ]
    if jobs:
        session.execute(insert(DELIVERIES), jobs)
    return [str(row["event_id"]) for row in rows]


def _enabled_webhooks(session: Session) -> list[tuple[int, str, list[str]]]:
    """Every enabled webhook's id, name and events, read once per transaction
    (a submission enqueues two events)."""
    cached: list[tuple[int, str, list[str]]] | None = session.info.get(_WEBHOOKS_READ)
    if cached is None:
        query = select(Webhook.id, Webhook.name, Webhook.events).where(Webhook.enabled.is_(True))
        cached = [(row.id, row.name, row.events) for row in session.execute(query)]
        session.info[_WEBHOOKS_READ] = cached
    return cached


#: Where a transaction's session keeps the enabled webhooks it read.
_WEBHOOKS_READ = "hashmatch.enabled_webhooks"


def wake_deliverers() -> None:
    """Tell this process's deliverers that new jobs were committed."""
    _new_jobs.set()


def wait_for_jobs(timeout: float) -> bool:
    """Until this process commits new jobs or ``timeout`` passes; whether it did.
    Every waiting deliverer wakes, then the signal is cleared for the next."""
    woken = _new_jobs.wait(timeout)
    _new_jobs.clear()
    return woken


# -- deliverers: claim, settle, release ------------------------------------------


@dataclass(frozen=True)
class Job:
    """A delivery leased to one deliverer, with what it needs to send it."""

    delivery_id: int
    event_id: str
    #: The exact JSON document to POST.
    body: str
    url: str
    #: The webhook's valid secrets: the current one first, then the
    #: previous one while its grace period lasts.
    secrets: tuple[str, ...]
    #: Attempts made before this one.
    attempts: int


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: an HTTP status (None when there was no
    answer), how long it took, and why it failed (None when it did not)."""

    delivery_id: int
    attempts_before: int
    status_code: int | None
    latency_ms: float
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Retries:
    """When a failed job is tried again: after ``backoff`` seconds, doubled
    each attempt up to ``backoff_max``, each wait drawn from its upper half
    (so retries of many jobs spread out, and still wait longer every time);
    after ``max_attempts`` the job is dead."""

    max_attempts: int = 12
    backoff: float = 2.0
    backoff_max: float = 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Retries:
        return cls(
            settings.webhook_max_attempts,
            settings.webhook_backoff_seconds,
            settings.webhook_backoff_max_seconds,
        )

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt (1, 2, ...)."""
        ceiling = min(self.backoff * 2.0 ** min(attempts - 1, 60), self.backoff_max)
        draw = rng.uniform if rng is not None else random.uniform
        return ceiling / 2 + draw(0, ceiling / 2)


def _due(now: datetime) -> Any:
    return and_(
        Delivery.status == "pending",
        Delivery.next_attempt_at <= now,
        or_(Delivery.leased_until.is_(None), Delivery.leased_until < now),
    )


def claim(database: Database, worker: str, *, limit: int, lease: timedelta) -> list[Job]:
    """Lease up to ``limit`` due jobs of enabled webhooks to ``worker``, oldest
    due first, and return them (a disabled webhook's jobs wait for it)."""
    now = utcnow()
    with database.transaction() as session:
        ids = list(
            session.scalars(
                select(Delivery.id)
                .join(Webhook, Webhook.id == Delivery.webhook_id)
                .where(_due(now), Webhook.enabled.is_(True))
                .order_by(Delivery.next_attempt_at, Delivery.id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=Delivery)
            )
        )
        if not ids:
            return []
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids))
            .values(leased_until=now + lease, leased_by=worker)
        )
        rows = session.execute(
            select(
                Delivery.id,
                Delivery.attempts,
                Event.event_id,
                Event.body,
                Webhook.url,
                Webhook.secret,
                Webhook.previous_secret,
                Webhook.previous_secret_until,
            )
            .join(Event, Event.id == Delivery.event_id)
            .join(Webhook, Webhook.id == Delivery.webhook_id)
            .where(Delivery.id.in_(ids))
            .order_by(Delivery.next_attempt_at, Delivery.id)
        )
        return [
            Job(
                delivery_id,
                event_id,
                body,
                url,
                valid_secrets(secret, previous, until, now),
                attempts,
            )
            for delivery_id, attempts, event_id, body, url, secret, previous, until in rows
        ]


def valid_secrets(
    secret: str, previous: str | None, until: datetime | None, now: datetime
) -> tuple[str, ...]:
    """The secrets a delivery is signed with at ``now``."""
    if previous and until is not None and as_utc(until) > now:
        return (secret, previous)
    return (secret,)


def settle(
    database: Database,
    worker: str,
    outcomes: Sequence[Outcome],
    retries: Retries,
    *,
    rng: random.Random | None = None,
) -> None:
    """Log each attempt and move its job on (delivered; pending again after
    a backoff; dead after the last attempt), all in one transaction.  A job
    no longer leased to ``worker`` (its lease ran out and another took it)
    keeps its state; its attempt is still logged."""
    if not outcomes:
        return
    now = utcnow()
    changes = []
    for outcome in outcomes:
        attempts = outcome.attempts_before + 1
        if outcome.delivered:
            status, next_at = "delivered", now
        elif attempts >= retries.max_attempts:
            status, next_at = "dead", now
        else:
            status, next_at = "pending", now + timedelta(seconds=retries.delay(attempts, rng))
        changes.append(
            {
                "b_id": outcome.delivery_id,
                "b_worker": worker,
                "status": status,
                "attempts": attempts,
                "next_attempt_at": next_at,
                "leased_until": None,
                "leased_by": None,
                "last_status": outcome.status_code,
                "last_error": outcome.error,
                "delivered_at": now if outcome.delivered else None,
            }
        )
    statement = (
        update(Delivery)
        .where(Delivery.id == bindparam("b_id"), Delivery.leased_by == bindparam("b_worker"))
        .values({key: bindparam(key) for key in changes[0] if not key.startswith("b_")})
    )
    with database.transaction() as session:
        # A job deleted meanwhile (with its webhook) has nothing to log; the
        # others are locked (in id order: two settles never wait on each
        # other in a circle) so that none is deleted before its log is written.
        existing = set(
            session.scalars(
                select(Delivery.id)
                .where(Delivery.id.in_([item["b_id"] for item in changes]))
                .order_by(Delivery.id)
                .with_for_update()
            )
        )
        logged = [
            {
                "delivery_id": outcome.delivery_id,
                "attempted_at": now,
                "status_code": outcome.status_code,
                "latency_ms": outcome.latency_ms,
                "error": outcome.error,
            }
            for outcome in outcomes
            if outcome.delivery_id in existing
        ]
        if logged:
            session.connection().execute(statement, changes)
            session.connection().execute(insert(DeliveryAttempt), logged)


def release(database: Database, worker: str, delivery_ids: Iterable[int]) -> int:
    """Hand back jobs ``worker`` claimed but did not try (it is stopping):
    they are due again at once, for any deliverer.  How many were released."""
    ids = list(delivery_ids)
    if not ids:
        return 0
    with database.transaction() as session:
        result = session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids), Delivery.leased_by == worker)
            .values(leased_until=None, leased_by=None)
        )
    return int(result.rowcount)  # type: ignore[attr-defined]


# -- people: listing, redelivery, upkeep -------------------------------------------


def delivery_json(row: Row[Delivery, str, str, str]) -> dict[str, Any]:
    """A job as the API and the CLI show it, from a row of :func:`_listing`."""
    delivery, event_id, event_type, webhook = row

    return {
        "id": delivery.id,
        "webhook": webhook,
        "event_id": event_id,
        "event_type": event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": iso_utc(delivery.next_attempt_at)
        if delivery.status == "pending"
        else None,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "created_at": iso_utc(delivery.created_at),
        "delivered_at": iso_utc(delivery.delivered_at),
    }


def _listing() -> Select[Delivery, str, str, str]:
    return (
        select(Delivery, Event.event_id, Event.type, Webhook.name)
        .join(Event, Event.id == Delivery.event_id)
        .join(Webhook, Webhook.id == Delivery.webhook_id)
    )


def list_deliveries(
    database: Database,
    webhook_id: int,
    *,
    status: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """A webhook's jobs, newest first: ``limit`` of them with ids below ``before``."""
    if status is not None and status not in DELIVERY_STATUSES:
        raise WebhookError(
            f"delivery status must be one of {', '.join(DELIVERY_STATUSES)}, got {status!r}"
        )
    query = _listing().where(Delivery.webhook_id == webhook_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    if before is not None:
        query = query.where(Delivery.id < before)
    with database.reading() as session:
        rows = session.execute(query.order_by(Delivery.id.desc()).limit(limit))
        return [delivery_json(row) for row in rows]


def show_delivery(database: Database, delivery_id: int) -> dict[str, Any]:
    """A job with its attempts log (newest first)."""
    with database.reading() as session:
        row = session.execute(_listing().where(Delivery.id == delivery_id)).first()
        if row is None:
            raise UnknownDeliveryError(delivery_id)
        attempts = session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id == delivery_id)
            .order_by(DeliveryAttempt.id.desc())
        )
        return {
            **delivery_json(row),
            "log": [
                {
                    "attempted_at": as_utc(attempt.attempted_at).isoformat(),
                    "status_code": attempt.status_code,
                    "latency_ms": round(attempt.latency_ms, 3),
                    "error": attempt.error,
                }
                for attempt in attempts
            ],
        }


def redeliver(database: Database, delivery_ids: Sequence[int]) -> list[int]:
    """Put delivered or dead jobs back in the queue with their attempts reset,
    all or none, audited; a pending one is refused (it is on its way)."""
    now = utcnow()
    with database.transaction() as session:
        found = {
            delivery.id: delivery
            for delivery in session.scalars(
                select(Delivery).where(Delivery.id.in_(delivery_ids)).with_for_update()
            )
        }
        for delivery_id in delivery_ids:
            delivery = found.get(delivery_id)
            if delivery is None:
                raise UnknownDeliveryError(delivery_id)
            if delivery.status == "pending":
                raise WebhookError(f"delivery {delivery_id} is pending already")
        for delivery_id in dict.fromkeys(delivery_ids):
            delivery = found[delivery_id]
            before = {"status": delivery.status, "attempts": delivery.attempts}
            delivery.status, delivery.attempts = "pending", 0
            delivery.next_attempt_at, delivery.delivered_at = now, None
            delivery.leased_until = delivery.leased_by = None
            record(
                session,
                "delivery.redeliver",
                f"delivery:{delivery_id}",
                before=before,
                after={"status": "pending", "attempts": 0},
            )
    wake_deliverers()
    return list(dict.fromkeys(delivery_ids))


def prune_delivery_log(database: Database, older_than: timedelta) -> int:
    """Delete the attempts logged more than ``older_than`` ago; how many."""
    with database.transaction() as session:
        result = session.execute(
            delete(DeliveryAttempt).where(DeliveryAttempt.attempted_at < utcnow() - older_than)
        )
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Backlog:
    """The jobs waiting: how many, and how long the oldest has waited (seconds; 0 when none)."""

    depth: int
    oldest_seconds: float


def backlog(database: Database) -> Backlog:
    """One cheap query (the due index holds the pending jobs): for the metrics."""
    with database.reading() as session:
        count, oldest = session.execute(
            select(func.count(), func.min(Delivery.created_at)).where(Delivery.status == "pending")
        ).one()
    age = (utcnow() - as_utc(oldest)).total_seconds() if oldest is not None else 0.0
    return Backlog(int(count), max(age, 0.0))
