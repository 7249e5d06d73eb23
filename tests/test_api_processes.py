"""Two ``hashmatch serve`` processes on one database follow one change log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashmatch.apikeys import ApiKeys
from hashmatch.store import Database
from tests.servers import call, start_server, wait_ready

PDQ = "5f" * 32


@pytest.fixture
def servers(database_url: str, tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    database = Database.open(database_url)
    key = ApiKeys(database).create("admin", ["admin"])[0]
    database.close()
    # The second "host" runs two workers: each follows the change log itself.
    started = [
        start_server(database_url, tmp_path / f"host-{number}", workers=number + 1)
        for number in range(2)
    ]
    try:
        for number, (_, base) in enumerate(started):
            wait_ready(base, key, workers=number + 1)
        yield [base for _, base in started], key
    finally:
        for process, _ in started:
            process.terminate()
            process.wait(30)


@pytest.mark.slow
def test_content_added_through_one_process_matches_in_the_other(
    servers: tuple[list[str], str],
) -> None:
    (first, second), key = servers
    lookup = f"{second}/v1/lookup?signal_type=pdq&signal={PDQ}"
    assert call(lookup, key)[1] == {"matches": []}
    assert call(f"{first}/v1/banks", key, {"name": "shared"})[0] == 201
    status, added = call(f"{first}/v1/banks/shared/content", key, {"signals": {"pdq": PDQ}})
    assert status == 201
    added_at = time.monotonic()
    while time.monotonic() - added_at < 2.0:  # the refresh interval is 0.5 s
        matches = call(lookup, key)[1]["matches"]
        if matches:
            break
        time.sleep(0.05)
    assert [m["content_id"] for m in matches] == [added["content_id"]]
