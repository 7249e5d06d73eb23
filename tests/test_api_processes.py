"""Two ``hashmatch serve`` processes on one database follow one change log."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashmatch.apikeys import ApiKeys
from hashmatch.store import Database

PDQ = "5f" * 32


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(url: str, key: str, body: dict | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def servers(database_url: str, tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    database = Database.open(database_url)
    key = ApiKeys(database).create("admin", ["admin"])[0]
    database.close()
    processes, bases = [], []
    for number in range(2):
        port = _free_port()
        environment = {**os.environ, "HASHMATCH_DATA_DIR": str(tmp_path / f"host-{number}")}
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hashmatch.cli",
                    "--database-url",
                    database_url,
                    "serve",
                    "--port",
                    str(port),
                ],
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        bases.append(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 90
        for base in bases:
            while True:
                try:
                    if _call(f"{base}/status", key)[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"{base} did not become ready")
                time.sleep(0.2)
        yield bases, key
    finally:
        for process in processes:
            process.terminate()
            process.wait(30)


@pytest.mark.slow
def test_content_added_through_one_process_matches_in_the_other(
    servers: tuple[list[str], str],
) -> None:
    (first, second), key = servers
    lookup = f"{second}/v1/lookup?signal_type=pdq&signal={PDQ}"
    assert _call(lookup, key)[1] == {"matches": []}
    assert _call(f"{first}/v1/banks", key, {"name": "shared"})[0] == 201
    status, added = _call(f"{first}/v1/banks/shared/content", key, {"signals": {"pdq": PDQ}})
    assert status == 201
    added_at = time.monotonic()
    while time.monotonic() - added_at < 2.0:  # the refresh interval is 0.5 s
        matches = _call(lookup, key)[1]["matches"]
        if matches:
            break
        time.sleep(0.05)
    assert [m["content_id"] for m in matches] == [added["content_id"]]
