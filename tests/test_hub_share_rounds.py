"""Confirmed decisions shared with the hub in rounds (exchange/taxii_confirmed.py),
on SQLite and PostgreSQL: two rounds racing take turns on the exchange's
lease (a deterministic interleaving, then a bounded stress test of threads
running rounds while reviewers decide), and every confirmed decision
reaches the TAXII server once, the cursor ending at the last decision; the
background rounds ``serve`` and ``worker`` run, a failed round logged
(without the credentials) and tried again."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hashmatch.errors import ExchangeBusyError
from hashmatch.exchange.taxii import TaxiiSource
from hashmatch.exchange.taxii_confirmed import confirmed_sharing, share_confirmed
from hashmatch.exchange.taxii_share import CONFIRMED_ACTION
from hashmatch.exchange.taxii_simulator import COLLECTION, TaxiiSimulator
from hashmatch.hub.signing import key_ring
from hashmatch.review import Review
from hashmatch.review.decisions import Verdict
from hashmatch.store import Database
from hashmatch.store.models import AuditEntry, utcnow
from hashmatch.store.review_models import ReviewDecision
from tests.review_world import ReviewWorld
from tests.test_exchange_taxii import CREDENTIALS, ENV, LOOPBACK, add_exchange, fetch, member
from tests.test_review import ALICE, open_world

#: Bounds of the stress test: threads, rounds each, decisions made meanwhile.
THREADS, ROUNDS, DECISIONS = 4, 6, 6
#: Longest a test waits for a thread (it fails rather than hangs).
WAIT = 30.0


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[TaxiiSimulator]:
    monkeypatch.setenv(ENV, CREDENTIALS)
    with TaxiiSimulator(CREDENTIALS) as running:
        yield running


@pytest.fixture
def sharing(
    database: Database, database_url: str, hub: TaxiiSimulator, tmp_path: Path
) -> tuple[ReviewWorld, Review]:
    """A review world sharing A1 confirmations through the exchange ``hub``."""
    me = member("member-b")
    key_file = tmp_path / "b.pem"
    key_file.write_text(me.pem)
    opened = open_world(
        database,
        database_url,
        tmp_path,
        hub_share_confirmed=True,
        hub_share_labels=["A1"],
        hub_share_confirmed_minutes=0.001,
        hub_share_settle_seconds=0,
        url_allow_private=True,  # the simulator is on loopback
    )
    add_exchange(database, hub, signing_key_file=str(key_file), identity=me.identity)
    hub.trusted = key_ring([me.trusted()])
    return opened


def confirm(world: ReviewWorld, review: Review, count: int, *, start: int) -> None:
    for item in world.queue_photos(count, start=start):
        review.items.claim(item, ALICE)
        review.decisions.decide(item, ALICE, Verdict("confirm", classification="A1"))


def cursor(database: Database) -> int:
    with database.reading() as session:
        entries = session.scalars(
            select(AuditEntry.after)
            .where(AuditEntry.action == CONFIRMED_ACTION)
            .order_by(AuditEntry.seq)
        ).all()
    cursors = [int(after["last_decision_id"]) for after in entries]
    assert cursors == sorted(set(cursors)), "the cursor only moves forward"
    return cursors[-1] if cursors else 0


def last_decision(database: Database) -> int:
    with database.reading() as session:
        return int(session.scalar(select(ReviewDecision.id).order_by(ReviewDecision.id.desc())))


def counted_succeeded(database: Database) -> int:
    with database.reading() as session:
        entries = session.scalars(
            select(AuditEntry.after).where(AuditEntry.action == CONFIRMED_ACTION)
        ).all()
    return sum(int(after["succeeded"]) for after in entries)


def assert_sent_once(database: Database, hub: TaxiiSimulator, decisions: int) -> None:
    """Each decision's objects POSTed once and stored once; counted once."""
    versions = Counter((obj["id"], obj["modified"]) for obj in hub.received)
    assert versions
    assert max(versions.values()) == 1
    stored = [object_id for _, object_id, _ in hub.collections[COLLECTION].entries]
    assert len(stored) == len(set(stored))
    assert {obj["id"] for obj in hub.received} == set(stored)
    assert len({obj["created"] for obj in hub.received}) == decisions
    assert counted_succeeded(database) == len(hub.received)
    assert cursor(database) == last_decision(database)


def test_a_round_racing_another_waits_its_turn(
    database: Database,
    sharing: tuple[ReviewWorld, Review],
    hub: TaxiiSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world, review = sharing
    confirm(world, review, 2, start=0)
    posting, go = threading.Event(), threading.Event()
    post = TaxiiSource.post_objects

    def held_post(self: TaxiiSource, objects: list[dict[str, Any]]) -> dict[str, str]:
        posting.set()
        assert go.wait(WAIT)
        return post(self, objects)

    monkeypatch.setattr(TaxiiSource, "post_objects", held_post)
    first: list[Any] = []
    racer = threading.Thread(
        target=lambda: first.append(share_confirmed(database, world.settings, LOOPBACK))
    )
    racer.start()
    assert posting.wait(WAIT)
    # The first round is inside its POST: a second round, and a fetch, find it busy.
    with pytest.raises(ExchangeBusyError, match="share-confirmed@"):
        share_confirmed(database, world.settings, LOOPBACK)
    assert "share-confirmed@" in (fetch_error(database) or "")
    confirm(world, review, 1, start=2)  # decided while the first round posts
    go.set()
    racer.join(WAIT)
    assert first[0].decisions == 2
    assert cursor(database) == first[0].last_decision < last_decision(database)
    later = share_confirmed(database, world.settings, LOOPBACK)
    assert later is not None
    assert later.decisions == 1
    assert_sent_once(database, hub, decisions=3)
    # Nothing new: the round reads nothing and writes no entry.
    idle = share_confirmed(database, world.settings, LOOPBACK)
    assert idle is not None
    assert idle.decisions == 0
    assert cursor(database) == later.last_decision


def fetch_error(database: Database) -> str | None:
    try:
        fetch(database)
    except ExchangeBusyError as error:
        return str(error)
    return None


def test_rounds_of_many_threads_send_each_decision_once(
    database: Database, sharing: tuple[ReviewWorld, Review], hub: TaxiiSimulator
) -> None:
    world, review = sharing
    confirm(world, review, DECISIONS // 2, start=0)
    ready = threading.Barrier(THREADS + 1)
    busy = Counter[str]()
    problems: list[BaseException] = []

    def rounds() -> None:
        ready.wait(WAIT)
        for _ in range(ROUNDS):
            try:
                share_confirmed(database, world.settings, LOOPBACK)
            except ExchangeBusyError:
                busy["busy"] += 1
            except BaseException as error:  # noqa: BLE001 - reported below
                problems.append(error)

    threads = [threading.Thread(target=rounds) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    ready.wait(WAIT)
    confirm(world, review, DECISIONS - DECISIONS // 2, start=DECISIONS // 2)
    for thread in threads:
        thread.join(WAIT)
    assert not problems
    share_confirmed(database, world.settings, LOOPBACK)  # what the last decisions missed
    assert_sent_once(database, hub, decisions=DECISIONS)


def test_a_round_stops_at_a_decision_younger_than_the_settle_time(
    database: Database, sharing: tuple[ReviewWorld, Review], hub: TaxiiSimulator
) -> None:
    """A later id seen before an earlier one commits (PostgreSQL): the round
    stops before the young decision and never moves the cursor past it."""
    world, review = sharing
    confirm(world, review, 3, start=0)
    with database.transaction() as session:
        first, middle, last = session.scalars(select(ReviewDecision).order_by(ReviewDecision.id))
        first.created_at = utcnow() - timedelta(hours=2)
        last.created_at = utcnow() - timedelta(hours=1)
        middle.created_at = utcnow()
        ids = [first.id, middle.id, last.id]
    settling = world.settings.model_copy(update={"hub_share_settle_seconds": 60})
    done = share_confirmed(database, settling, LOOPBACK)
    assert done is not None
    assert (done.decisions, done.last_decision) == (1, ids[0])
    assert cursor(database) == ids[0]
    with database.transaction() as session:
        session.get(ReviewDecision, ids[1]).created_at = utcnow() - timedelta(minutes=2)
    later = share_confirmed(database, settling, LOOPBACK)
    assert later is not None
    assert (later.decisions, later.last_decision) == (2, ids[2])
    assert_sent_once(database, hub, decisions=3)


def test_the_background_rounds_retry_a_failed_round(
    database: Database,
    sharing: tuple[ReviewWorld, Review],
    hub: TaxiiSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    world, review = sharing
    confirm(world, review, 1, start=0)
    hub.fail_next("500")
    background = confirmed_sharing(database, world.settings)
    assert background is not None
    with caplog.at_level(logging.INFO, logger="hashmatch.exchange"):
        background.start()
        try:
            for _ in range(int(WAIT / 0.05)):
                if cursor(database) == last_decision(database):
                    break
                threading.Event().wait(0.05)
        finally:
            background.stop()
    assert cursor(database) == last_decision(database)
    failed = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert failed
    assert "HTTP 500" in failed[0]
    assert not any(part in caplog.text for part in CREDENTIALS.split(":"))
    assert_sent_once(database, hub, decisions=1)
    off = world.settings.model_copy(update={"hub_share_confirmed": False})
    assert confirmed_sharing(database, off) is None
