"""Signal values up to 2048 characters (migration 0019), on SQLite and
PostgreSQL: a long URL banks over HTTP and the CLI and matches on lookup, a
longer one is a 400 or a one-line CLI error, exact lookups still go through
the bank's unique index, the hub's STIX patterns carry long values, and the
tighter bounds of emails, usernames and keywords hold."""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text
from typer.testing import CliRunner, Result

from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.banks import Banks
from hashmatch.cli import app as cli_app
from hashmatch.errors import InvalidHashError
from hashmatch.hashlists import Entry
from hashmatch.hub.patterns import PatternSignal
from hashmatch.hub.stix import build_indicator, identity_id, parse_indicator
from hashmatch.settings import Settings
from hashmatch.signals import get_signal_type
from hashmatch.store import Database
from hashmatch.store.models import UNIQUE_SIGNALS, Bank, ContentSignal, utcnow

BASE = "https://example.com/gallery/"


def long_url(chars: int, seed: int = 0) -> str:
    """A normalised URL of exactly ``chars`` characters, its path random
    letters (nothing for the database to compress away)."""
    rng = random.Random(seed)
    return BASE + "".join(rng.choices(string.ascii_letters, k=chars - len(BASE)))


LONG = long_url(1500)


@pytest.fixture
def keys(database: Database) -> dict[str, str]:
    api_keys = ApiKeys(database)
    return {scope: api_keys.create(f"key-{scope}", [scope])[0] for scope in ("curate", "match")}


@pytest.fixture
def client(database_url: str, tmp_path: Path, keys: dict[str, str]) -> Iterator[TestClient]:
    application = create_app(Settings(data_dir=tmp_path / "data", database_url=database_url))
    with TestClient(application, raise_server_exceptions=False) as test_client:
        application.state.service.wait_until_loaded(60)
        created = test_client.post("/v1/banks", json={"name": "long"}, headers=auth(keys["curate"]))
        assert created.status_code == 201, created.text
        yield test_client


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_long_url_banks_and_matches_over_http(client: TestClient, keys: dict[str, str]) -> None:
    for value in (LONG, long_url(2048, seed=1)):  # the widest fills the unique index's entry
        added = client.post(
            "/v1/banks/long/content", json={"signals": {"url": value}}, headers=auth(keys["curate"])
        )
        assert added.status_code == 201, added.text
    written = "HTTPS://Example.COM:443" + LONG.removeprefix("https://example.com") + "#top"
    found = client.get(
        "/v1/lookup", params={"signal_type": "url", "signal": written}, headers=auth(keys["match"])
    )
    assert found.status_code == 200, found.text
    assert [m["signal_type"] for m in found.json()["matches"]] == ["url"]
    too_long = client.post(
        "/v1/banks/long/content",
        json={"signals": {"url": long_url(2049)}},
        headers=auth(keys["curate"]),
    )
    assert too_long.status_code == 400, too_long.text
    message = json.dumps(too_long.json()["error"])
    assert "at most 2048 characters" in message
    assert "got 2049" in message


def test_the_cli_banks_a_long_url_and_refuses_a_longer_one(database_url: str) -> None:
    runner = CliRunner()

    def cli(*args: str) -> Result:
        return runner.invoke(cli_app, ["--database-url", database_url, *args])

    assert cli("bank", "create", "long").exit_code == 0
    added = cli("bank", "add", "long", "--hash", f"url:{LONG}")
    assert added.exit_code == 0, added.output
    matched = cli("match", "--hash", f"url:{LONG}?utm_source=feed")
    assert matched.exit_code == 0, matched.output
    [line] = [json.loads(row) for row in matched.stdout.splitlines() if row.strip()]
    assert [m["signal_type"] for m in line["matches"]] == ["url"]
    refused = cli("bank", "add", "long", "--hash", f"url:{long_url(2049)}")
    assert refused.exit_code != 0
    output = refused.output
    assert "at most 2048 characters" in output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1


def test_exact_lookups_of_long_values_use_the_unique_index(
    database: Database, client: TestClient, keys: dict[str, str]
) -> None:
    added = client.post(
        "/v1/banks/long/content", json={"signals": {"url": LONG}}, headers=auth(keys["curate"])
    )
    assert added.status_code == 201, added.text
    with database.reading() as session:
        bank_id = session.scalar(select(Bank.id).where(Bank.name == "long"))
    query = select(ContentSignal.content_id).where(
        ContentSignal.bank_id == bank_id,
        ContentSignal.signal_type == "url",
        text(UNIQUE_SIGNALS),
        ContentSignal.value == LONG,
    )
    with database.reading() as session:
        indexes = inspect(session.connection()).get_indexes("content_signals")
        assert "value" in next(
            i["column_names"] for i in indexes if i["name"] == "uq_content_signals_bank_type_value"
        )
        compiled = query.compile(session.connection(), compile_kwargs={"literal_binds": True})
        if database.dialect == "postgresql":
            session.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table: force a plan
            plan = session.execute(text(f"EXPLAIN {compiled}")).scalars().all()
            [column] = inspect(session.connection()).get_columns("content_signals")[4:5]
            assert column["name"] == "value"
            assert column["type"].length == 2048
        else:
            plan = [row[-1] for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))]
        assert "uq_content_signals_bank_type_value" in " ".join(plan), plan


def test_the_hubs_patterns_carry_long_values() -> None:
    indicator = build_indicator(
        PatternSignal("url", LONG), publisher=identity_id("member-a"), created=utcnow()
    )
    parsed = parse_indicator(indicator)
    assert (parsed.signal_type, parsed.value) == ("url", LONG)


def test_emails_usernames_and_keywords_keep_their_bounds() -> None:
    def parse(name: str, value: str) -> str:
        return get_signal_type(name).parse(value)

    # An address within 254 characters whose IDNA domain grows past them.
    label = "ü" * 40
    address = f"{'a' * 60}@{label}.{label}.{label}.{label}.example"
    assert len(address) <= 254
    with pytest.raises(InvalidHashError, match="email signal is at most 254 characters"):
        parse("email", address)
    assert len(parse("keyword", "Trade " * 21 + "pi")) == 128
    with pytest.raises(InvalidHashError, match="keyword signal is at most 128 characters"):
        parse("keyword", "Trade " * 21 + "pic")
    assert len(parse("username", "myforum.example:" + "h" * 100)) == 116
    with pytest.raises(InvalidHashError, match="1-100 characters"):
        parse("username", "kik:" + "h" * 101)


def test_migration_0019_widens_and_refuses_to_narrow_over_long_values(
    database_url: str,
) -> None:
    database = Database.open(database_url, migrate=False)
    try:
        database.migrate("0018")
        database.migrate("head")
        banks = Banks(database)
        banks.create("long")
        banks.add("long", Entry({"url": LONG}))
        with pytest.raises(RuntimeError, match="1 signals are longer than 128 characters"):
            database.downgrade("0018")
        banks.delete("long")
        database.downgrade("0018")
        database.migrate("head")
    finally:
        database.close()
