"""A fetch in a child process, killed with -9 mid-fetch, for the tests that
check a killed fetch resumes exactly where its checkpoint says."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from hashmatch.errors import ExchangeBusyError
from hashmatch.exchange import statuses
from hashmatch.store import Database

T = TypeVar("T")

#: A child that fetches exchange ``sys.argv[2]`` until it is up to date, taking turns.
CHILD = """
import sys, time
from hashmatch.errors import ExchangeBusyError
from hashmatch.exchange import Fetcher
from hashmatch.media.download import UrlPolicy
from hashmatch.store import Database

database = Database.open(sys.argv[1])
fetcher = Fetcher(database, UrlPolicy(allow_private=True), retry_wait=0, lease_seconds=1)
while True:
    try:
        result = fetcher.fetch(sys.argv[2])
    except ExchangeBusyError:
        time.sleep(0.02)
        continue
    assert result.succeeded, result.error
    if result.up_to_date:
        break
"""


def fetch_child(database_url: str, exchange: str) -> subprocess.Popen[bytes]:
    """Start a child process that fetches ``exchange`` until it is up to date."""
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, database_url, exchange], env=os.environ.copy()
    )


def kill_after(database: Database, exchange: str, fetched: int, database_url: str) -> None:
    """Start a fetch child and kill it with -9 once ``fetched`` records are checkpointed."""
    process = fetch_child(database_url, exchange)
    try:
        while statuses(database, exchange)[0].fetched_total < fetched:
            assert process.poll() is None, "the child ended before it was killed"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()


def once_the_lease_lapses(fetch: Callable[[], T]) -> T:
    """``fetch()``, retried while the killed child's lease (1 s) still holds the exchange."""
    while True:
        try:
            return fetch()
        except ExchangeBusyError:
            time.sleep(0.1)
