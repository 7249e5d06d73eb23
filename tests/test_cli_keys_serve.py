"""``hashmatch keys`` and a real ``hashmatch serve`` process on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashmatch.cli import app
from hashmatch.cli.serve_command import describe_database
from tests.servers import call, start_server, wait_ready

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


@pytest.mark.slow
def test_serve_process(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'served.db'}"
    server, base = start_server(database_url, tmp_path / "data", capture=True)
    try:
        # Keys are read at request time: the first can be made once it runs.
        wait_ready(base, None)
        created = runner.invoke(
            app,
            ["--database-url", database_url, "keys", "create", "--name", "k", "--scope", "match"],
        )
        key = created.stdout.strip().splitlines()[-1]
        wait_ready(base, key)
        assert call(f"{base}/status/live")[0] == 200
        assert call(f"{base}/status")[0] == 401
        status, body = call(f"{base}/v1/lookup?signal_type=md5&signal={'0' * 32}", key)
        assert (status, body) == (200, {"matches": []})
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert key not in output  # secrets never reach the logs
    assert "No API keys yet" in output
    assert f"database: SQLite file {tmp_path / 'served.db'}" in output
    assert f"index snapshots: {tmp_path / 'data' / 'index'}" in output


def test_serve_refuses_keyless_hma_routes_off_loopback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHMATCH_HMA_WITHOUT_KEY", "true")
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    result = runner.invoke(app, ["--database-url", database_url, "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "only allowed on a loopback address" in result.stderr


@pytest.mark.slow
def test_workers_share_the_port_and_stop_together(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'served.db'}"
    created = runner.invoke(
        app, ["--database-url", database_url, "keys", "create", "--name", "k", "--scope", "match"]
    )
    key = created.stdout.strip().splitlines()[-1]
    server, base = start_server(database_url, tmp_path / "data", workers=2)
    try:
        workers = wait_ready(base, key, workers=2)  # the kernel spreads new connections
        assert len(workers) == 2
    finally:
        server.terminate()
        server.wait(30)
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists()  # no worker outlives the server


def test_a_taken_key_name_fails_visibly(database_url: str) -> None:
    """``KEY=$(hashmatch keys create ...)`` twice: the second exits 2, prints
    nothing on stdout (so KEY is empty, and the shell sees the status), and
    says on stderr which key exists."""

    def create():  # type: ignore[no-untyped-def]
        args = ["--database-url", database_url, "keys", "create", "-n", "first", "-s", "match"]
        return runner.invoke(app, args)

    first = create()
    assert first.stdout.startswith("hm_")
    assert len(first.stdout.splitlines()) == 1  # the key alone: no | tail needed
    again = create()
    assert (again.exit_code, again.stdout) == (2, "")
    assert "an API key named 'first' already exists (created " in again.stderr
    assert "scopes match" in again.stderr
    assert "keys revoke first" in again.stderr


def test_the_database_is_named_without_its_password() -> None:
    described = describe_database("postgresql://app:s3cret@db.internal:5432/hashmatch")
    assert described == "PostgreSQL database hashmatch on db.internal:5432 as app"
    assert describe_database("sqlite:////srv/hm/hashmatch.db") == "SQLite file /srv/hm/hashmatch.db"
    assert describe_database("postgresql+psycopg://db/x") == "PostgreSQL database x on db"
