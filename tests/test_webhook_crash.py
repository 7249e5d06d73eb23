"""kill -9 a ``hashmatch worker`` mid-delivery: after a restart every event
reaches the receiver at least once, and a duplicate is the same event."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hashmatch.actions import outbox
from hashmatch.actions.webhook_store import Webhooks
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.workflow import Delivery
from hashmatch.webhooks import verify
from tests.webhook_receiver import Receiver, running

EVENTS = 100


def worker(environment: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stream:
        return subprocess.Popen(
            [sys.executable, "-m", "hashmatch.cli", "worker"],
            env=environment,
            stdout=stream,
            stderr=subprocess.STDOUT,
        )


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds} s for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_kill_9_mid_delivery_loses_no_event(database_url: str, tmp_path: Path) -> None:
    # A receiver that is down: it takes connections and never answers.
    black_hole = socket.socket()
    black_hole.bind(("127.0.0.1", 0))
    black_hole.listen(1000)
    port = black_hole.getsockname()[1]
    environment = {
        **os.environ,
        "HASHMATCH_DATABASE_URL": database_url,
        "HASHMATCH_DATA_DIR": str(tmp_path / "data"),
        "HASHMATCH_URL_ALLOW_PRIVATE": "true",
        "HASHMATCH_DELIVERY_CONCURRENCY": "4",
        "HASHMATCH_WEBHOOK_TIMEOUT_SECONDS": "1",
        "HASHMATCH_WEBHOOK_BACKOFF_SECONDS": "0.05",
        "HASHMATCH_WEBHOOK_BACKOFF_MAX_SECONDS": "0.2",
        "HASHMATCH_WEBHOOK_MAX_ATTEMPTS": "1000",
    }
    database = Database.open(database_url)
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, url_allow_private=True
    )
    secret, _ = Webhooks(database, settings).create(
        "hook", f"http://127.0.0.1:{port}/hook", ["submission.verdict"]
    )
    with database.transaction() as session:
        expected = {outbox.enqueue(session, "submission.verdict", {"n": n}) for n in range(EVENTS)}

    def leased() -> int:
        with database.reading() as session:
            return int(
                session.scalar(select(func.count()).where(Delivery.leased_by.is_not(None))) or 0
            )

    log = tmp_path / "worker.log"
    first = worker(environment, log)
    try:
        wait_for(lambda: leased() > 0, 60, "the first worker to take jobs")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert leased() > 0  # killed with jobs in flight, their leases left to run out
    black_hole.close()

    with running(Receiver(), port=port) as receiver:
        second = worker(environment, log)
        try:
            wait_for(
                lambda: set(receiver.event_ids()) >= expected,
                90,
                f"every event to arrive (worker log: {log})",
            )
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(60) == 0, log.read_text()
    bodies: dict[str, bytes] = {}
    for item in receiver.received:
        event = verify(secret, item.headers, item.body)
        assert (
            bodies.setdefault(event["event_id"], item.body) == item.body
        )  # a duplicate is the same
    assert set(bodies) == expected
    assert outbox.backlog(database).depth == 0
    database.close()
    assert "stopped delivering webhooks" in log.read_text()
