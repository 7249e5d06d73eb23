"""Adds through the API: concurrent requests share transactions (group
commit) and each gets its own answer; a bank deleted a moment ago is a 404
even while its existence is cached."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.banks import Banks
from hashmatch.hashlists import Entry
from hashmatch.settings import Settings
from hashmatch.store import Database


def pdq(number: int) -> str:
    return f"{random.Random(number).getrandbits(256):064x}"


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    database = Database.open(database_url)
    key = ApiKeys(database).create("adds", ["curate", "match"])[0]
    database.close()
    app = create_app(Settings(data_dir=tmp_path / "data", database_url=database_url))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        test_client.app.state.service.wait_until_loaded(60)  # type: ignore[attr-defined]
        yield test_client, {"Authorization": f"Bearer {key}"}


def test_concurrent_adds_each_get_their_answer(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    http, key = client
    assert http.post("/c/banks", json={"name": "ADDS"}, headers=key).status_code == 201
    answers: dict[int, list[int]] = {}
    lock = threading.Lock()

    def add(thread: int) -> None:
        for number in range(thread * 20, thread * 20 + 20):
            for _ in range(2):  # the second add of a hash answers the first's id
                response = http.post("/c/bank/ADDS/signal", json={"pdq": pdq(number)}, headers=key)
                assert response.status_code == 200, response.text
                with lock:
                    answers.setdefault(number, []).append(response.json()["id"])

    threads = [threading.Thread(target=add, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(answers) == 160
    assert all(first == second for first, second in answers.values())
    assert len({ids[0] for ids in answers.values()}) == 160
    for number in (0, 77, 159):
        found = http.get(f"/v1/lookup?signal_type=pdq&signal={pdq(number)}", headers=key).json()
        assert [m["content_id"] for m in found["matches"]] == [answers[number][0]]


def test_an_add_to_a_bank_just_deleted_is_a_404(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    http, key = client
    http.post("/c/banks", json={"name": "GONE"}, headers=key)
    assert http.post("/c/bank/GONE/signal", json={"pdq": pdq(1)}, headers=key).status_code == 200
    assert http.delete("/c/bank/GONE", headers=key).status_code == 200
    late = http.post("/c/bank/GONE/signal", json={"pdq": pdq(2)}, headers=key)
    assert late.status_code == 404
    assert "not found" in late.json()["message"]


def test_the_service_follows_the_log_without_requests(
    client: tuple[TestClient, dict[str, str]], database_url: str
) -> None:
    """Content another process adds is applied by the service's follower,
    not by the first lookup after it."""
    http, _ = client
    service = http.app.state.service  # type: ignore[attr-defined]
    before = service.matcher().seq
    other = Database.open(database_url)
    Banks(other).create("elsewhere")
    Banks(other).add("elsewhere", Entry({"pdq": pdq(5)}))
    other.close()
    deadline = time.monotonic() + 30  # a hang detector: it takes about 0.5 s
    while service._matcher.seq == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service._matcher.seq > before
    assert [m.bank for m in service._matcher.match_hashes({"pdq": [pdq(5)]})] == ["elsewhere"]
