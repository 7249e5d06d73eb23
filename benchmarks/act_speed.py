"""Acting on matches: submission latency, webhook delivery rate and delay, both engines.

    python benchmarks/act_speed.py                        # 1M-hash bank, SQLite and PostgreSQL
    python benchmarks/act_speed.py --n 10000 --seconds 3 --events 500 --engines sqlite

For each engine: a fresh database with a bank of N random PDQ hashes, a
webhook subscribed to every submission event pointing at a receiver on
loopback (a separate process; the server runs with ``url_allow_private``),
and ``hashmatch serve`` (``--workers``, default one, delivering webhooks
itself; with ``--separate-worker`` a ``hashmatch worker`` process delivers
them instead).  Then:

* **submit**: one client, then 8 client threads, send submissions by hash
  (``POST /v1/submissions`` with ``signals``) for ``--seconds`` each, one in
  four a hash of the bank (so the default rule queues it for review), each
  with its own ``content_ref``.  Latency per submission, and for every event
  the receiver got, the delay from the event's ``created_at`` to its arrival
  (the first delivery attempt, as the event is new).
* **deliver**: ``--events`` events written to the outbox in one transaction
  (``hashmatch.actions.outbox.enqueue``, as a submission does); the time until
  the receiver has them all gives deliveries per second.

Targets (issue 11): submission p99 < 25 ms; event -> first attempt p50 <
200 ms; >= 500 deliveries/s to a loopback receiver::

    RESULT engine=<e> phase=submit clients=<n> submissions=<n> per_s=<x> p50_ms=<x> p99_ms=<x>
        errors=<n> events=<n> event_to_attempt_p50_ms=<x> event_to_attempt_p99_ms=<x>
    RESULT engine=<e> phase=deliver events=<n> deliveries_per_s=<x> seconds=<x>
        duplicates=<n>

(each RESULT is printed on one line).  PostgreSQL:
``HASHMATCH_BENCH_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``), in a schema of its own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import select
from worker_stall import Client, database_url, percentile, random_hashes, start_server

from hashmatch.actions.outbox import enqueue
from hashmatch.banks import Banks
from hashmatch.hashlists import Entry
from hashmatch.store import Database
from hashmatch.store.workflow import Event

CLIENTS = 8
#: The receiver is on loopback: webhooks may only go there with this setting.
ALLOW_LOOPBACK = {"HASHMATCH_URL_ALLOW_PRIVATE": "true"}


class _Receiver(BaseHTTPRequestHandler):
    """Takes every delivery (200), noting when each event id first arrived."""

    protocol_version = "HTTP/1.1"
    arrivals: ClassVar[dict[str, float]] = {}
    deliveries: ClassVar[list[int]] = [0]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.arrivals.setdefault(json.loads(body)["event_id"], time.time())
        self.deliveries[0] += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        answer = json.dumps({"arrivals": self.arrivals, "deliveries": self.deliveries[0]})
        body = answer.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def receive(port: Any) -> None:
    """The receiver process: serves until killed; ``port`` is set once it listens."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.daemon_threads = True
    port.value = server.server_address[1]
    server.serve_forever()


def received(port: int) -> dict[str, Any]:
    client = Client(port, "")
    return json.loads(client.call("GET", "/arrivals")[1])  # type: ignore[no-any-return]


def submitter(
    port: int, key: str, seed: int, known: list[str], seconds: float, out: list[float]
) -> int:
    """Submissions by hash, one after another; each latency in ms to ``out``."""
    client = Client(port, key)
    fresh = random_hashes(1000 + seed, 100_000)
    deadline = time.monotonic() + seconds
    errors = 0
    for number, value in enumerate(fresh):
        if time.monotonic() > deadline:
            break
        signal = known[(seed * 7919 + number) % len(known)] if number % 4 == 0 else value
        body = {
            "content_ref": f"upload-{seed}-{number}",
            "user_ref": f"user-{number % 50}",
            "signals": [{"signal_type": "pdq", "signal": signal}],
        }
        started = time.perf_counter()
        status, _ = client.call("POST", "/v1/submissions", json.dumps(body).encode())
        out.append((time.perf_counter() - started) * 1000)
        errors += status != 200
    return errors


def submit_phase(
    engine: str,
    url: str,
    port: int,
    key: str,
    receiver: int,
    known: list[str],
    seconds: float,
    clients: int,
) -> None:
    """``clients`` threads submitting for ``seconds``; the events that
    arrived meanwhile give the delay to their first delivery attempt."""
    before = set(received(receiver)["arrivals"])
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    first_seed = 100 * clients  # each phase its own content_refs

    def run(number: int) -> None:
        errors[number] = submitter(
            port, key, first_seed + number, known, seconds, latencies[number]
        )

    threads = [threading.Thread(target=run, args=(number,)) for number in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    time.sleep(2)  # the last events' deliveries
    arrivals = {
        event: moment
        for event, moment in received(receiver)["arrivals"].items()
        if event not in before
    }
    delays = event_delays(url, arrivals)
    every = [latency for chunk in latencies for latency in chunk]
    print(
        f"RESULT engine={engine} phase=submit clients={clients} submissions={len(every)} "
        f"per_s={len(every) / elapsed:.0f} p50_ms={percentile(every, 50):.1f} "
        f"p99_ms={percentile(every, 99):.1f} errors={sum(errors)} events={len(delays)} "
        f"event_to_attempt_p50_ms={percentile(delays, 50):.0f} "
        f"event_to_attempt_p99_ms={percentile(delays, 99):.0f}",
        flush=True,
    )


def event_delays(url: str, arrivals: dict[str, float]) -> list[float]:
    """Milliseconds from each event's ``created_at`` (read from the outbox)
    to its first arrival at the receiver."""
    database = Database.open(url, migrate=False)
    with database.reading() as session:
        bodies = dict(session.execute(select(Event.event_id, Event.body)).all())
    database.close()
    return [
        (arrived - datetime.fromisoformat(json.loads(bodies[event])["created_at"]).timestamp())
        * 1000
        for event, arrived in arrivals.items()
        if event in bodies
    ]


def deliver_phase(engine: str, url: str, receiver: int, events: int) -> None:
    before = received(receiver)
    already = len(before["arrivals"])
    database = Database.open(url, migrate=False)
    with database.transaction() as session:
        for number in range(events):
            enqueue(session, "submission.verdict", {"benchmark": number})
    database.close()
    started = time.perf_counter()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        now = received(receiver)
        if len(now["arrivals"]) - already >= events:
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    duplicates = (now["deliveries"] - before["deliveries"]) - (len(now["arrivals"]) - already)
    print(
        f"RESULT engine={engine} phase=deliver events={events} "
        f"deliveries_per_s={events / elapsed:.0f} seconds={elapsed:.2f} duplicates={duplicates}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="hashes in the bank")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the submit phase")
    parser.add_argument("--events", type=int, default=5000, help="events of the deliver phase")
    parser.add_argument("--workers", type=int, default=1, help="worker processes of serve")
    parser.add_argument(
        "--separate-worker",
        action="store_true",
        help="deliver from a `hashmatch worker` process, not from serve",
    )
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    receiver_port = context.Value("i", 0)
    receiver = context.Process(target=receive, args=(receiver_port,), daemon=True)
    receiver.start()
    while not receiver_port.value:
        time.sleep(0.01)
    for engine in args.engines.split(","):
        with tempfile.TemporaryDirectory() as folder, database_url(engine, Path(folder)) as url:
            started = time.perf_counter()
            database = Database.open(url)
            banks = Banks(database)
            banks.create("known")
            known = random_hashes(3, args.n)
            banks.import_entries("known", [Entry({"pdq": v}) for v in known])
            database.close()
            print(f"{engine}: bank of {args.n} built in {time.perf_counter() - started:.1f} s")
            server, port, key = start_server(
                url,
                Path(folder),
                scopes=("submit", "curate", "match"),
                workers=args.workers,
                env={**ALLOW_LOOPBACK, "HASHMATCH_DELIVER_IN_SERVE": str(not args.separate_worker)},
            )
            worker = (
                subprocess.Popen(
                    [sys.executable, "-m", "hashmatch.cli", "--database-url", url, "worker"],
                    env={**os.environ, **ALLOW_LOOPBACK},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                if args.separate_worker
                else None
            )
            try:
                hook = {
                    "name": "bench",
                    "url": f"http://127.0.0.1:{receiver_port.value}/hook",
                    "events": ["submission.verdict", "submission.matched"],
                }
                status, answer = Client(port, key).call(
                    "POST", "/v1/webhooks", json.dumps(hook).encode()
                )
                if status != 201:
                    raise SystemExit(f"cannot create the webhook: {status} {answer[:200]!r}")
                for clients in (1, CLIENTS):
                    submit_phase(
                        engine,
                        url,
                        port,
                        key,
                        receiver_port.value,
                        known[:10_000],
                        args.seconds,
                        clients,
                    )
                deliver_phase(engine, url, receiver_port.value, args.events)
            finally:
                for process in (server, worker):
                    if process is not None:
                        process.terminate()
                        process.wait(60)
    receiver.kill()


if __name__ == "__main__":
    main()
