"""The review queue under concurrency, on both engines: each interleaving
that matters written out deterministically (one transaction paused inside,
the other let in), then a bounded stress run of many reviewers at once.

PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` (a second claimer passes a
locked item by without waiting); SQLite serialises writers (a second claimer
waits for the first to commit).  Either way no item is held or decided twice.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from hashmatch.errors import RevealCapError, ReviewConflictError
from hashmatch.review import Review, Reviewer, Verdict
from hashmatch.review import decisions as decisions_module
from hashmatch.review import items as items_module
from hashmatch.store import Database
from hashmatch.store.review_models import (
    Opinion,
    RevealDay,
    ReviewDecision,
    ReviewerPreference,
    ReviewReveal,
)
from hashmatch.store.workflow import Event, ReportRequest, ReviewItem
from tests.interleaving import PATIENCE, PausedInside, SecondWriter, started
from tests.review_world import ReviewWorld
from tests.test_review import ALICE, BOB, CONFIRM, count, open_world


@pytest.fixture
def opened(database: Database, database_url: str, tmp_path: Path) -> tuple[ReviewWorld, Review]:
    return open_world(database, database_url, tmp_path)


# -- claims ------------------------------------------------------------------------------


def test_a_claim_meets_another_transactions_lock(
    opened: tuple[ReviewWorld, Review], database: Database
) -> None:
    """PostgreSQL: while a second connection holds the first item's row lock
    (``SELECT ... FOR UPDATE``), ``claim_next`` takes the second item without
    waiting.  SQLite: while a second connection holds the write lock, it
    waits, then takes the first."""
    world, review = opened
    first, second = world.queue_photos(2)
    results: dict[str, Any] = {}
    with database.engine.connect() as locker, locker.begin():  # SQLite: BEGIN IMMEDIATE
        if database.dialect == "postgresql":
            locker.execute(
                text("SELECT id FROM review_items WHERE id = :id FOR UPDATE"), {"id": first}
            )
        claimer = started(lambda: review.items.claim_next(ALICE, "default"), "claimer", results)
        if database.dialect == "postgresql":
            claimer.join(PATIENCE)
            assert not claimer.is_alive(), "claim_next waited for the locked row"
            assert results["claimer"]["id"] == second
        else:
            claimer.join(0.2)  # were there no lock, it would finish now
            assert claimer.is_alive(), "claim_next did not wait for the write lock"
    claimer.join(PATIENCE)
    if database.dialect == "postgresql":
        assert review.items.claim_next(BOB, "default")["id"] == first  # type: ignore[index]
    else:
        assert results["claimer"]["id"] == first
        assert review.items.claim_next(BOB, "default")["id"] == second  # type: ignore[index]


def test_a_second_claimer_never_takes_the_item_the_first_is_claiming(
    opened: tuple[ReviewWorld, Review], database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first claimer has picked the first item and not committed.
    PostgreSQL: the second passes it by at once and takes the next; SQLite:
    the second waits for the first's commit, then takes the next."""
    world, review = opened
    first, second = world.queue_photos(2)
    paused = PausedInside(monkeypatch, items_module, "note_activity")
    watcher = SecondWriter(database, monkeypatch)
    results: dict[str, Any] = {}
    one = started(lambda: review.items.claim_next(ALICE, "default"), "first", results)
    assert paused.reached.wait(PATIENCE)
    two = started(lambda: review.items.claim_next(BOB, "default"), "second", results)
    if database.dialect == "postgresql":
        two.join(PATIENCE)
        assert not two.is_alive(), "the second claimer waited for the first"
        assert results["second"]["id"] == second
    else:
        watcher.wait_until_blocked(two)
        assert "second" not in results
    paused.release()
    one.join(PATIENCE)
    two.join(PATIENCE)
    assert results["first"]["id"] == first
    assert results["second"]["id"] == second
    assert results["first"]["claimed_by"] == ALICE.name
    assert results["second"]["claimed_by"] == BOB.name


def test_one_reviewers_first_claims_in_two_queues_at_once_both_succeed(
    opened: tuple[ReviewWorld, Review], database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reviewer's first claims (two tabs, two queues): the first has made the
    reviewer's preferences row and not committed; the second waits for it
    (the row's unique key on PostgreSQL, the write lock on SQLite) and then
    uses that row, rather than inserting it again and failing."""
    world, review = opened
    first, other = world.queue_photos(2)
    with database.transaction() as session:
        session.execute(update(ReviewItem).where(ReviewItem.id == other).values(queue="second"))
    paused = PausedInside(monkeypatch, items_module, "note_activity")
    watcher = SecondWriter(database, monkeypatch)
    results: dict[str, Any] = {}
    one = started(lambda: review.items.claim_next(ALICE, "default"), "first", results)
    assert paused.reached.wait(PATIENCE)
    two = started(lambda: review.items.claim_next(ALICE, "second"), "second", results)
    watcher.wait_until_blocked(two)
    paused.release()
    one.join(PATIENCE)
    two.join(PATIENCE)
    assert results["first"]["id"] == first
    assert results["second"]["id"] == other
    assert count(database, ReviewerPreference) == 1


# -- decisions -----------------------------------------------------------------------------


def decided_events(database: Database) -> int:
    return count(database, Event, Event.type == "review.decided")


def test_two_decisions_on_one_item_at_once_one_wins(
    opened: tuple[ReviewWorld, Review], database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first decider has checked the item is open and not committed; the
    second waits for it (the item's row lock, or SQLite's write lock), then
    finds the item decided."""
    world, review = opened
    (item_id,) = world.queue_photos(1)
    paused = PausedInside(monkeypatch, decisions_module, "check_open_and_free")
    watcher = SecondWriter(database, monkeypatch)
    results: dict[str, Any] = {}
    one = started(lambda: review.decisions.decide(item_id, ALICE, CONFIRM), "first", results)
    assert paused.reached.wait(PATIENCE)
    two = started(
        lambda: review.decisions.decide(item_id, BOB, Verdict("false_positive")),
        "second",
        results,
    )
    watcher.wait_until_blocked(two)
    paused.release()
    one.join(PATIENCE)
    two.join(PATIENCE)
    assert results["first"]["decision"]["decided_by"] == ALICE.name
    assert isinstance(results["second"], ReviewConflictError)
    assert "decided already (confirm by user:alice)" in str(results["second"])
    assert decided_events(database) == 1
    assert count(database, Opinion) == 1
    assert count(database, ReviewDecision) == 1


def test_many_decisions_on_one_item_at_once_exactly_one_wins(
    opened: tuple[ReviewWorld, Review], database: Database
) -> None:
    world, review = opened
    (item_id,) = world.queue_photos(1)
    deciders = 6
    barrier = threading.Barrier(deciders)
    results: dict[str, Any] = {}

    def decide(number: int) -> Any:
        barrier.wait(PATIENCE)
        reviewer = Reviewer(f"user:r{number}", role="reviewer")
        return review.decisions.decide(item_id, reviewer, CONFIRM)

    threads = [started(partial(decide, n), f"r{n}", results) for n in range(deciders)]
    for thread in threads:
        thread.join(PATIENCE)
    won = [name for name, result in results.items() if isinstance(result, dict)]
    lost = [result for result in results.values() if isinstance(result, ReviewConflictError)]
    assert len(won) == 1
    assert len(lost) == deciders - 1
    assert review.items.get(item_id)["decision"]["decided_by"] == f"user:{won[0]}"
    assert decided_events(database) == 1
    assert count(database, ReportRequest, ReportRequest.review_item_id == item_id) == 1


# -- reveals ---------------------------------------------------------------------------------


def test_the_reveal_cap_holds_when_reveals_race(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    cap = 3
    world, review = open_world(database, database_url, tmp_path, review_daily_reveal_cap=cap)
    item_ids = world.queue_photos(2 * cap)
    barrier = threading.Barrier(len(item_ids))
    results: dict[str, Any] = {}

    def reveal(item_id: int) -> int:
        barrier.wait(PATIENCE)
        return review.reveals.grant(ALICE, item_id, kind="preview", seconds=4)

    threads = [started(partial(reveal, i), f"reveal-{i}", results) for i in item_ids]
    for thread in threads:
        thread.join(PATIENCE)
    granted = sorted(result for result in results.values() if isinstance(result, int))
    refused = [result for result in results.values() if isinstance(result, RevealCapError)]
    assert granted == list(range(cap))  # reveals left after each: 2, 1, 0
    assert len(refused) == cap
    with database.reading() as session:
        assert session.scalar(select(RevealDay.reveals)) == cap
    assert count(database, ReviewReveal) == cap


# -- stress ----------------------------------------------------------------------------------

FINAL = ("confirm", "false_positive", "escalate")


def test_many_reviewers_work_one_queue_and_each_item_is_decided_once(
    opened: tuple[ReviewWorld, Review], database: Database
) -> None:
    world, review = opened
    item_ids = set(world.queue_photos(60))
    workers = 8
    held: dict[int, str] = {}  # item -> the worker whose claim on it is live
    guard = threading.Lock()
    problems: list[str] = []
    finals: Counter[str] = Counter()
    barrier = threading.Barrier(workers)

    def work(number: int) -> None:
        reviewer = Reviewer(f"user:w{number}", role="reviewer")
        rng = random.Random(number)
        barrier.wait(PATIENCE)
        while True:
            item = review.items.claim_next(reviewer, "default")
            if item is None:
                return
            item_id = item["id"]
            with guard:
                if item_id in held:
                    problems.append(f"{item_id} claimed by {held[item_id]} and {reviewer.name}")
                held[item_id] = reviewer.name
            decision = rng.choice(["skip", *FINAL, "confirm", "false_positive"])
            verdict = {
                "skip": Verdict("skip"),
                "confirm": CONFIRM,
                "false_positive": Verdict("false_positive"),
                "escalate": Verdict("escalate", queue="senior"),
            }[decision]
            with guard:  # before the commit that gives the claim up
                del held[item_id]
            try:
                review.decisions.decide(item_id, reviewer, verdict)
            except Exception as error:  # noqa: BLE001 - every failure is a problem here
                problems.append(f"{reviewer.name} on {item_id}: {error!r}")
                return
            if decision != "skip":
                with guard:
                    finals[decision] += 1

    threads = [threading.Thread(target=work, args=(n,), name=f"w{n}") for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE * 2)
    assert not any(thread.is_alive() for thread in threads)
    assert problems == []
    # A worker stops when nothing is left for it; an item skipped by the
    # last workers still working waits for someone new.
    sweeper = Reviewer("user:sweeper", role="reviewer")
    while (item := review.items.claim_next(sweeper, "default")) is not None:
        review.decisions.decide(item["id"], sweeper, CONFIRM)
        finals["confirm"] += 1
    assert sum(finals.values()) == len(item_ids)
    with database.reading() as session:
        statuses = dict(
            session.execute(
                select(ReviewItem.id, ReviewItem.status).where(ReviewItem.id.in_(item_ids))
            ).all()
        )
        history = Counter(
            session.execute(
                select(ReviewDecision.item_id).where(ReviewDecision.decision.in_(FINAL))
            ).scalars()
        )
    assert set(statuses.values()) == {"closed"}
    assert history == Counter(dict.fromkeys(item_ids, 1))  # each decided exactly once
    assert decided_events(database) == len(item_ids)
    assert count(database, Opinion, Opinion.opinion == "positive") == finals["confirm"]
    assert count(database, Opinion, Opinion.opinion == "negative") == finals["false_positive"]
    assert (
        count(database, ReportRequest, ReportRequest.review_item_id.is_not(None))
        == (finals["confirm"])
    )
    assert count(database, ReviewItem, ReviewItem.queue == "senior") == finals["escalate"]
