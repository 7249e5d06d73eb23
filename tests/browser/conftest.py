"""Fixtures for tests in a real browser: Debian's Chromium driven by Playwright,
against the app served by uvicorn on loopback.

    def test_login_page(live_server: LiveServer, page: Page) -> None:
        live_server.add_user("ada", "viewer", PASSWORD)
        sign_in(page, live_server.url, "ada", PASSWORD)

The browser starts once per session; each test gets a fresh server (its own
database) and a fresh browser context (no cookies from another test).
Chromium comes from the system (``apt-get install chromium``), never from
``playwright install``; without it these tests fail, they do not skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Error, Page, ViewportSize, sync_playwright

from hashmatch.api import create_app
from hashmatch.api.service import Service
from hashmatch.settings import Settings
from hashmatch.store import Database

CHROMIUM_ENV = "HASHMATCH_CHROMIUM"
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: runs in Chromium (still run in CI)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    # Read before the hermetic environment fixture runs: it only clears
    # HASHMATCH_* variables per test, and this one names a program, not a setting.
    path = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium")
    if not path:
        pytest.fail(
            "the browser tests need Chromium: `apt-get install chromium` "
            f"(Debian's package; or set {CHROMIUM_ENV} to its path). "
            "Never `playwright install`.",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Browser]:
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
    except Error as error:
        playwright.stop()
        pytest.fail(f"Chromium at {chromium_path} did not start: {error}", pytrace=False)
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a context of its own; an uncaught script error fails the test."""
    context = browser.new_context(viewport=VIEWPORT)
    # Pages here answer in milliseconds, but CI runs two test workers on two
    # cores, where a server under the other worker's load has taken over 10 s.
    context.set_default_timeout(30_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(f"{opened.url}: {error}"))
    try:
        yield opened
    finally:
        context.close()
    assert not errors, "scripts failed in the page:\n" + "\n".join(errors)


@dataclass
class LiveServer:
    """The app served on loopback by uvicorn in a thread of this process."""

    url: str
    settings: Settings
    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    @property
    def service(self) -> Service:
        """The running app's service (the server runs in this process)."""
        service: Service = self.app.state.service
        return service

    def add_user(self, name: str, role: str, password: str) -> None:
        from hashmatch.accounts.users import Users

        database = Database.open(self.database_url)
        try:
            Users(database, self.settings).create(name, role, password)
        finally:
            database.close()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def start_live_server(settings: Settings) -> LiveServer:
    app = create_app(settings)
    listener = socket.socket()
    # uvicorn serves on this very socket (closing it at shutdown): no race
    # for a free port between choosing it and binding it.
    listener.bind(("127.0.0.1", 0))
    host, port = listener.getsockname()
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="live-server", daemon=True
    )
    thread.start()
    live = LiveServer(f"http://{host}:{port}", settings, app, server, thread)
    for _ in range(600):
        if server.started or not thread.is_alive():
            break
        thread.join(timeout=0.05)
    if not server.started:
        live.stop()
        listener.close()
        pytest.fail(f"the live server did not start on port {port}", pytrace=False)
    live.service.wait_until_loaded(60)
    return live


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start the app with settings of the test's choosing (SQLite in tmp_path
    unless ``database_url`` is given); every server started stops after the test."""
    started: list[LiveServer] = []

    def start(**overrides: Any) -> LiveServer:
        folder = tmp_path / f"server-{len(started)}"
        values: dict[str, Any] = {
            "data_dir": folder / "data",
            "database_url": f"sqlite:///{folder / 'hashmatch.db'}",
            **overrides,
        }
        folder.mkdir()
        live = start_live_server(Settings(**values))
        started.append(live)
        return live

    try:
        yield start
    finally:
        for live in started:
            live.stop()


@pytest.fixture
def live_server(serve: Callable[..., LiveServer]) -> LiveServer:
    """The app on SQLite with the default settings."""
    return serve()


@pytest.fixture
def reporting_server(serve: Callable[..., LiveServer], tmp_path: Path, ncmec: Any) -> LiveServer:
    """A server that keeps media and files CyberTipline reports to ``ncmec``
    (the local simulator), with the reporter and both keys set."""
    from tests.reporting_world import server_settings

    return serve(**server_settings(tmp_path, ncmec))
