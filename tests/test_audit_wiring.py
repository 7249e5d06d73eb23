"""Every change path writes its audit entry, in the change's transaction,
as the right actor: through the library, the group commit, the API (the
key, the request id, the client address) and the CLI (the OS user)."""

from __future__ import annotations

import getpass
import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from starlette.concurrency import run_in_threadpool
from typer.testing import CliRunner

from hashmatch import audit
from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.audit import SYSTEM, Actor, acting_as, current_actor
from hashmatch.banks import Banks
from hashmatch.banks.add_queue import AddQueue
from hashmatch.banks.catalog import NewContent
from hashmatch.cli import app
from hashmatch.errors import ApiKeyError, BankError, BankExistsError, UnknownBankError
from hashmatch.hashlists import Entry
from hashmatch.settings import Settings
from hashmatch.store import Database

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
CURATOR = Actor("key:curator", request_id="req-1", client="10.0.0.7")


def pdq(number: int) -> str:
    return f"{number:064x}"


def newest_seq(database: Database) -> int:
    with database.reading() as session:
        return audit.verify(session).entries


def written(database: Database, change: Callable[[], object]) -> list[dict[str, Any]]:
    """The entries ``change`` wrote: actor, action, target, before, after."""
    start = newest_seq(database)
    change()
    with database.reading() as session:
        entries = audit.find(session, after_seq=start, limit=audit.MAX_PAGE)
        assert audit.verify(session).ok
    return [
        {
            key: audit.entry_json(entry)[key]
            for key in ("actor", "action", "target", "before", "after")
        }
        for entry in entries
    ]


def refused(database: Database, change: Callable[[], object], error: type[Exception]) -> None:
    """``change`` fails and writes no entry."""

    def failing() -> None:
        with pytest.raises(error):
            change()

    assert written(database, failing) == []


@pytest.fixture
def banks(database: Database) -> Iterator[Banks]:
    with acting_as(CURATOR):
        yield Banks(database)


def bank_state(name: str, **changes: Any) -> dict[str, Any]:
    return {
        "name": name,
        "description": "",
        "enabled": True,
        "kind": "match",
        "labels": [],
        "thresholds": {},
        "image_variants": True,
        "local_features": False,
        "min_inliers": None,
        **changes,
    }


def test_banks(banks: Banks, database: Database) -> None:
    actor = CURATOR.name
    assert written(database, lambda: banks.create("known")) == [
        {
            "actor": actor,
            "action": "bank.create",
            "target": "bank:known",
            "before": None,
            "after": bank_state("known"),
        }
    ]
    refused(database, lambda: banks.create("known"), BankExistsError)
    assert written(database, lambda: banks.update("known", enabled=True)) == []  # no change
    banks.create("other")
    refused(database, lambda: banks.update("known", new_name="other"), BankExistsError)
    renamed = written(database, lambda: banks.update("known", new_name="new", labels=["a1"]))
    assert renamed == [
        {
            "actor": actor,
            "action": "bank.update",
            "target": "bank:known",
            "before": bank_state("known"),
            "after": bank_state("new", labels=["A1"]),
        }
    ]
    banks.add("new", Entry({"pdq": PDQ}))
    assert written(database, lambda: banks.delete("new")) == [
        {
            "actor": actor,
            "action": "bank.delete",
            "target": "bank:new",
            "before": bank_state("new", labels=["A1"], contents=1),
            "after": None,
        }
    ]
    refused(database, lambda: banks.delete("new"), UnknownBankError)


def test_content(banks: Banks, database: Database) -> None:
    actor = CURATOR.name
    banks.create("known")
    entry = Entry({"pdq": PDQ}, "ext-1", ["A1"], "a note", {"from": "test"})
    added = written(database, lambda: banks.add("known", entry, source="api"))
    assert added == [
        {
            "actor": actor,
            "action": "content.add",
            "target": "content:known/1",
            "before": None,
            "after": {
                "external_id": "ext-1",
                "source": "api",
                "signals": {"pdq": PDQ},
                "frames": 0,
                "labels": ["A1"],
                "note": "a note",
                "source_metadata": {"from": "test"},
            },
        }
    ]
    assert written(database, lambda: banks.add("known", entry)) == []  # the bank has it
    refused(database, lambda: banks.add("nope", Entry({"pdq": pdq(1)})), UnknownBankError)

    updated = written(database, lambda: banks.update_content("known", 1, note="new note"))
    assert updated == [
        {
            "actor": actor,
            "action": "content.update",
            "target": "content:known/1",
            "before": {"labels": ["A1"], "note": "a note", "source_metadata": {"from": "test"}},
            "after": {"labels": ["A1"], "note": "new note", "source_metadata": {"from": "test"}},
        }
    ]
    assert written(database, lambda: banks.update_content("known", 1, note="new note")) == []

    until = datetime(2030, 1, 1, tzinfo=UTC)
    assert written(database, lambda: banks.set_disabled("known", [1], until)) == [
        {
            "actor": actor,
            "action": "content.disable",
            "target": "content:known/1",
            "before": {"disabled_until": None},
            "after": {"disabled_until": until.isoformat()},
        }
    ]
    assert written(database, lambda: banks.set_disabled("known", [1], None))[0] == {
        "actor": actor,
        "action": "content.enable",
        "target": "content:known/1",
        "before": {"disabled_until": until.isoformat()},
        "after": {"disabled_until": None},
    }
    assert written(database, lambda: banks.set_disabled("known", [1], None)) == []  # enabled
    refused(database, lambda: banks.set_disabled("known", [1, 99], until), BankError)
    assert banks.content("known", 1).disabled_until is None  # not half done either

    banks.add("known", Entry({"pdq": pdq(2)}))
    assert written(database, lambda: banks.remove_content("known", [1, 2, 99])) == [
        {
            "actor": actor,
            "action": "content.remove",
            "target": f"content:known/{content_id}",
            "before": {"external_id": external_id},
            "after": None,
        }
        for content_id, external_id in [(1, "ext-1"), (2, None)]
    ]
    assert written(database, lambda: banks.remove_content("known", [1])) == []


def test_an_import_is_one_entry(banks: Banks, database: Database) -> None:
    banks.create("known")
    banks.add("known", Entry({"pdq": pdq(1)}))
    entries = [Entry({"pdq": pdq(number)}) for number in range(1, 51)]
    imported = written(database, lambda: banks.import_entries("known", entries, source="list.txt"))
    assert imported == [
        {
            "actor": CURATOR.name,
            "action": "bank.import",
            "target": "bank:known",
            "before": None,
            "after": {"added": 49, "skipped": 1, "source": "list.txt"},
        }
    ]


def test_keys_never_show_their_secret(database: Database) -> None:
    keys = ApiKeys(database)
    made: list[str] = []

    def create() -> None:
        made.append(keys.create("uploads", ["match", "hash"])[0])

    created = written(database, create)
    secret = made[0]
    assert [(e["actor"], e["action"], e["target"]) for e in created] == [
        ("system", "key.create", "key:uploads")
    ]
    after = created[0]["after"]
    assert (after["name"], after["scopes"], after["revoked_at"]) == (
        "uploads",
        ["hash", "match"],
        None,
    )
    text = json.dumps(created)
    assert secret not in text
    assert hashlib.sha256(secret.encode()).hexdigest() not in text
    refused(database, lambda: keys.create("uploads", ["match"]), ApiKeyError)
    revoked = written(database, lambda: keys.revoke("uploads"))
    assert [(e["action"], e["before"]["revoked_at"]) for e in revoked] == [("key.revoke", None)]
    assert revoked[0]["after"]["revoked_at"] is not None
    assert written(database, lambda: keys.revoke("uploads")) == []  # revoked already


def test_the_group_commit_records_each_add_as_its_callers(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two callers' adds go in one batch, committed on one of the threads;
    each entry names its own caller."""
    banks = Banks(database)
    banks.create("known")
    batches: list[int] = []
    first_inside, release = threading.Event(), threading.Event()
    original = Banks.add_many

    def held_add_many(self: Banks, items: Sequence[NewContent]) -> list[int | None]:
        batches.append(len(items))
        if len(batches) == 1:
            first_inside.set()
            release.wait(30)
        return original(self, items)

    monkeypatch.setattr(Banks, "add_many", held_add_many)
    queue = AddQueue(banks)

    def add(name: str, number: int) -> None:
        with acting_as(Actor(name, request_id=f"req-{number}")):
            queue.add("known", Entry({"pdq": pdq(number)}))

    first = threading.Thread(target=add, args=("key:first", 1))
    first.start()
    assert first_inside.wait(30)
    later = [threading.Thread(target=add, args=(f"key:{n}", n)) for n in (2, 3)]
    for thread in later:
        thread.start()
    while len(queue._pending) < len(later):
        threading.Event().wait(0.01)
    release.set()
    for thread in [first, *later]:
        thread.join(30)
    assert batches == [1, 2]
    with database.reading() as session:
        entries = audit.find(session, action="content.add")
    by_target = {entry.target: (entry.actor, entry.request_id) for entry in entries}
    ids = {banks.existing_content("known", Entry({"pdq": pdq(n)})): n for n in (1, 2, 3)}
    assert by_target == {
        f"content:known/{content_id}": ("key:first" if n == 1 else f"key:{n}", f"req-{n}")
        for content_id, n in ids.items()
    }


def test_the_actor_reaches_functions_run_in_the_thread_pool() -> None:
    """What plain ``def`` routes rely on: FastAPI runs them through Starlette's
    run_in_threadpool, which copies the caller's context into the thread."""

    async def main() -> Actor:
        audit.set_actor(CURATOR)
        return await run_in_threadpool(current_actor)

    # In a thread of its own: the browser tests' Playwright keeps an event
    # loop running in this one, where anyio.run refuses to start.
    answers: list[Actor] = []
    runner = threading.Thread(target=lambda: answers.append(anyio.run(main)))
    runner.start()
    runner.join()
    assert answers == [CURATOR]
    assert current_actor() == SYSTEM


# -- through the API and the CLI -------------------------------------------------------


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    database = Database.open(database_url)
    key = ApiKeys(database).create("curator", ["curate"])[0]
    database.close()
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, {"Authorization": f"Bearer {key}"}


def api_entries(client: TestClient, after_seq: int) -> list[Any]:
    database: Database = client.app.state.service.database  # type: ignore[attr-defined]
    with database.reading() as session:
        return [
            (entry.actor, entry.action, entry.target, entry.request_id, entry.client)
            for entry in audit.find(session, after_seq=after_seq)
        ]


def test_api_changes_are_the_keys(served: tuple[TestClient, dict[str, str]]) -> None:
    client, key = served
    start = 1  # the key's own creation
    created = client.post(
        "/v1/banks", json={"name": "known"}, headers={**key, "X-Request-ID": "my-request-7"}
    )
    assert created.status_code == 201
    assert created.headers["X-Request-ID"] == "my-request-7"
    again = client.post("/v1/banks", json={"name": "known"}, headers=key)
    assert again.status_code == 409
    added = client.post("/v1/banks/known/content", json={"signals": {"pdq": PDQ}}, headers=key)
    hma = client.post("/c/bank/known/signal", json={"pdq": pdq(5)}, headers=key)
    imported = client.post(
        "/v1/banks/known/import",
        params={"format": "pdq"},
        files={"file": ("list.txt", f"{pdq(6)}\n{pdq(7)}\n".encode())},
        headers=key,
    )
    assert imported.json() == {"added": 2, "skipped": 0}
    expected = [
        ("bank.create", "bank:known", created),
        ("content.add", f"content:known/{added.json()['content_id']}", added),
        ("content.add", f"content:known/{hma.json()['id']}", hma),
        ("bank.import", "bank:known", imported),
    ]
    assert api_entries(client, start) == [
        ("key:curator", action, target, response.headers["X-Request-ID"], "testclient")
        for action, target, response in expected
    ]


def test_keyless_loopback_requests_are_anonymous(database_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, hma_without_key=True)
    with TestClient(create_app(settings), client=("127.0.0.1", 40000)) as client:
        created = client.post("/c/banks", json={"name": "LOCAL"})
        assert created.status_code == 201
        assert api_entries(client, 0) == [
            (
                "anonymous:loopback",
                "bank.create",
                "bank:LOCAL",
                created.headers["X-Request-ID"],
                "127.0.0.1",
            )
        ]


def test_cli_changes_are_the_os_users(database_url: str) -> None:
    runner = CliRunner()

    def cli(*args: str) -> None:
        result = runner.invoke(app, ["--database-url", database_url, *args])
        assert result.exit_code == 0, result.output

    cli("bank", "create", "known")
    cli("keys", "create", "--name", "uploads", "--scope", "match")
    assert current_actor() == SYSTEM  # the command's actor ended with it
    database = Database.open(database_url)
    try:
        with database.reading() as session:
            entries = [(e.actor, e.action, e.target) for e in audit.find(session)]
    finally:
        database.close()
    user = f"cli:{getpass.getuser()}"
    assert entries == [(user, "bank.create", "bank:known"), (user, "key.create", "key:uploads")]
