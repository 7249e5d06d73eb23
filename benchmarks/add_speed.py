"""Adds and log refreshes in process (no HTTP): does their cost depend on the bank's size?

    python benchmarks/add_speed.py                      # 100k-hash bank, SQLite and PostgreSQL
    python benchmarks/add_speed.py --n 10000 --adds 200 --engines sqlite

For each engine and each bank size (empty, then N hashes): ``--adds`` single
adds one after another (``Banks.add``), the same number from 8 threads
through the group commit (``AddQueue``), and a running matcher's refresh
after 5 more adds (``Matcher.refresh``, the change log's window)::

    RESULT engine=<e> bank=<n> sequential_adds_per_s=<x> queued_adds_per_s=<x> refresh_ms=<x>

PostgreSQL: ``HASHMATCH_BENCH_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``), in a schema of its own.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from worker_stall import database_url, random_hashes

from hashmatch.banks import Banks
from hashmatch.banks.add_queue import AddQueue
from hashmatch.hashlists import Entry
from hashmatch.matching import Matcher
from hashmatch.store import Database

THREADS = 8


def measure(url: str, engine: str, size: int, adds: int) -> None:
    database = Database.open(url)
    banks = Banks(database)
    name = f"bank{size}"
    banks.create(name)
    if size:
        banks.import_entries(name, [Entry({"pdq": v}) for v in random_hashes(size, size)])
    values = iter(random_hashes(size + 1, 2 * adds + 5))
    started = time.perf_counter()
    for _ in range(adds):
        banks.add(name, Entry({"pdq": next(values)}))
    sequential = adds / (time.perf_counter() - started)
    queue = AddQueue(banks)
    chunks = [[next(values) for _ in range(adds // THREADS)] for _ in range(THREADS)]

    def add_all(chunk: list[str]) -> None:
        for value in chunk:
            queue.add(name, Entry({"pdq": value}))

    threads = [threading.Thread(target=add_all, args=(chunk,)) for chunk in chunks]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queued = sum(map(len, chunks)) / (time.perf_counter() - started)
    matcher = Matcher(database)
    for value in [next(values) for _ in range(5)]:
        banks.add(name, Entry({"pdq": value}))
    started = time.perf_counter()
    matcher.refresh()
    refresh_ms = (time.perf_counter() - started) * 1000
    database.close()
    print(
        f"RESULT engine={engine} bank={size} sequential_adds_per_s={sequential:.0f} "
        f"queued_adds_per_s={queued:.0f} refresh_ms={refresh_ms:.2f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="hashes in the big bank")
    parser.add_argument("--adds", type=int, default=1000, help="adds per measurement")
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    for engine in args.engines.split(","):
        with tempfile.TemporaryDirectory() as folder, database_url(engine, Path(folder)) as url:
            for size in (0, args.n):
                measure(url, engine, size, args.adds)


if __name__ == "__main__":
    main()
