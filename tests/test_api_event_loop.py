"""Nothing that waits runs on the event loop: a real server (uvicorn, in a
thread) answers ``/status/live`` while a request is stuck in the database,
the matcher, the key check, a list parser or a hasher.

Each case holds one of those functions on a gate until ``/status/live`` has
answered.  Were the function called on the event loop, the loop would be
held with it and ``/status/live`` could not answer until the gate opened:
the test would fail on its timeout, not on a guess about speed.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
import uvicorn

from hashmatch.api import content, create_app
from hashmatch.api.imports import ImportRunner
from hashmatch.apikeys import ApiKeys
from hashmatch.banks import Banks
from hashmatch.hashlists import Entry
from hashmatch.matching import Matcher
from hashmatch.settings import Settings
from hashmatch.store import Database
from tests.conftest import DATA
from tests.servers import free_port, wait_ready

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PHOTO = DATA / "photos" / "nature-beach-malibu.jpg"
HAYSTACK = DATA / "pdq-reference" / "reg-test-input" / "haystack.txt"
#: Far longer than /status/live takes on a free loop, far shorter than the gate.
LIVE_SECONDS = 10.0
GATE_SECONDS = 30.0


@dataclass
class Server:
    base: str
    key: str
    database_url: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("loop")
    url = f"sqlite:///{folder / 'db.sqlite'}"
    database = Database.open(url)
    key = ApiKeys(database).create("admin", ["admin"])[0]
    banks = Banks(database)
    banks.create("known")
    banks.create("HB")
    banks.add("known", Entry({"pdq": PDQ}))
    database.close()
    app = create_app(Settings(data_dir=folder / "data", database_url=url))
    port = free_port()
    uvicorn_server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, key)
        yield Server(base, key, url)
    finally:
        uvicorn_server.should_exit = True
        thread.join(30)


class Gate:
    """Wraps a function so that each call waits until the gate opens."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(function):
            # Held as the route awaits it: a route that awaits its work
            # leaves the loop free, one that blocked it would not.
            async def gated_async(*args: Any, **kwargs: Any) -> Any:
                self.entered.set()
                await asyncio.to_thread(self.opened.wait, GATE_SECONDS)
                return await function(*args, **kwargs)

            return gated_async

        def gated(*args: Any, **kwargs: Any) -> Any:
            self.entered.set()
            self.opened.wait(GATE_SECONDS)
            return function(*args, **kwargs)

        return gated


def _new_key(server: Server) -> str:
    """A key the server has not seen, so its check reads the database."""
    database = Database.open(server.database_url)
    try:
        return ApiKeys(database).create(f"k-{uuid.uuid4().hex[:12]}", ["admin"])[0]
    finally:
        database.close()


PHOTO_UPLOAD = {"file": ("p.jpg", PHOTO.read_bytes(), "image/jpeg")}
HMA_PHOTO = {"photo": ("p.jpg", PHOTO.read_bytes(), "image/jpeg")}

#: (what is held, its owner and attribute, the request that calls it)
CASES: list[tuple[str, Any, str, str, str, dict[str, Any]]] = [
    (
        "list import (in its child process)",
        ImportRunner,
        "run",
        "POST",
        "/v1/banks/known/import?format=pdq",
        {"files": {"file": ("haystack.txt", HAYSTACK.read_bytes())}},
    ),
    ("lookup", Matcher, "match_hashes", "GET", f"/v1/lookup?signal_type=pdq&signal={PDQ}", {}),
    (
        "batch lookup",
        Matcher,
        "match_many",
        "POST",
        "/v1/lookup",
        {"json": {"hashes": [{"signal_type": "pdq", "signal": PDQ}]}},
    ),
    ("match upload", Matcher, "match_result", "POST", "/v1/match", {"files": PHOTO_UPLOAD}),
    ("hashing", content, "hash_file", "POST", "/v1/hash", {"files": PHOTO_UPLOAD}),
    ("bank list", Banks, "all", "GET", "/v1/banks", {}),
    (
        "content change",
        Banks,
        "update_content",
        "PATCH",
        "/v1/banks/known/content/1",
        {"json": {"note": "n"}},
    ),
    (
        "HMA add signal",
        Banks,
        "add_many",
        "POST",
        "/c/bank/HB/signal",
        {"json": {"pdq": "0f" * 32}},
    ),
    ("HMA add upload", Banks, "add_many", "POST", "/c/bank/HB/content", {"files": HMA_PHOTO}),
    (
        "HMA lookup",
        Matcher,
        "match_hashes",
        "GET",
        f"/m/lookup?signal_type=pdq&signal={PDQ}",
        {},
    ),
    ("HMA upload lookup", Matcher, "match_result", "POST", "/m/lookup", {"files": HMA_PHOTO}),
    (
        "HMA content change",
        Banks,
        "update_content",
        "PUT",
        "/c/bank/known/content/1",
        {"json": {"note": "n"}},
    ),
]


@pytest.mark.parametrize(
    ("owner", "attribute", "method", "path", "options"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_liveness_answers_while_a_request_waits(
    server: Server,
    monkeypatch: pytest.MonkeyPatch,
    owner: Any,
    attribute: str,
    method: str,
    path: str,
    options: dict[str, Any],
) -> None:
    gate = Gate()
    monkeypatch.setattr(owner, attribute, gate.wrap(getattr(owner, attribute)))
    _check_liveness_while_held(server, gate, server.key, method, path, options)


def test_liveness_answers_while_a_key_is_checked(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate()
    monkeypatch.setattr(ApiKeys, "authenticate", gate.wrap(ApiKeys.authenticate))
    key = _new_key(server)
    _check_liveness_while_held(server, gate, key, "GET", "/v1/banks", {})


def _check_liveness_while_held(
    server: Server, gate: Gate, key: str, method: str, path: str, options: dict[str, Any]
) -> None:
    answers: list[httpx2.Response] = []

    def send() -> None:
        with httpx2.Client(base_url=server.base, timeout=GATE_SECONDS * 2) as client:
            headers = {"Authorization": f"Bearer {key}"}
            answers.append(client.request(method, path, headers=headers, **options))

    held = threading.Thread(target=send)
    held.start()
    try:
        assert gate.entered.wait(GATE_SECONDS), "the request never reached the held function"
        try:
            live = httpx2.get(f"{server.base}/status/live", timeout=LIVE_SECONDS)
        except httpx2.TimeoutException:
            pytest.fail(f"/status/live did not answer while {method} {path} was held")
        assert live.json() == {"status": "live"}
    finally:
        gate.opened.set()
        held.join(GATE_SECONDS * 2)
    [answer] = answers
    assert answer.status_code < 500, answer.text


@pytest.mark.slow
def test_liveness_stays_prompt_during_a_large_import(server: Server) -> None:
    """The measured case: 200,000 hashes imported through the API (once 9.6 s
    of /status/live silence): liveness answers throughout.  How fast it
    answers is measured by benchmarks/worker_stall.py, not asserted here."""
    rng = random.Random(7)
    hashes = "".join(f"{rng.getrandbits(256):064x}\n" for _ in range(200_000))
    answers: list[httpx2.Response] = []

    def send() -> None:
        with httpx2.Client(base_url=server.base, timeout=600) as client:
            answers.append(
                client.post(
                    "/v1/banks/known/import?format=pdq",
                    files={"file": ("big.txt", hashes.encode())},
                    headers={"Authorization": f"Bearer {server.key}"},
                )
            )

    importing = threading.Thread(target=send)
    importing.start()
    probes = 0
    with httpx2.Client(base_url=server.base, timeout=LIVE_SECONDS) as client:
        while importing.is_alive():
            assert client.get("/status/live").status_code == 200
            probes += 1
            time.sleep(0.05)
    importing.join()
    assert answers[0].json() == {"added": 200_000, "skipped": 0}
    assert probes > 0
