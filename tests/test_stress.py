"""Bounded stress: 4 writer processes add and remove content in 4 banks while
2 server processes (and a matcher in this process) follow the change log and
answer lookups.  Afterwards every one of them answers exactly as a fresh
matcher does, for every hash ever written.

``HASHMATCH_TEST_STRESS_SECONDS`` sets how long the writers run (default 20).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import threading
import time
from pathlib import Path

import pytest

from hashmatch.apikeys import ApiKeys
from hashmatch.banks import Banks
from hashmatch.hashlists import Entry
from hashmatch.matching import Matcher
from hashmatch.store import Database
from tests.servers import call, start_server, wait_ready

BANKS = ("b0", "b1", "b2", "b3")
WRITERS = 4
#: Hashes come in families of near neighbours, so lookups find several
#: contents in several banks at various distances.
FAMILIES = 400
SECONDS = float(os.environ.get("HASHMATCH_TEST_STRESS_SECONDS", "20"))

pytestmark = pytest.mark.slow


def family_base(family: int) -> int:
    return random.Random(f"family-{family}").getrandbits(256)


def near(rng: random.Random, family: int) -> str:
    value = family_base(family)
    for bit in rng.sample(range(256), rng.randint(0, 12)):
        value ^= 1 << bit
    return f"{value:064x}"


def _writer(url: str, seed: int, seconds: float, out: str) -> None:
    """Add (and sometimes remove) content in random banks until time is up."""
    rng = random.Random(seed)
    database = Database.open(url, migrate=False)
    banks = Banks(database)
    written: list[str] = []
    mine: list[tuple[str, int]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        bank = rng.choice(BANKS)
        if mine and rng.random() < 0.3:
            bank, content = mine.pop(rng.randrange(len(mine)))
            banks.remove_content(bank, [content])
            continue
        value = near(rng, rng.randrange(FAMILIES))
        written.append(value)
        content_id = banks.add(bank, Entry({"pdq": value}))
        if content_id is not None:
            mine.append((bank, content_id))
    database.close()
    Path(out).write_text(json.dumps(written))


Answer = list[tuple[str, int, int]]


def fresh_answers(database: Database, hashes: list[str]) -> list[Answer]:
    matcher = Matcher(database)
    return [
        sorted((m.bank, m.content_id, m.distance) for m in matches)
        for matches in matcher.match_many([("pdq", value) for value in hashes])
    ]


def server_answers(base: str, key: str, hashes: list[str]) -> list[Answer]:
    answers: list[Answer] = []
    for start in range(0, len(hashes), 1000):
        chunk = hashes[start : start + 1000]
        status, body = call(
            f"{base}/v1/lookup",
            key,
            {"hashes": [{"signal_type": "pdq", "signal": value} for value in chunk]},
        )
        assert status == 200, body
        answers += [
            sorted((m["bank"], m["content_id"], m["distance"]) for m in result["matches"])
            for result in body["results"]
        ]
    return answers


def test_writers_and_followers_agree(database: Database, database_url: str, tmp_path: Path) -> None:
    banks = Banks(database)
    for name in BANKS:
        banks.create(name)
    key = ApiKeys(database).create("stress", ["match"])[0]
    servers = [start_server(database_url, tmp_path / f"server-{n}") for n in range(2)]
    follower = Matcher(database)
    stop = threading.Event()
    lookups = 0

    def follow() -> None:
        """This process's matcher follows the log as closely as it can: the
        more often it refreshes, the likelier it reads between two commits."""
        while not stop.is_set():
            follower.refresh()

    def look_up() -> None:
        nonlocal lookups
        rng = random.Random(7)
        while not stop.is_set():
            probe = [near(rng, rng.randrange(FAMILIES)) for _ in range(50)]
            for _, base in servers:
                server_answers(base, key, probe)
                lookups += len(probe)
            time.sleep(0.05)

    try:
        for _, base in servers:
            wait_ready(base, key)
        context = multiprocessing.get_context("spawn")
        outputs = [tmp_path / f"writer-{n}.json" for n in range(WRITERS)]
        writers = [
            context.Process(target=_writer, args=(database_url, n, SECONDS, str(outputs[n])))
            for n in range(WRITERS)
        ]
        readers = [threading.Thread(target=follow), threading.Thread(target=look_up)]
        for reader in readers:
            reader.start()
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(SECONDS + 120)
        stop.set()
        for reader in readers:
            reader.join(60)
        assert [writer.exitcode for writer in writers] == [0] * WRITERS
        written = sorted({value for out in outputs for value in json.loads(out.read_text())})
        assert len(written) > 100
        assert lookups > 0
        expected = fresh_answers(database, written)
        assert sum(map(len, expected)) > len(written) // 2  # most still there
        follower.refresh()
        followed = [
            sorted((m.bank, m.content_id, m.distance) for m in matches)
            for matches in follower.match_many([("pdq", value) for value in written])
        ]
        assert followed == expected
        time.sleep(0.6)  # past the servers' refresh interval
        for _, base in servers:
            assert server_answers(base, key, written) == expected
    finally:
        stop.set()
        for process, _ in servers:
            process.terminate()
            process.wait(30)
