"""The outbox's jobs: claimed under a lease by one deliverer at a time,
retried with a growing backoff, dead-lettered, redelivered, pruned; on both engines."""

from __future__ import annotations

import itertools
import random
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from hashmatch import audit
from hashmatch.actions import outbox
from hashmatch.actions.deliverer import Deliverer
from hashmatch.actions.outbox import Outcome, Retries
from hashmatch.actions.webhook_store import Webhooks
from hashmatch.errors import UnknownDeliveryError, WebhookError
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.models import AuditEntry, utcnow
from hashmatch.store.workflow import Delivery, DeliveryAttempt
from tests.webhook_receiver import Received, Receiver, running

LEASE = timedelta(seconds=60)


def settings_for(database: Database, tmp_path: Path, **values: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database.engine.url.render_as_string(hide_password=False),
        url_allow_private=True,
        **values,  # type: ignore[arg-type]
    )


@pytest.fixture
def hooked(database: Database, tmp_path: Path) -> Database:
    """A database with one webhook, "hook", subscribed to verdicts (at a URL nobody calls)."""
    Webhooks(database, settings_for(database, tmp_path)).create(
        "hook", "http://127.0.0.1:9/hook", ["submission.verdict"]
    )
    return database


def enqueue(database: Database, count: int) -> list[str]:
    with database.transaction() as session:
        return [outbox.enqueue(session, "submission.verdict", {"n": n}) for n in range(count)]


def failed(job: outbox.Job, status: int | None = 503) -> Outcome:
    return Outcome(job.delivery_id, job.attempts, status, 1.0, f"HTTP {status}")


def delivery(database: Database, delivery_id: int) -> Delivery:
    with database.reading() as session:
        found = session.get(Delivery, delivery_id)
        assert found is not None
        return found


def test_a_job_is_claimed_by_one_deliverer_at_a_time(hooked: Database) -> None:
    enqueue(hooked, 3)
    first = outbox.claim(hooked, "a", limit=2, lease=LEASE)
    second = outbox.claim(hooked, "b", limit=10, lease=LEASE)
    assert len(first) == 2
    assert len(second) == 1
    assert {job.delivery_id for job in first}.isdisjoint(job.delivery_id for job in second)
    assert outbox.claim(hooked, "c", limit=10, lease=LEASE) == []
    assert delivery(hooked, second[0].delivery_id).leased_by == "b"


def test_jobs_only_for_subscribed_enabled_webhooks(hooked: Database, tmp_path: Path) -> None:
    webhooks = Webhooks(hooked, settings_for(hooked, tmp_path))
    webhooks.create("other", "http://127.0.0.1:9/other", ["review.decided"])
    with hooked.transaction() as session:
        outbox.enqueue(session, "submission.verdict", {})
        outbox.enqueue(session, "submission.matched", {}, webhooks=["other"])
    webhooks.update("hook", enabled=False)
    [job] = outbox.claim(hooked, "a", limit=10, lease=LEASE)
    assert job.url.endswith("/other")  # the disabled webhook's job waits
    webhooks.update("hook", enabled=True)
    assert len(outbox.claim(hooked, "a", limit=10, lease=LEASE)) == 1


def test_an_expired_lease_is_taken_over(hooked: Database) -> None:
    enqueue(hooked, 1)
    [job] = outbox.claim(hooked, "dead-worker", limit=1, lease=LEASE)
    with hooked.transaction() as session:  # time passes: the lease runs out
        session.execute(update(Delivery).values(leased_until=utcnow() - timedelta(seconds=1)))
    [again] = outbox.claim(hooked, "b", limit=1, lease=LEASE)
    assert again.delivery_id == job.delivery_id
    assert again.event_id == job.event_id
    # The first deliverer's late outcome is logged but does not move the job on.
    outbox.settle(hooked, "dead-worker", [failed(job)], Retries())
    assert delivery(hooked, job.delivery_id).leased_by == "b"
    outbox.settle(hooked, "b", [Outcome(again.delivery_id, 0, 200, 1.0, None)], Retries())
    done = delivery(hooked, job.delivery_id)
    assert (done.status, done.attempts, done.leased_by) == ("delivered", 1, None)
    shown = outbox.show_delivery(hooked, job.delivery_id)
    assert shown is not None
    assert [entry["status_code"] for entry in shown["log"]] == [200, 503]


def test_postgresql_skips_rows_another_claim_holds(hooked: Database) -> None:
    if hooked.dialect != "postgresql":
        pytest.skip("SQLite's claims hold the database's write lock: there is nothing to skip")
    enqueue(hooked, 2)
    with hooked.reading() as session:
        first_id, second_id = session.scalars(select(Delivery.id).order_by(Delivery.id)).all()
    holder = hooked.engine.connect()
    try:
        transaction = holder.begin()
        holder.execute(select(Delivery.id).where(Delivery.id == first_id).with_for_update())
        # The held row is skipped, not waited for.
        [job] = outbox.claim(hooked, "b", limit=10, lease=LEASE)
        assert job.delivery_id == second_id
        transaction.rollback()
    finally:
        holder.close()
    [job] = outbox.claim(hooked, "c", limit=10, lease=LEASE)
    assert job.delivery_id == first_id


def test_backoff_grows_and_is_capped() -> None:
    retries = Retries(max_attempts=20, backoff=2.0, backoff_max=60.0)
    rng = random.Random(7)
    for attempts in range(1, 12):
        ceiling = min(2.0 * 2 ** (attempts - 1), 60.0)
        for _ in range(20):
            assert ceiling / 2 <= retries.delay(attempts, rng) <= ceiling
    assert retries.delay(10_000, rng) <= 60.0


def test_failures_back_off_then_dead_letter(hooked: Database) -> None:
    enqueue(hooked, 1)
    retries = Retries(max_attempts=4, backoff=10.0, backoff_max=1000.0)
    delays = []
    for attempt in range(1, 5):
        [job] = outbox.claim(hooked, "a", limit=1, lease=LEASE)
        assert job.attempts == attempt - 1
        outbox.settle(hooked, "a", [failed(job, 500)], retries, rng=random.Random(attempt))
        row = delivery(hooked, job.delivery_id)
        assert row.attempts == attempt
        assert row.last_status == 500
        if attempt < 4:
            assert row.status == "pending"
            with hooked.reading() as session:
                tried = session.scalar(
                    select(DeliveryAttempt.attempted_at).order_by(DeliveryAttempt.id.desc())
                )
            assert tried is not None
            delays.append((row.next_attempt_at - tried).total_seconds())
            assert outbox.claim(hooked, "a", limit=1, lease=LEASE) == []  # not due yet
            with hooked.transaction() as session:  # let the wait pass
                session.execute(update(Delivery).values(next_attempt_at=utcnow()))
        else:
            assert row.status == "dead"
    assert 5 <= delays[0] <= 10
    assert all(later >= earlier for earlier, later in itertools.pairwise(delays))
    assert delays[2] >= 20  # the third wait is drawn from [20, 40]
    assert outbox.claim(hooked, "a", limit=1, lease=LEASE) == []
    assert outbox.backlog(hooked).depth == 0


def test_redeliver_puts_dead_and_delivered_jobs_back(hooked: Database) -> None:
    enqueue(hooked, 2)
    dead, done = outbox.claim(hooked, "a", limit=2, lease=LEASE)
    outbox.settle(
        hooked,
        "a",
        [failed(dead), Outcome(done.delivery_id, 0, 200, 1.0, None)],
        Retries(max_attempts=1),
    )
    with pytest.raises(WebhookError, match="no delivery 999"):
        outbox.redeliver(hooked, [dead.delivery_id, 999])
    assert delivery(hooked, dead.delivery_id).status == "dead"  # all or none
    with audit.acting_as(audit.Actor("user:ops")):
        assert outbox.redeliver(hooked, [dead.delivery_id, done.delivery_id]) == [
            dead.delivery_id,
            done.delivery_id,
        ]
    for delivery_id in (dead.delivery_id, done.delivery_id):
        row = delivery(hooked, delivery_id)
        assert (row.status, row.attempts, row.delivered_at) == ("pending", 0, None)
    with pytest.raises(WebhookError, match="pending already"):
        outbox.redeliver(hooked, [dead.delivery_id])
    with hooked.reading() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "delivery.redeliver")
        ).all()
    assert [(entry.actor, entry.before) for entry in entries] == [
        ("user:ops", {"status": "dead", "attempts": 1}),
        ("user:ops", {"status": "delivered", "attempts": 1}),
    ]
    assert len(outbox.claim(hooked, "b", limit=10, lease=LEASE)) == 2


def test_a_job_deleted_in_flight_is_settled_quietly(hooked: Database, tmp_path: Path) -> None:
    enqueue(hooked, 2)
    gone, kept = outbox.claim(hooked, "a", limit=2, lease=LEASE)
    with hooked.transaction() as session:
        session.execute(delete(Delivery).where(Delivery.id == gone.delivery_id))
    outbox.settle(hooked, "a", [failed(gone), failed(kept)], Retries())
    assert delivery(hooked, kept.delivery_id).attempts == 1
    with pytest.raises(UnknownDeliveryError):
        outbox.show_delivery(hooked, gone.delivery_id)


def test_release_hands_back_only_our_jobs(hooked: Database) -> None:
    enqueue(hooked, 2)
    mine = outbox.claim(hooked, "a", limit=1, lease=LEASE)
    theirs = outbox.claim(hooked, "b", limit=1, lease=LEASE)
    ids = [job.delivery_id for job in mine + theirs]
    assert outbox.release(hooked, "a", ids) == 1
    [again] = outbox.claim(hooked, "c", limit=10, lease=LEASE)
    assert again.delivery_id == mine[0].delivery_id


def test_prune_and_backlog(hooked: Database) -> None:
    enqueue(hooked, 3)
    jobs = outbox.claim(hooked, "a", limit=3, lease=LEASE)
    outbox.settle(hooked, "a", [failed(job) for job in jobs], Retries())
    with hooked.transaction() as session:
        session.execute(
            update(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id == jobs[0].delivery_id)
            .values(attempted_at=utcnow() - timedelta(days=40))
        )
    assert outbox.prune_delivery_log(hooked, timedelta(days=30)) == 1
    assert outbox.prune_delivery_log(hooked, timedelta(days=30)) == 0
    waiting = outbox.backlog(hooked)
    assert waiting.depth == 3
    assert waiting.oldest_seconds >= 0


def test_secrets_during_and_after_grace(hooked: Database, tmp_path: Path) -> None:
    webhooks = Webhooks(hooked, settings_for(hooked, tmp_path, webhook_secret_grace_hours=1))
    enqueue(hooked, 1)
    [job] = outbox.claim(hooked, "a", limit=1, lease=LEASE)
    outbox.release(hooked, "a", [job.delivery_id])
    secret, info = webhooks.rotate("hook")
    assert info.previous_secret_until is not None
    [during] = outbox.claim(hooked, "a", limit=1, lease=LEASE)
    assert during.secrets == (secret, job.secrets[0])
    outbox.release(hooked, "a", [job.delivery_id])
    now = utcnow()
    assert outbox.valid_secrets(secret, "old", now - timedelta(seconds=1), now) == (secret,)


def test_deliverers_share_the_work_without_overlap(database: Database, tmp_path: Path) -> None:
    """Three deliverers, 300 events: each delivered, none sent by two at once."""
    in_flight: set[str] = set()
    overlaps: list[str] = []
    guard = threading.Lock()
    rng = random.Random(3)

    def answer(received: Received) -> int:
        with guard:
            if received.event_id in in_flight:
                overlaps.append(received.event_id)
            in_flight.add(received.event_id)
        time.sleep(rng.random() / 500)
        with guard:
            in_flight.discard(received.event_id)
        return 200 if rng.random() > 0.1 else 503  # some retried

    with running(Receiver(answer)) as receiver:
        settings = settings_for(
            database,
            tmp_path,
            delivery_concurrency=4,
            webhook_backoff_seconds=0.01,
            webhook_backoff_max_seconds=0.05,
        )
        Webhooks(database, settings).create("hook", receiver.url, ["submission.verdict"])
        expected = set(enqueue(database, 300))
        deliverers = [Deliverer(database, settings, poll_seconds=0.02) for _ in range(3)]
        for deliverer in deliverers:
            deliverer.start()
        try:
            deadline = time.monotonic() + 60
            while outbox.backlog(database).depth and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            for deliverer in deliverers:
                deliverer.stop()
        assert set(receiver.event_ids()) == expected
    assert overlaps == []
    with database.reading() as session:
        statuses = set(session.scalars(select(Delivery.status)))
        holders = set(session.scalars(select(Delivery.leased_by)))
    assert statuses == {"delivered"}
    assert holders == {None}


def test_stop_finishes_in_flight_and_hands_back_the_rest(
    database: Database, tmp_path: Path
) -> None:
    with running(Receiver(delay=0.3)) as receiver:
        settings = settings_for(database, tmp_path, delivery_concurrency=1)
        Webhooks(database, settings).create("hook", receiver.url, ["submission.verdict"])
        enqueue(database, 4)
        deliverer = Deliverer(database, settings)
        deliverer.start()
        deadline = time.monotonic() + 30
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.01)
        deliverer.stop()
    with database.reading() as session:
        rows = session.execute(select(Delivery.status, Delivery.attempts, Delivery.leased_by))
        states = sorted(tuple(row) for row in rows)
    assert len(receiver.received) == 1
    assert states == [("delivered", 1, None)] + [("pending", 0, None)] * 3


def test_a_job_committed_here_goes_out_without_waiting_for_a_poll(
    database: Database, tmp_path: Path
) -> None:
    with running(Receiver()) as receiver:
        settings = settings_for(database, tmp_path)
        Webhooks(database, settings).create("hook", receiver.url, ["submission.verdict"])
        deliverer = Deliverer(database, settings, poll_seconds=3600)
        deliverer.start()
        try:
            time.sleep(0.1)  # the claimer is waiting now
            [event_id] = enqueue(database, 1)
            outbox.wake_deliverers()
            deadline = time.monotonic() + 30
            while not receiver.received and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            deliverer.stop()
    assert receiver.event_ids() == [event_id]
