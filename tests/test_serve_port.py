"""One server per port: a second ``hashmatch serve`` on a held port refuses to
start, and settings reach the server without passing through the environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hashmatch.api.workers import listening_socket, port_held
from hashmatch.cli import app
from hashmatch.errors import ConfigurationError
from hashmatch.settings import Settings
from tests.servers import call, free_port, start_server, wait_ready


def test_a_held_port_is_refused() -> None:
    port = free_port()
    with (
        port_held("127.0.0.1", port),
        pytest.raises(ConfigurationError, match="already running"),
        port_held("127.0.0.1", port),
    ):
        pass
    with port_held("127.0.0.1", port):  # released with the block
        pass


def test_a_port_shared_with_reuseport_is_refused() -> None:
    """Another program's SO_REUSEPORT socket would let workers join it: refused."""
    port = free_port()
    other = listening_socket("127.0.0.1", port)
    try:
        with (
            pytest.raises(ConfigurationError, match="another server running there"),
            port_held("127.0.0.1", port),
        ):
            pass
    finally:
        other.close()


def test_serve_hands_settings_over_without_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[Settings] = []
    before = dict(os.environ)

    def create_app(settings: Settings) -> Settings:
        served.append(settings)
        return settings

    def run(app: Any, **options: Any) -> None:
        assert options["port"] == port
        with pytest.raises(ConfigurationError), port_held("127.0.0.1", port):
            pass  # the port is claimed while the server runs

    port = free_port()
    # serve imports them when it runs (so that other commands need not).
    monkeypatch.setattr("hashmatch.api.app.create_app", create_app)
    monkeypatch.setattr("uvicorn.run", run)
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    result = CliRunner().invoke(app, ["--database-url", database_url, "serve", "--port", str(port)])
    assert result.exit_code == 0, result.output
    assert dict(os.environ) == before
    [settings] = served
    assert (settings.database_url, settings.port) == (database_url, port)


@pytest.mark.slow
def test_a_second_server_on_the_same_port_refuses_to_start(tmp_path: Path) -> None:
    port = free_port()
    first, base = start_server(
        f"sqlite:///{tmp_path / 'one.db'}", tmp_path / "one", workers=2, port=port
    )
    try:
        wait_ready(base, None)
        second, _ = start_server(
            f"sqlite:///{tmp_path / 'two.db'}",
            tmp_path / "two",
            workers=2,
            port=port,
            capture=True,
        )
        output, _ = second.communicate(timeout=60)
        assert second.returncode == 2, output
        assert f"127.0.0.1:{port}" in output
        assert call(f"{base}/status/live")[0] == 200  # the first one serves on
    finally:
        first.terminate()
        first.wait(30)
