"""Read-your-writes across processes: after ``refresh_soon`` (a list import
run in a child process, an exchange fetch), the next lookup waits for a
refresh of the index that began after it, even when one was already under
way and may have read the change log before the write."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hashmatch.api import create_app
from hashmatch.api.service import Service
from hashmatch.settings import Settings


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    settings = Settings(data_dir=tmp_path / "data", deliver_in_serve=False)
    app = create_app(settings)
    with TestClient(app):
        loaded: Service = app.state.service
        loaded.wait_until_loaded(60)
        yield loaded


def test_a_lookup_after_refresh_soon_waits_for_the_refresh_under_way(
    service: Service,
) -> None:
    """The write is made elsewhere and announced; a refresh begins (it will
    see the write) and is slow; a lookup made meanwhile must wait for it,
    not answer from the index as it was."""
    matcher = service.matcher()
    original = matcher.refresh
    events: list[str] = []
    first_started, release_first = threading.Event(), threading.Event()

    def refresh() -> None:
        if not first_started.is_set():
            first_started.set()
            release_first.wait(30)
        original()
        events.append("refreshed")

    matcher.refresh = refresh  # type: ignore[method-assign]
    service.refresh_soon()
    under_way = threading.Thread(target=service.matcher)
    under_way.start()
    assert first_started.wait(30)
    lookup = threading.Thread(target=lambda: (service.matcher(), events.append("lookup")))
    lookup.start()
    lookup.join(1.0)  # time to answer at once, if it (wrongly) would
    release_first.set()
    under_way.join(30)
    lookup.join(30)
    assert events.index("refreshed") < events.index("lookup")
