"""HTTP lookups per second against a 1M-hash bank: single and batch.

    python benchmarks/api_load.py                     # 1M hashes, 2 workers, 30 s per mode
    python benchmarks/api_load.py --n 100000 --seconds 5

Builds a bank of N random PDQ hashes in a fresh SQLite database, starts
``hashmatch serve`` on loopback with ``--workers`` processes, waits until it
is ready, then drives it from separate load-generator processes (keep-alive
connections, one request in flight per connection) for ``--seconds`` per
mode: ``single`` is GET /v1/lookup with one hash, ``batch`` is POST
/v1/lookup with ``--batch`` hashes.  Half the queried hashes are in the bank.
Ends with one line per mode::

    RESULT mode=<single|batch> requests_per_s=<x> hashes_per_s=<x> p50_ms=<x> p99_ms=<x> errors=<n>
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
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hashmatch.apikeys import ApiKeys
from hashmatch.banks import Banks
from hashmatch.hashlists import Entry
from hashmatch.store import Database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_bank(url: str, n: int) -> tuple[str, list[str]]:
    values = [
        row.tobytes().hex() for row in np.random.default_rng(3).integers(0, 256, (n, 32), np.uint8)
    ]
    database = Database.open(url)
    key = ApiKeys(database).create("bench", ["match"])[0]
    banks = Banks(database)
    banks.create("bench")
    banks.import_entries("bench", [Entry({"pdq": value}) for value in values])
    database.close()
    return key, values[:5000]


@dataclass(frozen=True)
class Load:
    """One mode's load: where it goes, what it sends, for how long."""

    port: int
    key: str
    mode: str
    batch: int
    known: list[str]
    seconds: float
    processes: int
    connections: int


def generate(load: Load, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """One load-generator process: ``connections`` sockets, round-robin, until time is up."""
    port, key, mode, batch, known, seconds = (
        load.port,
        load.key,
        load.mode,
        load.batch,
        load.known,
        load.seconds,
    )
    rng = np.random.default_rng(os.getpid())
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    clients = [
        http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(load.connections)
    ]
    latencies: list[float] = []
    errors = 0

    def some_hash() -> str:
        if rng.random() < 0.5:
            return known[int(rng.integers(0, len(known)))]
        return rng.integers(0, 256, 32, np.uint8).tobytes().hex()

    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for client in clients:
            started = time.perf_counter()
            try:
                if mode == "single":
                    client.request(
                        "GET", f"/v1/lookup?signal_type=pdq&signal={some_hash()}", headers=headers
                    )
                else:
                    body = {
                        "hashes": [
                            {"signal_type": "pdq", "signal": some_hash()} for _ in range(batch)
                        ]
                    }
                    client.request("POST", "/v1/lookup", json.dumps(body), headers)
                response = client.getresponse()
                response.read()
                if response.status != 200:
                    errors += 1
                    if errors <= 3:
                        print(f"error: HTTP {response.status}", file=sys.stderr)
            except (OSError, http.client.HTTPException) as problem:
                errors += 1
                if errors <= 3:
                    print(f"error: {type(problem).__name__}: {problem}", file=sys.stderr)
                client.close()
            latencies.append(time.perf_counter() - started)
    queue.put((latencies, errors))


def run_mode(load: Load) -> dict[str, float]:
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    workers = [
        multiprocessing.Process(target=generate, args=(load, queue)) for _ in range(load.processes)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    latencies = np.array([value for lat, _ in results for value in lat])
    errors = sum(err for _, err in results)
    per_request = load.batch if load.mode == "batch" else 1
    return {
        "requests_per_s": len(latencies) / load.seconds,
        "hashes_per_s": len(latencies) * per_request / load.seconds,
        "p50_ms": float(np.percentile(latencies, 50) * 1000),
        "p99_ms": float(np.percentile(latencies, 99) * 1000),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="hashes in the bank")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--seconds", type=float, default=30, help="duration of each mode")
    parser.add_argument("--batch", type=int, default=100, help="hashes per batch request")
    parser.add_argument("--clients", type=int, default=2, help="load-generator processes")
    parser.add_argument("--connections", type=int, default=8, help="connections per generator")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="api-load-") as folder:
        url = f"sqlite:///{folder}/bench.db"
        print(f"building a bank of {args.n:,} PDQ hashes ...", flush=True)
        key, known = build_bank(url, args.n)
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hashmatch.cli",
                "--database-url",
                url,
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            env={**os.environ, "HASHMATCH_DATA_DIR": str(Path(folder) / "data")},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            started = time.perf_counter()
            ready_in_a_row = 0
            # Each worker loads its own index: ready means many answers in a row
            # (new connections land on any worker).
            while ready_in_a_row < 20 * args.workers:
                try:
                    client = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    client.request("GET", "/status", headers={"Authorization": f"Bearer {key}"})
                    ok = client.getresponse().status == 200
                    client.close()
                    ready_in_a_row = ready_in_a_row + 1 if ok else 0
                    if ok:
                        continue
                except OSError:
                    ready_in_a_row = 0
                if time.perf_counter() - started > 600:
                    raise SystemExit("the server did not become ready")
                time.sleep(0.5)
            print(f"server ready after {time.perf_counter() - started:.1f} s", flush=True)
            figures = {
                mode: run_mode(
                    Load(
                        port,
                        key,
                        mode,
                        args.batch,
                        known,
                        args.seconds,
                        args.clients,
                        args.connections,
                    )
                )
                for mode in ("single", "batch")
            }
        finally:
            server.terminate()
            server.wait(30)
    for mode, r in figures.items():
        print(
            f"RESULT mode={mode} requests_per_s={r['requests_per_s']:.0f} "
            f"hashes_per_s={r['hashes_per_s']:.0f} p50_ms={r['p50_ms']:.2f} "
            f"p99_ms={r['p99_ms']:.2f} errors={r['errors']}"
        )


if __name__ == "__main__":
    main()
