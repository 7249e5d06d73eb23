"""Hashing and matching by URL under /v1, and the per-key rate limit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hashmatch.api import create_app
from hashmatch.api.ratelimit import RateLimiter
from hashmatch.apikeys import ApiKeys
from hashmatch.banks import Banks
from hashmatch.hashing import HashRequest, hash_file
from hashmatch.hashlists import Entry
from hashmatch.settings import Settings
from hashmatch.store import Database
from tests.conftest import DATA
from tests.servers import http_server, static_handler

PHOTO = DATA / "photos" / "nature-beach-malibu.jpg"


@pytest.fixture
def web() -> Iterator[str]:
    with http_server(static_handler({"/beach.jpg": ("image/jpeg", PHOTO.read_bytes())})) as base:
        yield base


def started(tmp_path: Path, **settings: Any) -> tuple[TestClient, dict[str, str]]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    database = Database.open(url)
    api_keys = ApiKeys(database)
    key = api_keys.create(f"k{len(api_keys.all())}", ["admin"])[0]
    banks = Banks(database)
    if not banks.all():
        banks.create("known")
        banks.add("known", Entry(dict(hash_file(PHOTO, HashRequest()).signals)))
    database.close()
    app = create_app(Settings(data_dir=tmp_path / "data", database_url=url, **settings))
    return TestClient(app, raise_server_exceptions=False), {"Authorization": f"Bearer {key}"}


def test_hash_and_match_by_url(tmp_path: Path, web: str) -> None:
    client, auth = started(tmp_path, url_fetch=True, url_allow_private=True)
    with client:
        client.app.state.service.wait_until_loaded(60)  # type: ignore[attr-defined]
        hashed = client.get("/v1/hash", params={"url": f"{web}/beach.jpg"}, headers=auth).json()
        expected = hash_file(PHOTO, HashRequest()).to_json()
        assert hashed["signals"] == expected["signals"]
        matched = client.get("/v1/match", params={"url": f"{web}/beach.jpg"}, headers=auth).json()
        assert {m["signal_type"] for m in matched["matches"]} == {"md5", "pdq", "sha256"}
        missing = client.get("/v1/hash", params={"url": f"{web}/gone.jpg"}, headers=auth)
        assert (missing.status_code, missing.json()["error"]["code"]) == (400, "fetch_failed")


def test_url_fetching_is_off_by_default_and_refuses_loopback(tmp_path: Path, web: str) -> None:
    client, auth = started(tmp_path)
    with client:
        off = client.get("/v1/hash", params={"url": f"{web}/beach.jpg"}, headers=auth)
        assert (off.status_code, off.json()["error"]["code"]) == (400, "url_not_allowed")
        assert "url_fetch" in off.json()["error"]["message"]
    client, auth = started(tmp_path, url_fetch=True)
    with client:
        private = client.get("/v1/hash", params={"url": f"{web}/beach.jpg"}, headers=auth)
        assert private.status_code == 400
        assert "private or reserved" in private.json()["error"]["message"]
    client, auth = started(tmp_path, url_fetch=True, url_allow_private=True, url_max_bytes=1000)
    with client:
        big = client.get("/v1/hash", params={"url": f"{web}/beach.jpg"}, headers=auth)
        assert (big.status_code, big.json()["error"]["code"]) == (413, "download_too_large")


def test_rate_limit_per_key(tmp_path: Path) -> None:
    client, auth = started(tmp_path, rate_limit_per_second=0.01, rate_limit_burst=3)
    with client:
        client.app.state.service.wait_until_loaded(60)  # type: ignore[attr-defined]
        statuses = [
            client.get(
                "/v1/lookup", params={"signal_type": "md5", "signal": "0" * 32}, headers=auth
            )
            for _ in range(4)
        ]
        assert [response.status_code for response in statuses[:3]] == [200] * 3
        limited = statuses[3]
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1


def test_token_bucket() -> None:
    limiter = RateLimiter(per_second=2, burst=2)
    assert limiter.wait_for("a", now=0.0) == 0.0
    assert limiter.wait_for("a", now=0.0) == 0.0
    assert limiter.wait_for("a", now=0.0) == pytest.approx(0.5)
    assert limiter.wait_for("b", now=0.0) == 0.0  # keys do not share a bucket
    assert limiter.wait_for("a", now=0.5) == 0.0  # refilled at 2 per second
    assert limiter.wait_for("a", now=100.0) == 0.0
    assert limiter.wait_for("a", now=100.0) == 0.0
    assert limiter.wait_for("a", now=100.0) > 0  # never more than the burst
    with pytest.raises(ValueError, match="per_second"):
        RateLimiter(per_second=0, burst=1)
