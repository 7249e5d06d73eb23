"""Delivering one webhook: signed, kept alive, under the address policy and
the deadline; failures retried with a growing backoff, then dead-lettered;
a receiver written from docs/webhooks.md alone accepts what is sent."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from hashmatch.actions import outbox
from hashmatch.actions.deliverer import Deliverer
from hashmatch.actions.delivery import DeliveryPolicy, Sender
from hashmatch.actions.outbox import Job, Retries
from hashmatch.actions.webhook_store import Webhooks
from hashmatch.errors import WebhookError
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.models import utcnow
from hashmatch.store.workflow import Delivery, DeliveryAttempt
from hashmatch.webhooks import SignatureError, verify
from tests.webhook_receiver import Receiver, RejectedError, running, verify_from_docs

BODY = (
    '{"event_id":"9b2f","type":"submission.verdict",'
    '"created_at":"2026-11-26T00:00:00+00:00","data":{}}'
)
LOOPBACK = DeliveryPolicy(timeout_seconds=5, allow_private=True)


def job(url: str, secrets: tuple[str, ...] = ("s3cret",), body: str = BODY) -> Job:
    return Job(1, "9b2f", body, url, secrets, 0)


@pytest.fixture
def sender() -> Iterator[Sender]:
    sending = Sender(LOOPBACK)
    yield sending
    sending.close()


def test_a_delivery_is_signed_and_verifies(sender: Sender) -> None:
    with running(Receiver()) as receiver:
        outcome = sender.send(job(receiver.url, ("new", "old")))
    assert outcome.delivered
    assert outcome.status_code == 200
    [received] = receiver.received
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["Hashmatch-Event-Id"] == "9b2f"
    assert received.headers["User-Agent"].startswith("hashmatch/")
    assert received.body == BODY.encode()
    # Both secrets of a rotation's grace period verify; another does not.
    assert verify("new", received.headers, received.body)["event_id"] == "9b2f"
    assert verify("old", received.headers, received.body)["event_id"] == "9b2f"
    with pytest.raises(SignatureError):
        verify("other", received.headers, received.body)


def test_the_documented_recipe_verifies_and_rejects(sender: Sender) -> None:
    """The receiver of tests/webhook_receiver.py knows only docs/webhooks.md."""
    with running(Receiver()) as receiver:
        assert sender.send(job(receiver.url)).delivered
    [received] = receiver.received
    assert verify_from_docs("s3cret", received.headers, received.body)["event_id"] == "9b2f"
    with pytest.raises(RejectedError, match="bad signature"):
        verify_from_docs("s3cret", received.headers, received.body.replace(b"{}", b'{"x":1}'))
    with pytest.raises(RejectedError, match="bad signature"):
        verify_from_docs("wrong", received.headers, received.body)
    replayed_at = time.time() + 301  # the same delivery, sent again five minutes later
    with pytest.raises(RejectedError, match="too old"):
        verify_from_docs("s3cret", received.headers, received.body, now=replayed_at)


def test_connections_are_kept_alive(sender: Sender) -> None:
    with running(Receiver()) as receiver:
        for _ in range(5):
            assert sender.send(job(receiver.url)).delivered
    assert len({item.client_port for item in receiver.received}) == 1


def test_a_connection_the_receiver_closed_is_replaced(sender: Sender) -> None:
    with running(Receiver(idle_timeout=0.05)) as receiver:
        assert sender.send(job(receiver.url)).delivered
        time.sleep(0.3)  # the receiver closes the idle connection meanwhile
        assert sender.send(job(receiver.url)).delivered
    assert len(receiver.received) == 2
    assert len({item.client_port for item in receiver.received}) == 2


def test_error_answers_and_redirects_fail(sender: Sender) -> None:
    with running(Receiver(lambda _item: 503)) as receiver:
        outcome = sender.send(job(receiver.url))
    assert (outcome.delivered, outcome.status_code, outcome.error) == (False, 503, "HTTP 503")
    with running(Receiver(lambda _item: 302)) as receiver:
        outcome = sender.send(job(receiver.url))
    assert outcome.status_code == 302
    assert outcome.error is not None
    assert "not followed" in outcome.error
    assert [item.path for item in receiver.received] == ["/hook"]  # /elsewhere never asked


def test_a_slow_receiver_times_out() -> None:
    sender = Sender(DeliveryPolicy(timeout_seconds=0.3, allow_private=True))
    with running(Receiver(delay=2.0)) as receiver:
        outcome = sender.send(job(receiver.url))
    sender.close()
    assert outcome.status_code is None
    assert outcome.error == "no answer within 0.3 s (webhook_timeout_seconds)"


def test_loopback_is_refused_unless_private_addresses_are_allowed(tmp_path: Path) -> None:
    with running(Receiver()) as receiver:
        outcome = Sender(DeliveryPolicy(5, allow_private=False)).send(job(receiver.url))
    assert outcome.error is not None
    assert "private or reserved address" in outcome.error
    assert receiver.received == []
    database = Database.open(f"sqlite:///{tmp_path / 'hooks.db'}")
    strict = Webhooks(database, Settings(data_dir=tmp_path, database_url="sqlite://"))
    for url in (
        "http://127.0.0.1/hook",
        "http://localhost:8080/",
        "http://[::1]/",
        "http://10.1.2.3/",
    ):
        with pytest.raises(WebhookError, match="url_allow_private"):
            strict.create("hook", url, [])
    for url in (
        "ftp://example.com/",
        "http://user:pw@example.com/",
        "http:///nohost",
        "http://a b/",
    ):
        with pytest.raises(WebhookError, match="invalid webhook URL"):
            strict.create("hook", url, [])
    assert strict.create("hook", "https://hooks.example.com/hm", [])[1].url.startswith("https:")
    database.close()


# -- retries, on both engines -------------------------------------------------------


def test_retries_back_off_then_dead_letter(database: Database, tmp_path: Path) -> None:
    """A receiver that answers 500, then times out: each retry waits longer,
    the fourth failure is the last."""
    answers = iter([500, 500, 200])
    with running(Receiver(lambda _item: next(answers, 500))) as receiver:
        settings = Settings(
            data_dir=tmp_path,
            database_url="sqlite://",
            url_allow_private=True,
            webhook_timeout_seconds=0.3,
        )
        Webhooks(database, settings).create("hook", receiver.url, ["submission.verdict"])
        with database.transaction() as session:
            outbox.enqueue(session, "submission.verdict", {})
        retries = Retries(max_attempts=4, backoff=1.0, backoff_max=100.0)
        sender = Sender(DeliveryPolicy.from_settings(settings))
        delays, errors = [], []
        for attempt in range(1, 5):
            if attempt == 3:
                receiver.delay = 1.0  # answers after the deadline from now on
            [claimed] = outbox.claim(database, "me", limit=1, lease=timedelta(seconds=60))
            outcome = sender.send(claimed)
            errors.append(outcome.error)
            outbox.settle(database, "me", [outcome], retries, rng=random.Random(attempt))
            with database.reading() as session:
                row = session.scalars(select(Delivery)).one()
                tried = session.scalar(
                    select(DeliveryAttempt.attempted_at).order_by(DeliveryAttempt.id.desc())
                )
            assert tried is not None
            if row.status == "pending":
                delays.append((row.next_attempt_at - tried).total_seconds())
                with database.transaction() as session:  # skip the wait
                    session.execute(update(Delivery).values(next_attempt_at=utcnow()))
        sender.close()
    assert errors[:2] == ["HTTP 500", "HTTP 500"]
    assert errors[2:] == ["no answer within 0.3 s (webhook_timeout_seconds)"] * 2
    assert (row.status, row.attempts, row.last_status) == ("dead", 4, None)
    assert len(delays) == 3
    for number, delay in enumerate(delays, start=1):
        assert 2 ** (number - 1) / 2 <= delay <= 2 ** (number - 1)
    assert delays == sorted(delays)


def test_a_deliverer_delivers_and_dead_letters(database: Database, tmp_path: Path) -> None:
    with running(Receiver(lambda item: 200 if b'"ok"' in item.body else 500)) as receiver:
        settings = Settings(
            data_dir=tmp_path,
            database_url="sqlite://",
            url_allow_private=True,
            webhook_max_attempts=3,
            webhook_backoff_seconds=0.01,
            webhook_backoff_max_seconds=0.02,
        )
        secret, _ = Webhooks(database, settings).create(
            "hook", receiver.url, ["submission.verdict"]
        )
        with database.transaction() as session:
            good = outbox.enqueue(session, "submission.verdict", {"ok": True})
            outbox.enqueue(session, "submission.verdict", {"bad": True})
        deliverer = Deliverer(database, settings, poll_seconds=0.02)
        deliverer.start()
        try:
            deadline = time.monotonic() + 30
            while outbox.backlog(database).depth and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            deliverer.stop()
    with database.reading() as session:
        statuses = dict(session.execute(select(Delivery.status, Delivery.attempts)).all())
    assert statuses == {"delivered": 1, "dead": 3}
    ids = [verify(secret, item.headers, item.body)["event_id"] for item in receiver.received]
    assert len(ids) == 4
    assert ids.count(good) == 1
