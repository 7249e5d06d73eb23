"""Exchange fetches: speed from a file and from the NCMEC simulator, a
killed fetch's resume, and how soon fetched hashes match.

    python benchmarks/exchange_speed.py                 # the figures of issue 15
    python benchmarks/exchange_speed.py --quick         # small numbers, for the tests
    python benchmarks/exchange_speed.py --database-url postgresql://...

The simulator runs in a process of its own, as a real service would be
elsewhere.  Ends with::

    RESULT exchange_file format=<pdq|jsonl> n=<N> engine=<e> seconds=<x> records_per_s=<x>
    RESULT exchange_ncmec n=<N> engine=<e> seconds=<x> records_per_s=<x>
    RESULT exchange_resume n=<N> engine=<e> killed_after=<k> contents=<c> external_ids=<d> \
        signals=<s>
    RESULT exchange_matchable engine=<e> seconds=<x>
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from hashmatch.api.service import REFRESH_SECONDS
from hashmatch.banks import Banks
from hashmatch.exchange import Exchanges, Fetcher, statuses
from hashmatch.exchange.simulators import NcmecEntry, NcmecSimulator, generated_hashes
from hashmatch.matching import Matcher
from hashmatch.media.download import UrlPolicy
from hashmatch.store import Bank, Content, ContentSignal, Database

CREDENTIALS = "bench-user:bench-password"
ENV = "BENCH_NCMEC_CREDENTIALS"
LOOPBACK = UrlPolicy(allow_private=True)
KILLER = """
import os, signal, sys
from hashmatch.exchange import Fetcher, statuses
from hashmatch.media.download import UrlPolicy
from hashmatch.store import Database

url, name, half = sys.argv[1], sys.argv[2], int(sys.argv[3])


class KilledMidway(Fetcher):
    # kill -9 right after the page that takes the fetch past half is committed:
    # a crash mid-fetch at a point that does not depend on how fast it runs
    def _write(self, *args, **kwargs):
        super()._write(*args, **kwargs)
        if statuses(self.database, name)[0].fetched_total >= half:
            os.kill(os.getpid(), signal.SIGKILL)


KilledMidway(Database.open(url), UrlPolicy(allow_private=True), lease_seconds=1).fetch(name)
"""


def serve_ncmec(generated: int, queue: Any, stop: Any) -> None:
    """In a child process: the simulator, its address sent back, until told to stop."""
    with NcmecSimulator(CREDENTIALS, generated=generated) as simulator:
        queue.put(simulator.url)
        stop.wait()


class RemoteSimulator:
    def __init__(self, generated: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop = context.Event()
        queue = context.Queue()
        self.process = context.Process(target=serve_ncmec, args=(generated, queue, self.stop))
        self.process.start()
        self.url: str = queue.get(timeout=60)

    def close(self) -> None:
        self.stop.set()
        self.process.join(30)


def exchange(database: Database, kind: str, options: dict[str, str]) -> str:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    Banks(database).create(name)
    credentials = ENV if kind == "ncmec" else None
    options = {"max_records": "100000000", "max_seconds": "3600", **options}
    Exchanges(database).create(name, kind, bank=name, options=options, credentials_env=credentials)
    return name


def timed_fetch(database: Database, name: str) -> float:
    started = time.perf_counter()
    result = Fetcher(database, LOOPBACK).fetch(name)
    seconds = time.perf_counter() - started
    if not result.succeeded or not result.up_to_date:
        raise SystemExit(f"{name}: {result.to_json()}")
    return seconds


def file_speed(database: Database, folder: Path, n: int, list_format: str) -> None:
    path = folder / f"list.{'txt' if list_format == 'pdq' else 'jsonl'}"
    with path.open("w") as stream:
        for index in range(n):
            md5, pdq = generated_hashes(list_format, index)
            if list_format == "pdq":
                stream.write(pdq + "\n")
            else:
                record = {
                    "signals": {"md5": md5, "pdq": pdq},
                    "external_id": f"r{index}",
                    "labels": ["A1"],
                    "source_metadata": {"list": "bench"},
                }
                stream.write(json.dumps(record) + "\n")
    name = exchange(database, "file", {"path": str(path), "page_size": "20000"})
    seconds = timed_fetch(database, name)
    print(
        f"RESULT exchange_file format={list_format} n={n} engine={database.dialect} "
        f"seconds={seconds:.2f} records_per_s={n / seconds:.0f}",
        flush=True,
    )


def ncmec_speed(database: Database, n: int) -> None:
    simulator = RemoteSimulator(n)
    try:
        name = exchange(database, "ncmec", {"base_url": simulator.url})
        seconds = timed_fetch(database, name)
    finally:
        simulator.close()
    print(
        f"RESULT exchange_ncmec n={n} engine={database.dialect} seconds={seconds:.2f} "
        f"records_per_s={n / seconds:.0f}",
        flush=True,
    )


def resume(database: Database, url: str, n: int) -> None:
    """Kill a fetch of ``n`` records with -9 halfway, resume it, count."""
    simulator = RemoteSimulator(n)
    try:
        name = exchange(database, "ncmec", {"base_url": simulator.url})
        child = subprocess.Popen(
            [sys.executable, "-c", KILLER, url, name, str(n // 2)], env=os.environ.copy()
        )
        if child.wait() != -signal.SIGKILL:
            raise SystemExit(f"the fetch ended ({child.returncode}) before it was killed")
        killed = statuses(database, name)[0].fetched_total
        time.sleep(1.5)  # the killed fetch's lease lapses
        timed_fetch(database, name)
    finally:
        simulator.close()
    with database.reading() as session:
        bank_id = session.scalar(select(Bank.id).where(Bank.name == name))
        contents = session.scalar(select(func.count()).where(Content.bank_id == bank_id))
        external = session.scalar(
            select(func.count(func.distinct(Content.external_id))).where(Content.bank_id == bank_id)
        )
        signals = session.scalar(select(func.count()).where(ContentSignal.bank_id == bank_id))
    print(
        f"RESULT exchange_resume n={n} engine={database.dialect} killed_after={killed} "
        f"contents={contents} external_ids={external} signals={signals}",
        flush=True,
    )


def matchable(database: Database) -> None:
    """From a fetch's commit to a match, with the index followed as ``serve`` does."""
    os.environ[ENV] = CREDENTIALS
    matcher = Matcher(database)
    stop = threading.Event()

    def follow() -> None:
        while not stop.wait(REFRESH_SECONDS):
            matcher.refresh()

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    pdq = generated_hashes("matchable", 0)[1]
    with NcmecSimulator(CREDENTIALS) as simulator:
        simulator.entries = [NcmecEntry("m1", fingerprints={"PDQ": pdq})]
        name = exchange(database, "ncmec", {"base_url": simulator.url})
        Fetcher(database, LOOPBACK).fetch(name)
        committed = time.perf_counter()
        while not matcher.match_hashes({"pdq": [pdq]}, banks=[name]):
            time.sleep(0.01)
        seconds = time.perf_counter() - committed
    stop.set()
    follower.join()
    print(f"RESULT exchange_matchable engine={database.dialect} seconds={seconds:.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="records per speed run")
    parser.add_argument("--resume-n", type=int, default=1_000_000, help="records of the kill run")
    parser.add_argument("--quick", action="store_true", help="small runs (for the tests)")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    n, resume_n = (2000, 3000) if args.quick else (args.n, args.resume_n)
    os.environ[ENV] = CREDENTIALS
    with tempfile.TemporaryDirectory(prefix="exchange-speed-") as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.db"
        database = Database.open(url)
        file_speed(database, Path(folder), n, "pdq")
        file_speed(database, Path(folder), n, "jsonl")
        ncmec_speed(database, n)
        resume(database, url, resume_n)
        matchable(database)
        database.close()


if __name__ == "__main__":
    main()
