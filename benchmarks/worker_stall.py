"""A worker never stalls, and adds are fast and matchable at once: both engines.

    python benchmarks/worker_stall.py                          # 1M hashes, SQLite and PostgreSQL
    python benchmarks/worker_stall.py --n 100000 --seconds 5 --engines sqlite

For each engine: a fresh database with a bank of N random PDQ hashes, then
``hashmatch serve --workers 2`` on loopback, and two phases:

* **stall**: a list of N more hashes imported through ``POST
  /v1/banks/NAME/import`` while 8 client threads add content one hash at a
  time (HMA's ``POST /c/bank/NAME/signal``); meanwhile a probe asks ``GET
  /status/live`` every 20 ms.  The probe's latency must stay low: nothing
  blocking runs on the event loop.
* **adds**: 8 client threads add hashes through ``POST /c/bank/NAME/signal``
  for ``--seconds``; every 10th added hash is then looked up (``GET
  /v1/lookup``) until it matches, and the time from the add's response to
  the first matching lookup is recorded.

HMA 2.0 added 286 signals/s on this machine kind (measured by the issue's
author with HMA's own server on PostgreSQL); the ratio is against that::

    RESULT engine=<e> phase=stall live_p50_ms=<x> live_p99_ms=<x> live_max_ms=<x>
        probes=<n> adds_during=<n> import_s=<x>
    RESULT engine=<e> phase=adds adds_per_s=<x> ratio_vs_hma=<x> matchable_p99_ms=<x>
        matchable_max_ms=<x> checked=<n> errors=<n>

(each RESULT is printed on one line).

PostgreSQL: ``HASHMATCH_BENCH_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``); a schema of its own is made
and dropped.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy

from hashmatch.apikeys import ApiKeys
from hashmatch.banks import Banks
from hashmatch.hashlists import Entry
from hashmatch.store import Database
from hashmatch.store.changelog import latest_seq

HMA_ADDS_PER_S = 286.0
ADDERS = 8
#: Seeds of the adds phase's hashes (other than the bank's and the stall phase's).
ADD_SEED = 200


def random_hashes(seed: int, n: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [row.tobytes().hex() for row in rng.integers(0, 256, (n, 32), np.uint8)]


@contextmanager
def database_url(engine: str, folder: Path) -> Iterator[str]:
    if engine == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    base = os.environ.get(
        "HASHMATCH_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
    )
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        separator = "&" if "?" in base else "?"
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@contextmanager
def given_or_fresh(engine: str, given: str | None, folder: Path) -> Iterator[str]:
    """The database the user gave (--database-url), else a fresh one of `engine`."""
    if given is not None:
        yield given
        return
    with database_url(engine, folder) as url:
        yield url


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """--engines and --database-url, read back by chosen_engines and given_or_fresh."""
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument(
        "--database-url", default=None, help="An empty database to use instead (one engine)."
    )


def chosen_engines(args: argparse.Namespace) -> list[str]:
    return ["given"] if args.database_url else args.engines.split(",")


class Client:
    """One keep-alive connection, JSON in and out."""

    def __init__(self, port: int, key: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        self.connection.request(method, path, body=body, headers=self.headers)
        response = self.connection.getresponse()
        return response.status, response.read()


def start_server(
    url: str,
    folder: Path,
    *,
    scopes: tuple[str, ...] = ("match", "curate"),
    workers: int = 2,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], int, str]:
    """``hashmatch serve`` on a free loopback port, once every worker is
    ready, and a key with ``scopes``; ``env``: settings on top of ours."""
    database = Database.open(url)
    key = ApiKeys(database).create("bench", list(scopes))[0]
    database.close()
    with socket_port() as port:
        pass
    command = ["hashmatch.cli", "--database-url", url, "serve", "--port", str(port)]
    server = subprocess.Popen(
        [sys.executable, "-m", *command, "--workers", str(workers)],
        env={**os.environ, "HASHMATCH_DATA_DIR": str(folder / "data"), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            ready = {Client(port, key).call("GET", "/status")[0] for _ in range(2 * workers)}
            if ready == {200}:
                return server, port, key
        except OSError:
            pass
        time.sleep(0.5)
    server.kill()
    raise SystemExit("the server did not become ready")


@contextmanager
def socket_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


Added = list[tuple[str, float]]


def adder(port: int, key: str, values: list[str], stop: threading.Event, out: Added) -> int:
    """Add hashes one by one until ``values`` or time runs out; each hash and
    the moment (perf_counter) its add returned are appended to ``out``."""
    client = Client(port, key)
    errors = 0
    for value in values:
        if stop.is_set():
            break
        status, _ = client.call("POST", "/c/bank/adds/signal", json.dumps({"pdq": value}).encode())
        if status != 200:
            errors += 1
        out.append((value, time.perf_counter()))
    return errors


def percentile(values: list[float], share: float) -> float:
    return float(np.percentile(np.array(values), share)) if values else float("nan")


def print_latencies(
    results: Mapping[Any, list[float]],
    *,
    column: str,
    width: str,
    high: int,
    target_ms: float,
    result: str,
) -> None:
    """A table of each row's p50 and p``high`` (ms) against ``target_ms``, and
    per row the line ``RESULT <result> <column>=<row> runs=.. p50_ms=..
    p<high>_ms=.. under_<target>ms=yes|no`` (``width``: the rows' format spec)."""
    print(f"{column:{width}} {'p50 ms':>8} {f'p{high} ms':>8}  < {target_ms:.0f} ms")
    for row, values in results.items():
        p50, top = percentile(values, 50), percentile(values, high)
        under = "yes" if top < target_ms else "no"
        print(f"{row:{width}} {p50:>8.2f} {top:>8.2f}  {under}")
        print(
            f"RESULT {result} {column}={row} runs={len(values)} "
            f"p50_ms={p50:.2f} p{high}_ms={top:.2f} under_{target_ms:.0f}ms={under}",
            flush=True,
        )


def stall_phase(engine: str, port: int, key: str, n: int) -> None:
    listing = ("\n".join(random_hashes(11, n)) + "\n").encode()
    stop = threading.Event()
    added: list[Added] = [[] for _ in range(ADDERS)]
    adders = [
        threading.Thread(
            target=adder, args=(port, key, random_hashes(100 + i, 50_000), stop, added[i])
        )
        for i in range(ADDERS)
    ]
    latencies: list[float] = []

    def probe() -> None:
        client = Client(port, key)
        while not stop.is_set():
            started = time.perf_counter()
            client.call("GET", "/status/live")
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)

    prober = threading.Thread(target=probe)
    prober.start()
    for thread in adders:
        thread.start()
    started = time.perf_counter()
    boundary = uuid.uuid4().hex
    body = (
        (
            f"--{boundary}\r\nContent-Disposition: form-data; name=file; filename=big.txt\r\n"
            f"Content-Type: text/plain\r\n\r\n"
        ).encode()
        + listing
        + f"\r\n--{boundary}--\r\n".encode()
    )
    client = Client(port, key)
    client.headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    status, answer = client.call("POST", "/v1/banks/imported/import?format=pdq", body)
    import_seconds = time.perf_counter() - started
    stop.set()
    for thread in [*adders, prober]:
        thread.join()
    if status != 200:
        raise SystemExit(f"import failed: {status} {answer[:200]!r}")
    print(
        f"RESULT engine={engine} phase=stall live_p50_ms={percentile(latencies, 50):.1f} "
        f"live_p99_ms={percentile(latencies, 99):.1f} live_max_ms={max(latencies):.1f} "
        f"probes={len(latencies)} adds_during={sum(map(len, added))} "
        f"import_s={import_seconds:.1f}",
        flush=True,
    )


def raw_request(key: str, value: str) -> bytes:
    body = json.dumps({"pdq": value}).encode()
    head = (
        f"POST /c/bank/adds/signal HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def read_response(stream: socket.socket, buffer: bytearray) -> int:
    """Read one HTTP/1.1 response with a Content-Length body; its status."""
    while b"\r\n\r\n" not in buffer:
        buffer += stream.recv(65536)
    end = buffer.index(b"\r\n\r\n") + 4
    head = bytes(buffer[:end]).decode("latin-1")
    length = int(head.lower().split("content-length:")[1].split("\r\n")[0])
    while len(buffer) < end + length:
        buffer += stream.recv(65536)
    del buffer[: end + length]
    return int(head.split(" ", 2)[1])


def adder_process(
    port: int,
    key: str,
    seeds: list[int],
    seconds: float,
    counts: Any,
    latest: Any,
) -> None:
    """Client threads (one keep-alive connection each, requests built before
    the clock starts) adding hashes one at a time; ``counts[i]`` is how many
    thread ``i`` has had answered, ``latest`` when thread 0's last one was."""

    def run(seed: int) -> None:
        values = random_hashes(seed, 60_000)
        requests = [raw_request(key, value) for value in values]
        stream = socket.create_connection(("127.0.0.1", port))
        buffer = bytearray()
        deadline = time.monotonic() + seconds
        for request in requests:
            if time.monotonic() > deadline:
                break
            stream.sendall(request)
            if read_response(stream, buffer) != 200:
                counts[ERRORS] += 1
            counts[seed % ADDERS] += 1
            if seed % ADDERS == 0:
                latest.value = time.monotonic()
        stream.close()

    threads = [threading.Thread(target=run, args=(seed,)) for seed in seeds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


#: counts[ERRORS] holds the adds not answered 200.
ERRORS = ADDERS


def settle(url: str, port: int, key: str) -> None:
    """Wait until both workers have applied every change (the stall phase's
    import): the adds phase measures adds, not that catch-up."""
    database = Database.open(url, migrate=False)
    with database.reading() as session:
        target = latest_seq(session)
    database.close()
    started = time.monotonic()
    caught_up: set[int] = set()
    while len(caught_up) < 2:
        status, body = Client(port, key).call("GET", "/status")  # a new connection each
        if status == 200 and json.loads(body)["index"]["seq"] >= target:
            caught_up.add(json.loads(body)["worker"])
        time.sleep(0.1)
    print(f"workers caught up with the log in {time.monotonic() - started:.1f} s", flush=True)


def adds_phase(engine: str, port: int, key: str, seconds: float) -> None:
    """Adds per second from 8 client threads (in 2 processes, so the clients'
    own Python does not cap the figure); meanwhile a checker takes thread 0's
    latest add, again and again, and times how long after its response it
    matches."""
    context = multiprocessing.get_context("spawn")
    counts = context.Array("l", ADDERS + 1)
    latest = context.Value("d", 0.0)
    seeds = [ADD_SEED + i for i in range(ADDERS)]
    clients = [
        context.Process(
            target=adder_process, args=(port, key, seeds[i::2], seconds, counts, latest)
        )
        for i in range(2)
    ]
    thread_zero = random_hashes(seeds[0], 60_000)
    for process in clients:
        process.start()
    while sum(counts[:ADDERS]) == 0:  # the clients build their requests first
        time.sleep(0.01)
    started = time.monotonic()
    client = Client(port, key)
    delays: list[float] = []
    while any(process.is_alive() for process in clients):
        done = counts[0]
        if not done:
            time.sleep(0.01)
            continue
        value, answered = thread_zero[done - 1], latest.value
        while True:
            status, body = client.call("GET", f"/v1/lookup?signal_type=pdq&signal={value}")
            if status == 200 and json.loads(body)["matches"]:
                break
        delays.append((time.monotonic() - answered) * 1000)
        time.sleep(0.02)  # a lookup now and then, not a second load
    elapsed = time.monotonic() - started
    rate = sum(counts[:ADDERS]) / elapsed
    print(
        f"RESULT engine={engine} phase=adds adds_per_s={rate:.0f} "
        f"ratio_vs_hma={rate / HMA_ADDS_PER_S:.2f} matchable_p99_ms={percentile(delays, 99):.0f} "
        f"matchable_max_ms={max(delays, default=float('nan')):.0f} checked={len(delays)} "
        f"errors={counts[ERRORS]}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="hashes in the bank")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the adds phase")
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    for engine in args.engines.split(","):
        with tempfile.TemporaryDirectory() as folder, database_url(engine, Path(folder)) as url:
            started = time.perf_counter()
            database = Database.open(url)
            banks = Banks(database)
            for name in ("adds", "imported"):
                banks.create(name)
            banks.import_entries("adds", [Entry({"pdq": v}) for v in random_hashes(3, args.n)])
            database.close()
            print(f"{engine}: bank of {args.n} built in {time.perf_counter() - started:.1f} s")
            server, port, key = start_server(url, Path(folder))
            try:
                stall_phase(engine, port, key, args.n)
                settle(url, port, key)
                adds_phase(engine, port, key, args.seconds)
            finally:
                server.terminate()
                server.wait(60)


if __name__ == "__main__":
    main()
