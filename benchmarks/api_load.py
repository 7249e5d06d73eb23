"""HTTP lookups per second against a 1M-hash bank: single and batch.

    python benchmarks/api_load.py                     # 1M hashes, 2 workers, 30 s per mode
    python benchmarks/api_load.py --n 100000 --seconds 5

Builds a bank of N random PDQ hashes in a fresh SQLite database, starts
``hashmatch serve`` on loopback with ``--workers`` processes, waits until it
is ready, then drives it from separate load-generator processes (asyncio,
keep-alive connections, one request in flight per connection, requests built
before the clock starts) for ``--seconds`` per mode: ``single`` is GET
/v1/lookup with one hash, ``batch`` is POST /v1/lookup with ``--batch``
hashes.  Half the queried hashes are in the bank.
Ends with the memory of each worker after the load (RSS; the part of
it that is the mapped index snapshot, shared by the workers; its anonymous
(private) part; and PSS, which divides shared pages among the
processes that map them), then one line per mode::

    RESULT memory worker=<i> hashes=<n> rss_mb=<x> snapshot_mb=<x> anon_mb=<x> pss_mb=<x>
    RESULT mode=<single|batch> requests_per_s=<x> hashes_per_s=<x> p50_ms=<x> p99_ms=<x> errors=<n>
"""

from __future__ import annotations

import argparse
import asyncio
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


def requests_for(load: Load, count: int, seed: int) -> list[bytes]:
    """Ready-made HTTP/1.1 requests (half the hashes in the bank), so that the
    generator spends its time sending, not building."""
    rng = np.random.default_rng(seed)

    def some_hash() -> str:
        if rng.random() < 0.5:
            return load.known[int(rng.integers(0, len(load.known)))]
        return rng.integers(0, 256, 32, np.uint8).tobytes().hex()

    head = f"Host: 127.0.0.1\r\nAuthorization: Bearer {load.key}\r\n"
    made = []
    for _ in range(count):
        if load.mode == "single":
            target = f"/v1/lookup?signal_type=pdq&signal={some_hash()}"
            made.append(f"GET {target} HTTP/1.1\r\n{head}\r\n".encode())
        else:
            hashes = [{"signal_type": "pdq", "signal": some_hash()} for _ in range(load.batch)]
            body = json.dumps({"hashes": hashes}).encode()
            made.append(
                f"POST /v1/lookup HTTP/1.1\r\n{head}Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
    return made


async def _connection(
    load: Load, requests: list[bytes], deadline: float, latencies: list[float]
) -> int:
    """One keep-alive connection, one request in flight, until the deadline; its errors."""
    reader, writer = await asyncio.open_connection("127.0.0.1", load.port)
    errors = 0
    index = 0
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(requests[index % len(requests)])
            index += 1
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors += 1
                if errors <= 3:
                    print(f"error: HTTP {status}", file=sys.stderr)
    except (OSError, asyncio.IncompleteReadError) as problem:
        errors += 1
        print(f"error: {type(problem).__name__}: {problem}", file=sys.stderr)
    finally:
        writer.close()
    return errors


def generate(load: Load, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """One load-generator process: ``connections`` concurrent keep-alive connections."""
    requests = requests_for(load, 20_000 if load.mode == "single" else 500, os.getpid())
    latencies: list[float] = []

    async def run() -> int:
        deadline = time.perf_counter() + load.seconds
        counts = await asyncio.gather(
            *(_connection(load, requests, deadline, latencies) for _ in range(load.connections))
        )
        return sum(counts)

    errors = asyncio.run(run())
    queue.put((latencies, errors))


def worker_memory(server_pid: int) -> list[dict[str, float]]:
    """Per worker process of the server: RSS, its anonymous and file-backed
    parts, and PSS (shared pages divided among the processes that map them), MiB."""
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    figures = []
    for pid in children:
        if b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes():
            continue  # multiprocessing's helper, not a worker
        status = Path(f"/proc/{pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        pss = next(line.split()[1] for line in rollup.splitlines() if line.startswith("Pss:"))

        def mib(text: str) -> float:
            return int(text.split()[0]) / 1024

        figures.append(
            {
                "snapshot_mb": _mapped_snapshot_kib(pid) / 1024,
                "rss_mb": mib(fields["VmRSS"]),
                "anon_mb": mib(fields["RssAnon"]),
                "pss_mb": int(pss) / 1024,
            }
        )
    return figures


def _mapped_snapshot_kib(pid: str) -> int:
    """Resident KiB of the index snapshot files a process maps (shared pages)."""
    total = 0
    in_snapshot = False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        first = line.split(maxsplit=1)[0]
        if "-" in first and not first.endswith(":"):  # a mapping's header line
            in_snapshot = "/index/" in line and line.rstrip().endswith(".npy")
        elif in_snapshot and first == "Rss:":
            total += int(line.split()[1])
    return total


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
    parser.add_argument("--clients", type=int, default=1, help="load-generator processes")
    parser.add_argument("--connections", type=int, default=16, help="connections per generator")
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
            memory = worker_memory(server.pid)
        finally:
            server.terminate()
            server.wait(30)
    for number, worker in enumerate(memory):
        print(
            f"RESULT memory worker={number} hashes={args.n} rss_mb={worker['rss_mb']:.0f} "
            f"snapshot_mb={worker['snapshot_mb']:.0f} "
            f"anon_mb={worker['anon_mb']:.0f} "
            f"pss_mb={worker['pss_mb']:.0f}"
        )
    for mode, r in figures.items():
        print(
            f"RESULT mode={mode} requests_per_s={r['requests_per_s']:.0f} "
            f"hashes_per_s={r['hashes_per_s']:.0f} p50_ms={r['p50_ms']:.2f} "
            f"p99_ms={r['p99_ms']:.2f} errors={r['errors']}"
        )


if __name__ == "__main__":
    main()
