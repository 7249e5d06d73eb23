"""Opinions sent back to exchanges, on SQLite and PostgreSQL: leased, sent a
batch at a time, settled once; retried, failed, refused, withdrawn; and
never sent twice by two senders unless a lease lapsed.

The exchange here is of a scripted type (the sender's side of the boundary
is what is tested; tests/test_exchange_opinions_*.py test each real
source against its service's simulator, and the end-to-end test at the
bottom goes from a review decision to a simulator).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select, update

from hashmatch.actions.outbox import Retries
from hashmatch.banks import Banks
from hashmatch.exchange import ExchangeInfo, Exchanges, registry, statuses
from hashmatch.exchange.base import Checkpoint, ExchangeSource, OpinionToSend, Page, Sent
from hashmatch.exchange.opinions import OpinionSender, list_opinions
from hashmatch.exchange.runner import Fetcher
from hashmatch.exchange.simulators import NcmecEntry, NcmecSimulator
from hashmatch.hashing import HashRequest, hash_file
from hashmatch.media.download import UrlPolicy
from hashmatch.review import Verdict
from hashmatch.store import Database
from hashmatch.store.models import AuditEntry, utcnow
from hashmatch.store.review_models import Opinion
from hashmatch.store.workflow import ReviewItem
from tests.interleaving import PATIENCE, PausedInside, SecondWriter, run_together, started
from tests.review_world import PHOTO
from tests.test_review import ALICE, CONFIRM, open_world

RETRIES = Retries(max_attempts=3, backoff=30.0, backoff_max=60.0)


class ScriptedSource(ExchangeSource):
    """An exchange type whose answers to opinions the test scripts."""

    name = "scripted"
    description = "Test only."
    takes_opinions = True
    opinion_batch = 3
    #: Every call's opinion ids, in order.
    calls: ClassVar[list[list[int]]] = []
    #: What each opinion gets (default: sent).
    answer: ClassVar[Callable[[OpinionToSend], Sent]] = staticmethod(
        lambda opinion: Sent(opinion.id)
    )

    def fetch_page(self, checkpoint: Checkpoint) -> Page:
        return Page([], checkpoint, more=False)

    def send_opinions(self, opinions: Sequence[OpinionToSend]) -> list[Sent]:
        ScriptedSource.calls.append([opinion.id for opinion in opinions])
        return [ScriptedSource.answer(opinion) for opinion in opinions]


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> type[ScriptedSource]:
    installed = registry.source_types()
    monkeypatch.setattr(registry, "source_types", lambda: {**installed, "scripted": ScriptedSource})
    ScriptedSource.calls = []
    ScriptedSource.answer = staticmethod(lambda opinion: Sent(opinion.id))
    return ScriptedSource


@pytest.fixture
def item_id(database: Database, database_url: str, tmp_path: Path) -> int:
    """A review item for the opinions to belong to."""
    world, _ = open_world(database, database_url, tmp_path)
    [item] = world.queue_photos(1)
    return item


def sender(database: Database, name: str, **kwargs: Any) -> OpinionSender:
    return OpinionSender(database, UrlPolicy(allow_private=True), RETRIES, name=name, **kwargs)


def add_opinions(
    database: Database, item_id: int, count: int, *, exchange: str = "sim", **values: Any
) -> list[int]:
    rows = [
        Opinion(
            item_id=item_id,
            bank="known",
            content_id=number + 1,
            external_id=f"ext-{number}",
            source=f"exchange:{exchange}",
            opinion="positive" if number % 2 == 0 else "negative",
            signal_types=["pdq"],
            status="pending",
            **values,
        )
        for number in range(count)
    ]
    with database.transaction() as session:
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def opinion_rows(database: Database) -> dict[int, Opinion]:
    with database.reading() as session:
        rows = session.scalars(select(Opinion)).all()
        session.expunge_all()
    return {row.id: row for row in rows}


def make_exchange(
    database: Database, name: str = "sim", kind: str = "scripted", **options: str
) -> ExchangeInfo:
    return Exchanges(database).create(name, kind, bank="known", options=options)


def test_a_round_sends_every_due_opinion_in_batches_and_settles_it(
    database: Database, item_id: int, scripted: type[ScriptedSource]
) -> None:
    make_exchange(database)
    ids = add_opinions(database, item_id, 7)
    counts = sender(database, "a").run_once()
    assert counts == {"sim": {"sent": 7, "retrying": 0, "failed": 0, "not_sent": 0}}
    assert [len(call) for call in scripted.calls] == [3, 3, 1]
    assert sorted(i for call in scripted.calls for i in call) == ids
    rows = opinion_rows(database)
    assert {row.status for row in rows.values()} == {"sent"}
    assert all(row.sent_at is not None and row.attempts == 1 for row in rows.values())
    assert all(row.leased_by is None for row in rows.values())
    assert sender(database, "a").run_once() == {}  # nothing due: sent once
    [status] = statuses(database, "sim")
    assert status.to_json()["opinions"] == {
        "pending": 0,
        "sent": 7,
        "failed": 0,
        "not_sent": 0,
        "withdrawn": 0,
        "last_error": None,
    }
    with database.reading() as session:
        audited = session.scalars(
            select(AuditEntry.after).where(AuditEntry.action == "exchange.opinions")
        ).all()
    assert audited == [{"sent": 7, "retrying": 0, "failed": 0, "not_sent": 0}]


def test_what_the_source_gets_is_the_opinion_as_recorded(
    database: Database, item_id: int, scripted: type[ScriptedSource]
) -> None:
    make_exchange(database)
    seen: list[OpinionToSend] = []

    def remember(opinion: OpinionToSend) -> Sent:
        seen.append(opinion)
        return Sent(opinion.id)

    scripted.answer = staticmethod(remember)
    [first, second] = add_opinions(database, item_id, 2)
    sender(database, "a").run_once()
    assert seen == [
        OpinionToSend(first, "ext-0", "positive", ("pdq",)),
        OpinionToSend(second, "ext-1", "negative", ("pdq",)),
    ]


def test_a_failure_is_retried_after_a_wait_then_fails_for_good(
    database: Database, item_id: int, scripted: type[ScriptedSource]
) -> None:
    make_exchange(database)
    scripted.answer = staticmethod(lambda opinion: Sent(opinion.id, "HTTP 503"))
    [opinion] = add_opinions(database, item_id, 1)
    a = sender(database, "a")
    before = utcnow()
    assert a.run_once()["sim"]["retrying"] == 1
    row = opinion_rows(database)[opinion]
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 503")
    wait = (row.next_attempt_at.replace(tzinfo=before.tzinfo) - before).total_seconds()
    assert RETRIES.backoff / 2 - 1 <= wait <= RETRIES.backoff + 1
    assert a.run_once() == {}  # waiting: not due
    for attempt in (2, 3):
        with database.transaction() as session:
            session.execute(update(Opinion).values(next_attempt_at=utcnow()))
        outcome = "retrying" if attempt < RETRIES.max_attempts else "failed"
        assert a.run_once()["sim"][outcome] == 1
    row = opinion_rows(database)[opinion]
    assert (row.status, row.attempts) == ("failed", 3)
    [status] = statuses(database, "sim")
    assert status.opinions["failed"] == 1
    assert status.opinions["last_error"] == "HTTP 503"
    assert a.retry_failed("sim") == 1
    scripted.answer = staticmethod(lambda opinion: Sent(opinion.id))
    assert a.run_once()["sim"]["sent"] == 1
    assert opinion_rows(database)[opinion].status == "sent"


def test_an_opinion_the_exchange_refuses_fails_at_once(
    database: Database, item_id: int, scripted: type[ScriptedSource]
) -> None:
    make_exchange(database)
    scripted.answer = staticmethod(lambda o: Sent(o.id, "HTTP 400: unknown entry", retry=False))
    [opinion] = add_opinions(database, item_id, 1)
    assert sender(database, "a").run_once()["sim"]["failed"] == 1
    row = opinion_rows(database)[opinion]
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "HTTP 400: unknown entry")


def test_a_source_that_raises_or_forgets_an_opinion_has_it_retried(
    database: Database, item_id: int, scripted: type[ScriptedSource]
) -> None:
    make_exchange(database)

    def answer(opinion: OpinionToSend) -> Sent:
        if opinion.external_id == "ext-0":
            raise RuntimeError("a bug in the client")
        return Sent(opinion.id)

    scripted.answer = staticmethod(answer)
    add_opinions(database, item_id, 2)
    counts = sender(database, "a").run_once()["sim"]
    assert (counts["retrying"], counts["sent"]) == (2, 0)  # the whole batch failed with it
    assert {row.last_error for row in opinion_rows(database).values()} == {
        "RuntimeError: a bug in the client"
    }
    with database.transaction() as session:
        session.execute(update(Opinion).values(next_attempt_at=utcnow()))
    scripted.answer = staticmethod(lambda opinion: Sent(999_999))  # answers for another
    assert sender(database, "a").run_once()["sim"]["retrying"] == 2
    assert {row.last_error for row in opinion_rows(database).values()} == {
        "the exchange's client gave no answer for it"
    }


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("deleted", "exchange 'sim' no longer exists"),
        ("file", "exchange type 'file' takes no opinions"),
        ("off", "sending opinions is off for this exchange (option send_opinions=false)"),
    ],
)
def test_opinions_an_exchange_will_not_take_are_not_sent_with_why(
    database: Database,
    item_id: int,
    scripted: type[ScriptedSource],
    setup: str,
    reason: str,
    tmp_path: Path,
) -> None:
    if setup == "file":
        listing = tmp_path / "list.jsonl"
        listing.write_text("")
        make_exchange(database, kind="file", path=str(listing))
    elif setup == "off":
        make_exchange(database, send_opinions="false")
    add_opinions(database, item_id, 2)
    assert sender(database, "a").run_once()["sim"]["not_sent"] == 2
    assert scripted.calls == []
    rows = opinion_rows(database).values()
    assert {(row.status, row.last_error, row.attempts) for row in rows} == {("not_sent", reason, 0)}


def test_send_opinions_takes_only_true_or_false(
    database: Database, item_id: int, scripted: type[ScriptedSource]
) -> None:
    with pytest.raises(Exception, match="send_opinions must be true or false"):
        make_exchange(database, send_opinions="maybe")
    make_exchange(database)
    Exchanges(database).update("sim", options={"send_opinions": "false"})
    add_opinions(database, item_id, 1)
    assert sender(database, "a").run_once()["sim"]["not_sent"] == 1


def test_an_opinion_without_an_external_id_fails_naming_why(
    database: Database, item_id: int, scripted: type[ScriptedSource]
) -> None:
    make_exchange(database)
    [opinion] = add_opinions(database, item_id, 1)
    with database.transaction() as session:
        session.execute(update(Opinion).values(external_id=None))
    assert sender(database, "a").run_once()["sim"]["failed"] == 1
    assert opinion_rows(database)[opinion].last_error == (
        "the content has no external id to name it by"
    )


def test_unreadable_credentials_keep_the_opinions_for_later(
    database: Database, item_id: int, scripted: type[ScriptedSource]
) -> None:
    Exchanges(database).create("sim", "scripted", bank="known", credentials_env="NOT_SET_HERE")
    [opinion] = add_opinions(database, item_id, 1)
    assert sender(database, "a").run_once()["sim"]["retrying"] == 1
    assert "NOT_SET_HERE" in (opinion_rows(database)[opinion].last_error or "")


# -- two senders -------------------------------------------------------------------


def test_a_second_sender_never_claims_what_the_first_holds(
    database: Database, item_id: int, scripted: type[ScriptedSource]
) -> None:
    make_exchange(database)
    ids = add_opinions(database, item_id, 5)
    first = sender(database, "a").claim(limit=3)
    second = sender(database, "b").claim(limit=10)
    assert [c.opinion.id for c in first] == ids[:3]
    assert [c.opinion.id for c in second] == ids[3:]
    assert sender(database, "c").claim(limit=10) == []


def test_a_claim_in_progress_is_passed_by_or_waited_for(
    database: Database,
    item_id: int,
    scripted: type[ScriptedSource],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first sender has selected its rows and not committed its lease.
    PostgreSQL: the second skips the locked rows at once and takes the next;
    SQLite: the second waits for the first's commit, then takes the rest."""
    from hashmatch.exchange import opinions as opinions_module

    make_exchange(database)
    ids = add_opinions(database, item_id, 4)
    paused = PausedInside(monkeypatch, opinions_module, "update")
    watcher = SecondWriter(database, monkeypatch)
    results: dict[str, Any] = {}
    one = started(lambda: sender(database, "a").claim(limit=2), "first", results)
    assert paused.reached.wait(PATIENCE)
    two = started(lambda: sender(database, "b").claim(limit=10), "second", results)
    if database.dialect == "postgresql":
        two.join(PATIENCE)
        assert not two.is_alive(), "the second sender waited for the first"
    else:
        watcher.wait_until_blocked(two)
        assert "second" not in results
    paused.release()
    one.join(PATIENCE)
    two.join(PATIENCE)
    assert [c.opinion.id for c in results["first"]] == ids[:2]
    assert [c.opinion.id for c in results["second"]] == ids[2:]


def test_a_lapsed_lease_is_claimed_again_and_the_late_sender_writes_nothing(
    database: Database, item_id: int, scripted: type[ScriptedSource]
) -> None:
    """At least once: the first sender's lease lapses mid-send; the second
    sends the opinion too and settles it; the first's settle is refused."""
    make_exchange(database)
    [opinion] = add_opinions(database, item_id, 1)
    slow = sender(database, "slow", lease=timedelta(seconds=-1))  # lapsed at once
    claimed = slow.claim(limit=10)
    assert sender(database, "quick").run_once()["sim"]["sent"] == 1
    late = slow.settle("sim", claimed, [slow._after(claimed[0], Sent(opinion, "HTTP 503"))])
    assert late["retrying"] == 0  # not its row any more
    row = opinion_rows(database)[opinion]
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)


def test_an_opinion_withdrawn_in_flight_is_sent_if_the_call_succeeded(
    database: Database, item_id: int, scripted: type[ScriptedSource]
) -> None:
    make_exchange(database)
    [sent_one, failed_one] = add_opinions(database, item_id, 2)
    a = sender(database, "a")
    claimed = a.claim(limit=10)
    with database.transaction() as session:  # the decision is reopened meanwhile
        session.execute(update(Opinion).values(status="withdrawn"))
    a.settle(
        "sim",
        claimed,
        [
            a._after(claimed[0], Sent(sent_one)),
            a._after(claimed[1], Sent(failed_one, "HTTP 400", retry=False)),
        ],
    )
    rows = opinion_rows(database)
    assert rows[sent_one].status == "sent"  # it was: the exchange has it
    assert rows[failed_one].status == "withdrawn"  # it was not, and need not be
    assert a.run_once() == {}


def test_senders_racing_send_each_opinion_once(
    database: Database, item_id: int, scripted: type[ScriptedSource]
) -> None:
    """Bounded stress: 4 senders, 120 opinions, leases that never lapse:
    every opinion sent exactly once, every row settled as sent."""
    make_exchange(database)
    ids = add_opinions(database, item_id, 120)
    lock = threading.Lock()
    sends: Counter[int] = Counter()

    def answer(opinion: OpinionToSend) -> Sent:
        with lock:
            sends[opinion.id] += 1
        return Sent(opinion.id)

    scripted.answer = staticmethod(answer)

    def work(name: str) -> None:
        one = sender(database, name)
        while one.run_once(limit=7):
            pass

    run_together(work, [f"s{n}" for n in range(4)])
    assert sends == Counter(dict.fromkeys(ids, 1))
    assert {row.status for row in opinion_rows(database).values()} == {"sent"}


# -- reading -----------------------------------------------------------------------


def test_the_opinions_of_an_exchange_are_listed_newest_first(
    database: Database, item_id: int, scripted: type[ScriptedSource]
) -> None:
    make_exchange(database)
    make_exchange(database, "other")
    ids = add_opinions(database, item_id, 3)
    add_opinions(database, item_id, 2, exchange="other")
    listed = list_opinions(database, "sim")
    assert [row["id"] for row in listed] == ids[::-1]
    assert listed[-1]["review_item_id"] == item_id
    assert listed[-1]["signal_types"] == ["pdq"]
    assert list_opinions(database, "sim", status="sent") == []
    with pytest.raises(Exception, match="status must be one of"):
        list_opinions(database, "sim", status="bogus")
    with database.reading() as session:
        assert session.scalar(select(ReviewItem.id)) == item_id


# -- end to end ----------------------------------------------------------------------


def test_reviewers_verdicts_reach_ncmec_as_feedback(
    database: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bank photo fetched from the NCMEC simulator; uploads of it
    reviewed: a confirmation becomes affirmative feedback on the fingerprint
    that matched, a false positive negative feedback with NCMEC's one reason;
    the exchange's status counts them, and nothing is sent twice."""
    world, review = open_world(database, database_url, tmp_path)
    photo = hash_file(PHOTO, HashRequest()).signals
    banks = Banks(database)
    banks.remove_content("known", [content_id for content_id, _ in banks.content_ids("known")])
    monkeypatch.setenv("TEST_NCMEC", "user:secret")
    with NcmecSimulator("user:secret") as ncmec:
        ncmec.entries = [
            NcmecEntry("e1", member_id=7, fingerprints={"PDQ": photo["pdq"], "MD5": photo["md5"]})
        ]
        Exchanges(database).create(
            "ncmec",
            "ncmec",
            bank="known",
            options={"base_url": ncmec.url},
            credentials_env="TEST_NCMEC",
        )
        policy = UrlPolicy(allow_private=True)
        assert Fetcher(database, policy, retry_wait=0).fetch("ncmec").counts["added"] == 1
        world.matcher.refresh()  # as serve follows the change log
        confirmed, rejected = world.queue_photos(2)
        review.decisions.decide(confirmed, ALICE, CONFIRM)
        review.decisions.decide(rejected, ALICE, Verdict("false_positive"))
        sending = OpinionSender(database, policy, RETRIES, name="e2e")
        assert sending.run_once() == {
            "ncmec": {"sent": 2, "retrying": 0, "failed": 0, "not_sent": 0}
        }
        assert sending.run_once() == {}
        got = sorted(
            (f.esp_id, f.entry_id, f.fingerprint_type, f.kind, f.reason_guids)
            for f in ncmec.feedback
        )
    assert got == [
        ("7", "e1", "PDQ", "affirmative", ()),
        ("7", "e1", "PDQ", "negative", (NcmecSimulator.DEFAULT_REASON[0],)),
    ]
    [status] = statuses(database, "ncmec")
    assert (status.opinions["sent"], status.opinions["pending"]) == (2, 0)
