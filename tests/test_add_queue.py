"""Group commit: adds from many threads go in together, each caller gets its
own answer (id, None for a duplicate, or its own error)."""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from hashmatch.banks import Banks
from hashmatch.banks.add_queue import AddQueue
from hashmatch.errors import UnknownBankError
from hashmatch.hashlists import Entry
from hashmatch.matching import Matcher
from hashmatch.store import Database


def pdq(number: int) -> str:
    return f"{random.Random(number).getrandbits(256):064x}"


@pytest.fixture
def banks(database: Database) -> Banks:
    banks = Banks(database)
    banks.create("a")
    banks.create("b")
    return banks


def test_adds_waiting_for_a_commit_go_in_together(
    banks: Banks, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first add's transaction is held open; five more arrive meanwhile;
    they are committed as one batch, and each caller gets its own answer."""
    calls: list[int] = []
    first_inside, release = threading.Event(), threading.Event()
    original = Banks.add_many

    def held_add_many(self: Banks, items: Sequence[tuple[str, Entry, str | None]]) -> Any:
        calls.append(len(items))
        if len(calls) == 1:
            first_inside.set()
            release.wait(30)
        return original(self, items)

    monkeypatch.setattr(Banks, "add_many", held_add_many)
    queue = AddQueue(banks)
    results: dict[str, Any] = {}

    def add(caller: str, number: int, bank: str) -> None:
        try:
            results[caller] = queue.add(bank, Entry({"pdq": pdq(number)}), source="test")
        except UnknownBankError as error:
            results[caller] = error

    first = threading.Thread(target=add, args=("first", 0, "a"))
    first.start()
    assert first_inside.wait(30)
    # Five more: two banks, one duplicate of the first, one unknown bank.
    later = [("1a", 1, "a"), ("2b", 2, "b"), ("3b", 3, "b"), ("again", 0, "a"), ("x", 4, "nope")]
    threads = [threading.Thread(target=add, args=item) for item in later]
    for thread in threads:
        thread.start()
    while len(queue._pending) < len(later):  # all five are waiting
        threading.Event().wait(0.01)
    release.set()
    for thread in [first, *threads]:
        thread.join(30)
    assert calls[:2] == [1, 5]  # the five went in one batch (then alone, for the error)
    assert isinstance(results["x"], UnknownBankError)
    assert results["again"] is None  # the bank has it: the first caller added it
    ids = [results[caller] for caller in ("first", "1a", "2b", "3b")]
    assert None not in ids
    assert len(set(ids)) == 4
    matcher = Matcher(banks.database)
    for number, bank in [(0, "a"), (1, "a"), (2, "b"), (3, "b")]:
        assert [m.bank for m in matcher.match_hashes({"pdq": [pdq(number)]})] == [bank]


def test_many_threads_adding_at_once(banks: Banks) -> None:
    """Bounded stress: 8 threads, 400 adds with repeats, two banks."""
    queue = AddQueue(banks, max_batch=16)
    answers: list[tuple[str, int, int | None]] = []
    lock = threading.Lock()

    def add(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(50):
            bank, number = rng.choice("ab"), rng.randrange(120)
            content = queue.add(bank, Entry({"pdq": pdq(number)}))
            with lock:
                answers.append((bank, number, content))

    threads = [threading.Thread(target=add, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(answers) == 400
    added = [(bank, number) for bank, number, content in answers if content is not None]
    assert len(added) == len(set(added))  # each (bank, hash) added once, by one caller
    assert {(b, n) for b, n, _ in answers} == set(added)
    ids = [content for _, _, content in answers if content is not None]
    assert len(ids) == len(set(ids))
    matcher = Matcher(banks.database)
    for bank, number in added:
        assert bank in [m.bank for m in matcher.match_hashes({"pdq": [pdq(number)]})]
    assert banks.get("a").contents + banks.get("b").contents == len(added)
