"""Fetches in other processes: one killed with -9 mid-fetch resumes exactly,
and two fetching one exchange at once write every record once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from hashmatch.banks import Banks
from hashmatch.exchange import Exchanges, Fetcher, statuses
from hashmatch.exchange.simulators import NcmecSimulator
from hashmatch.media.download import UrlPolicy
from hashmatch.store import Content, ContentSignal, Database
from tests.child_process import fetch_child, kill_after, once_the_lease_lapses

CREDENTIALS = "user:password"
ENV = "TEST_NCMEC_CREDENTIALS"


@pytest.fixture
def simulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[NcmecSimulator]:
    monkeypatch.setenv(ENV, CREDENTIALS)
    with NcmecSimulator(CREDENTIALS, generated=3000, page_size=100) as running:
        yield running


def setup(database: Database, simulator: NcmecSimulator, max_records: str) -> None:
    Banks(database).create("b")
    Exchanges(database).create(
        "ncmec",
        "ncmec",
        bank="b",
        options={"base_url": simulator.url, "max_records": max_records},
        credentials_env=ENV,
    )


def counts(database: Database) -> tuple[int, int, int]:
    with database.reading() as session:
        return (
            int(session.scalar(select(func.count()).select_from(Content)) or 0),
            int(session.scalar(select(func.count(func.distinct(Content.external_id)))) or 0),
            int(session.scalar(select(func.count()).select_from(ContentSignal)) or 0),
        )


@pytest.mark.slow
def test_a_fetch_killed_midway_resumes_to_exactly_every_record(
    database: Database, database_url: str, simulator: NcmecSimulator
) -> None:
    setup(database, simulator, max_records="100000")
    kill_after(database, "ncmec", 500, database_url)
    [killed] = statuses(database, "ncmec")
    assert killed.fetched_total < 3000
    assert counts(database)[0] == killed.fetched_total  # the checkpoint is what the bank has
    fetcher = Fetcher(database, UrlPolicy(allow_private=True), retry_wait=0)
    result = once_the_lease_lapses(lambda: fetcher.fetch("ncmec"))
    assert result.succeeded
    assert result.up_to_date
    assert result.counts["added"] == 3000 - killed.fetched_total
    assert counts(database) == (3000, 3000, 6000)


@pytest.mark.slow
def test_two_processes_fetching_one_exchange_write_each_record_once(
    database: Database, database_url: str, simulator: NcmecSimulator
) -> None:
    setup(database, simulator, max_records="300")
    processes = [fetch_child(database_url, "ncmec"), fetch_child(database_url, "ncmec")]
    for process in processes:
        assert process.wait(timeout=240) == 0
    assert counts(database) == (3000, 3000, 6000)
    [status] = statuses(database, "ncmec")
    assert status.up_to_date
    assert status.fetched_total == 3000
