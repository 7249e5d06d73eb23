"""Fetching exchanges into banks, on SQLite and PostgreSQL: idempotent,
checkpointed, bounded, and clear about what went wrong."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from hashmatch import audit
from hashmatch.banks import Banks
from hashmatch.errors import ExchangeBusyError, ExchangeError
from hashmatch.exchange import Exchanges, Fetcher, Scheduler, statuses
from hashmatch.exchange.lease import Lease
from hashmatch.exchange.ncmec import NcmecSource
from hashmatch.exchange.simulators import NcmecEntry, NcmecSimulator, generated_hashes
from hashmatch.matching import Matcher
from hashmatch.media.download import UrlPolicy
from hashmatch.store import Bank, Content, Database
from hashmatch.store.changelog import latest_seq
from hashmatch.store.exchange_models import ExchangeState

CREDENTIALS = "ncmec-user:sekrit-password"
ENV = "TEST_NCMEC_CREDENTIALS"
PDQ_A = "a" * 64
PDQ_B = "b" * 16 + "0" * 48


@pytest.fixture
def ncmec(monkeypatch: pytest.MonkeyPatch) -> Iterator[NcmecSimulator]:
    monkeypatch.setenv(ENV, CREDENTIALS)
    with NcmecSimulator(CREDENTIALS, page_size=2) as simulator:
        yield simulator


def add_exchange(database: Database, simulator: NcmecSimulator, **options: str) -> None:
    Banks(database).create("ncmec-bank")
    Exchanges(database).create(
        "ncmec",
        "ncmec",
        bank="ncmec-bank",
        options={"base_url": simulator.url, **options},
        credentials_env=ENV,
    )


def fetcher(database: Database) -> Fetcher:
    return Fetcher(database, UrlPolicy(allow_private=True), retry_wait=0)


def contents(database: Database) -> list[tuple[str | None, list[str]]]:
    return sorted(
        (entry.external_id, sorted(entry.signals.values()))
        for entry in Banks(database).export("ncmec-bank")
    )


def test_a_fetch_fills_the_bank_and_a_refetch_changes_nothing(
    database: Database, ncmec: NcmecSimulator
) -> None:
    ncmec.generated = 5
    add_exchange(database, ncmec)
    first = fetcher(database).fetch("ncmec")
    assert first.succeeded
    assert first.up_to_date
    assert first.counts["added"] == 5
    assert first.counts["pages"] == 3
    before = contents(database)
    with database.reading() as session:
        seq = latest_seq(session)
    with database.transaction() as session:  # fetch everything again, from the start
        session.execute(ExchangeState.__table__.update().values(checkpoint=None))
    again = fetcher(database).fetch("ncmec")
    assert again.counts["unchanged"] == 5
    assert again.counts["added"] == 0
    assert contents(database) == before
    with database.reading() as session:
        assert latest_seq(session) == seq  # nothing for the indexes to do


def test_updates_and_deletions_are_applied(database: Database, ncmec: NcmecSimulator) -> None:
    ncmec.entries = [
        NcmecEntry("keep", classification="A1", fingerprints={"PDQ": PDQ_A}),
        NcmecEntry("gone", fingerprints={"MD5": "1" * 32}),
        NcmecEntry("rehash", fingerprints={"MD5": "2" * 32}),
    ]
    add_exchange(database, ncmec)
    assert fetcher(database).fetch("ncmec").counts["added"] == 3
    later = ncmec.entries[0].timestamp + 10
    ncmec.entries += [
        NcmecEntry("keep", classification="B1", fingerprints={"PDQ": PDQ_A}, timestamp=later),
        NcmecEntry("gone", deleted=True, timestamp=later),
        NcmecEntry("rehash", fingerprints={"MD5": "3" * 32}, timestamp=later),
    ]
    with database.transaction() as session:  # the first window ended before these
        session.execute(ExchangeState.__table__.update().values(checkpoint=None))
    result = fetcher(database).fetch("ncmec")
    assert result.counts["removed"] == 1
    assert contents(database) == [("1-keep", [PDQ_A]), ("1-rehash", ["3" * 32])]
    [kept] = [
        entry for entry in Banks(database).export("ncmec-bank") if entry.external_id == "1-keep"
    ]
    assert kept.labels == ["B1"]
    assert kept.source_metadata["ncmec"]["classification"] == "B1"


def test_fetched_hashes_match_with_their_source_metadata(
    database: Database, ncmec: NcmecSimulator
) -> None:
    ncmec.entries = [
        NcmecEntry("e1", member_id=9, classification="A2", fingerprints={"PDQ": PDQ_A})
    ]
    add_exchange(database, ncmec)
    matcher = Matcher(database)
    fetcher(database).fetch("ncmec")
    matcher.refresh()
    [match] = matcher.match_hashes({"pdq": [PDQ_A]})
    assert match.external_id == "9-e1"
    assert match.source == "exchange:ncmec"
    assert match.source_metadata["ncmec"]["member_id"] == 9
    assert match.content_labels == ["A2"]


def test_malformed_records_are_counted_sampled_and_skipped(
    database: Database, ncmec: NcmecSimulator
) -> None:
    ncmec.entries = [
        NcmecEntry("ok", fingerprints={"PDQ": PDQ_A}),
        NcmecEntry("bad", fingerprints={"PDQ": "xyz"}),
        NcmecEntry("sha1-only", fingerprints={"SHA1": "c" * 40}),
    ]
    add_exchange(database, ncmec)
    result = fetcher(database).fetch("ncmec")
    assert result.succeeded
    assert result.counts["added"] == 1
    assert result.counts["malformed"] == 2
    [status] = statuses(database, "ncmec")
    assert len(status.malformed_samples) == 2
    assert "xyz" in status.malformed_samples[0]["sample"]
    assert "no hash" in status.malformed_samples[1]["reason"]


@pytest.mark.parametrize("fault", ["500", "malformed", "stall"])
def test_a_failing_page_is_asked_for_again(
    database: Database, ncmec: NcmecSimulator, fault: str
) -> None:
    ncmec.generated = 3
    add_exchange(database, ncmec, page_timeout="0.5")
    ncmec.fail_next(fault)
    result = fetcher(database).fetch("ncmec")
    assert result.succeeded, result.error
    assert result.counts["added"] == 3


def test_a_page_failing_every_try_fails_the_run_and_keeps_the_checkpoint(
    database: Database, ncmec: NcmecSimulator
) -> None:
    ncmec.generated = 6
    add_exchange(database, ncmec, max_records="2", retries="2")
    assert fetcher(database).fetch("ncmec").stopped == "max_records"
    # No page asked for ahead past the bound: a request outliving the run
    # would take the faults meant for the next one.
    assert len(ncmec.requests) == 1
    [before] = statuses(database, "ncmec")
    ncmec.fail_next("malformed", "malformed")
    failed = fetcher(database).fetch("ncmec")
    assert not failed.succeeded
    assert failed.error is not None
    assert "after 2 tries" in failed.error
    [after] = statuses(database, "ncmec")
    assert after.checkpoint == before.checkpoint
    assert not after.succeeded
    assert after.error == failed.error
    assert len(contents(database)) == 2
    Exchanges(database).update("ncmec", options={"max_records": "100"})
    assert fetcher(database).fetch("ncmec").succeeded
    assert [eid for eid, _ in contents(database)] == sorted(f"1-{i}" for i in range(6))


def test_expired_credentials_fail_at_once_and_say_so(
    database: Database, ncmec: NcmecSimulator
) -> None:
    ncmec.generated = 3
    ncmec.expired = True
    add_exchange(database, ncmec)
    result = fetcher(database).fetch("ncmec")
    assert not result.succeeded
    assert result.error is not None
    assert "rejected the credentials (HTTP 401)" in result.error
    assert len(ncmec.requests) == 1  # not retried
    [status] = statuses(database, "ncmec")
    assert status.error == result.error
    with database.reading() as session:
        logged = [entry.after for entry in audit.find(session, action="exchange.fetch")]
    shown = repr((status.to_json(), logged, Exchanges(database).get("ncmec").to_json()))
    for secret in ("sekrit-password", "ncmec-user:sekrit-password"):
        assert secret not in shown


def test_unset_credentials_are_named_not_fetched(
    database: Database, ncmec: NcmecSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_exchange(database, ncmec)
    monkeypatch.delenv(ENV)
    result = fetcher(database).fetch("ncmec")
    assert not result.succeeded
    assert result.error is not None
    assert ENV in result.error
    assert ncmec.requests == []


def test_a_run_is_bounded_and_the_next_goes_on(database: Database, ncmec: NcmecSimulator) -> None:
    ncmec.generated = 5
    add_exchange(database, ncmec, max_records="2")
    first = fetcher(database).fetch("ncmec")
    assert (first.stopped, first.up_to_date, first.counts["added"]) == ("max_records", False, 2)
    second = fetcher(database).fetch("ncmec")
    third = fetcher(database).fetch("ncmec")
    assert second.counts["added"] == 2
    assert third.counts["added"] == 1
    assert third.up_to_date
    assert len(contents(database)) == 5


def test_each_run_is_one_audit_entry(database: Database, ncmec: NcmecSimulator) -> None:
    ncmec.generated = 5
    add_exchange(database, ncmec)
    fetcher(database).fetch("ncmec", actor=audit.SYSTEM)
    with database.reading() as session:
        [entry] = audit.find(session, action="exchange.fetch")
        created = audit.find(session, action="exchange.create")
    assert entry.actor == "system"
    assert entry.target == "exchange:ncmec"
    assert entry.after is not None
    assert entry.after["counts"]["added"] == 5
    assert len(created) == 1


# -- the lease -------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def write_as(database: Database, lease: Lease) -> None:
    """A page's transaction: content, then the lease's renewal."""
    with database.transaction() as session:
        session.add(Content(bank_id=int(session.scalar(select(Bank.id)) or 0)))
        session.flush()
        lease.renew(session)


def test_two_fetchers_take_turns_and_a_lapsed_holder_writes_nothing(
    database: Database, ncmec: NcmecSimulator
) -> None:
    add_exchange(database, ncmec)
    exchange_id = Exchanges(database).get("ncmec").id
    clock = Clock()
    first = Lease(database, exchange_id, "ncmec", holder="first", seconds=60, clock=clock)
    second = Lease(database, exchange_id, "ncmec", holder="second", seconds=60, clock=clock)
    first.take()
    with pytest.raises(
        ExchangeBusyError, match=r"already fetching \(by first until 2026-11-26T12:01"
    ):
        second.take()
    with database.transaction() as session:
        first.renew(session)  # still its own
    clock.now += timedelta(seconds=61)  # first stalls past its lease
    second.take()
    with pytest.raises(ExchangeError, match="lost its lease"):
        write_as(database, first)
    with database.reading() as session:
        assert session.scalar(select(func.count()).select_from(Content)) == 0
    with pytest.raises(ExchangeBusyError, match="by second"):
        first.take()


def test_a_fetch_of_a_leased_exchange_is_refused(database: Database, ncmec: NcmecSimulator) -> None:
    ncmec.generated = 2
    add_exchange(database, ncmec)
    Lease(database, Exchanges(database).get("ncmec").id, "ncmec", holder="elsewhere").take()
    with pytest.raises(ExchangeBusyError, match="by elsewhere"):
        fetcher(database).fetch("ncmec")
    assert ncmec.requests == []


def test_a_killed_fetchers_lease_lapses(database: Database, ncmec: NcmecSimulator) -> None:
    ncmec.generated = 2
    add_exchange(database, ncmec)
    past = Clock()
    past.now = datetime.now(UTC) - timedelta(hours=1)
    Lease(database, Exchanges(database).get("ncmec").id, "ncmec", holder="dead", clock=past).take()
    assert fetcher(database).fetch("ncmec").counts["added"] == 2


def test_generated_hashes_are_stable() -> None:
    assert generated_hashes("s", 1) == generated_hashes("s", 1) != generated_hashes("s", 2)


# -- scheduling in serve ---------------------------------------------------------


def test_the_scheduler_fetches_what_is_due_and_skips_the_busy(
    database: Database, ncmec: NcmecSimulator
) -> None:
    ncmec.generated = 2
    add_exchange(database, ncmec)
    Banks(database).create("other-bank")
    Exchanges(database).create(
        "idle", "file", bank="other-bank", options={"path": "/nonexistent"}, enabled=False
    )
    scheduler = Scheduler(fetcher(database))
    [result] = scheduler.run_due()
    assert result.exchange == "ncmec"
    assert result.counts["added"] == 2
    assert scheduler.run_due() == []  # not due again for an hour
    with database.reading() as session:
        [entry] = audit.find(session, action="exchange.fetch")
    assert entry.actor == "system"
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    with database.transaction() as session:
        session.execute(ExchangeState.__table__.update().values(run_started_at=an_hour_ago))
    Lease(database, Exchanges(database).get("ncmec").id, "ncmec", holder="elsewhere").take()
    assert scheduler.run_due() == []  # another process is fetching it


def test_a_sources_bug_fails_its_run_and_gives_the_lease_back(
    database: Database, ncmec: NcmecSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:

    def broken(self: NcmecSource, checkpoint: object) -> None:
        raise RuntimeError("a bug in the source")

    add_exchange(database, ncmec)
    monkeypatch.setattr(NcmecSource, "fetch_page", broken)
    result = fetcher(database).fetch("ncmec")
    assert result.error == "RuntimeError: a bug in the source"
    [status] = statuses(database, "ncmec")
    assert status.leased_by is None
    assert not status.succeeded


def test_a_new_base_url_needs_the_credentials_named_again(
    database: Database, ncmec: NcmecSimulator
) -> None:
    """Whoever may change an exchange's options must not be able to point
    its stored credentials at a server of their own."""
    add_exchange(database, ncmec)
    exchanges = Exchanges(database)
    with pytest.raises(ExchangeError, match="name the credentials again"):
        exchanges.update("ncmec", options={"base_url": "http://collector.example"})
    assert exchanges.get("ncmec").options["base_url"] == ncmec.url
    moved = exchanges.update(
        "ncmec", options={"base_url": "http://other.example"}, credentials_env=ENV
    )
    assert moved.options["base_url"] == "http://other.example"
    exchanges.update("ncmec", options={"base_url": "http://other.example", "retries": "2"})
