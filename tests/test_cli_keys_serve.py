"""``hashmatch keys`` and a real ``hashmatch serve`` process on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashmatch.cli import app

runner = CliRunner()


def test_keys_create_list_revoke(database_url: str) -> None:
    def cli(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, ["--database-url", database_url, "keys", *args])

    created = cli("create", "--name", "uploads", "--scope", "hash,match")
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("hm_")
    [listed] = [json.loads(line) for line in cli("list").stdout.splitlines()]
    assert listed["scopes"] == ["hash", "match"]
    assert secret not in cli("list").stdout
    assert json.loads(cli("revoke", "uploads").stdout)["revoked_at"] is not None
    bad = cli("create", "--name", "x", "--scope", "root")
    assert bad.exit_code == 2
    assert "scopes must be some of" in bad.stderr
    assert cli("revoke", "nobody").exit_code == 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, key: str | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.slow
def test_serve_process(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'served.db'}"
    created = runner.invoke(
        app, ["--database-url", database_url, "keys", "create", "--name", "k", "--scope", "match"]
    )
    key = created.stdout.strip().splitlines()[-1]
    port = _free_port()
    environment = {**os.environ, "HASHMATCH_DATA_DIR": str(tmp_path / "data")}
    server = subprocess.Popen(
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
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if _get(f"{base}/status/live")[0] == 200 and _get(f"{base}/status", key)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail("the server did not become ready")
        assert _get(f"{base}/status")[0] == 401
        status, body = _get(f"{base}/v1/lookup?signal_type=md5&signal={'0' * 32}", key)
        assert (status, body) == (200, {"matches": []})
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert key not in output  # secrets never reach the logs
