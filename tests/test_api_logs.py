"""The access log and request ids: one line per request, never a secret."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hashmatch.api import create_app
from hashmatch.api.access_log import JsonFormatter
from hashmatch.apikeys import ApiKeys
from hashmatch.settings import Settings
from hashmatch.store import Database
from tests.servers import call, start_server, wait_ready

#: A hash that only the uploaded list holds: it must never reach the log.
LISTED = "c0ffee" + "5a" * 29


@pytest.fixture
def key(database_url: str) -> str:
    database = Database.open(database_url)
    made = ApiKeys(database).create("curator", ["admin"])[0]
    database.close()
    return made


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, max_upload_bytes=1000
    )
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        app.state.service.wait_until_loaded(60)
        yield test_client


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [record.access for record in caplog.records if record.name == "hashmatch.access"]  # type: ignore[attr-defined]


def test_one_line_per_request_without_secrets(
    client: TestClient, key: str, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database.open(database_url)
    hasher = ApiKeys(database).create("hasher", ["hash"])[0]
    database.close()
    caplog.set_level(logging.INFO, logger="hashmatch.access")
    auth = {"Authorization": f"Bearer {key}"}
    assert client.post("/v1/banks", json={"name": "known"}, headers=auth).status_code == 201
    imported = client.post(
        "/v1/banks/known/import",
        files={"file": ("list.csv", f"signal_type,signal\npdq,{LISTED}\n".encode())},
        headers=auth,
    )
    assert imported.status_code == 200
    looked_up = client.get(
        "/v1/lookup", params={"signal_type": "pdq", "signal": LISTED}, headers=auth
    )
    assert looked_up.json()["matches"]
    refused = client.get("/v1/banks", headers={"Authorization": "Bearer hm_not_a_key"})
    assert refused.status_code == 401
    forbidden = client.get("/v1/banks", headers={"Authorization": f"Bearer {hasher}"})
    assert forbidden.status_code == 403
    lines = access_lines(caplog)
    assert [(line["method"], line["route"], line["status"], line["key"]) for line in lines] == [
        ("POST", "/v1/banks", 201, "curator"),
        ("POST", "/v1/banks/{name}/import", 200, "curator"),
        ("GET", "/v1/lookup", 200, "curator"),
        ("GET", "/v1/banks", 401, None),
        ("GET", "/v1/banks", 403, "hasher"),
    ]
    responses = [imported, looked_up, refused, forbidden]
    assert [line["request_id"] for line in lines[1:]] == [
        response.headers["X-Request-ID"] for response in responses
    ]
    assert all(isinstance(line["duration_ms"], float) for line in lines)
    logged = caplog.text + "".join(json.dumps(line) for line in lines)
    for secret in (key, hasher, "hm_not_a_key", LISTED):
        assert secret not in logged


def test_request_ids(client: TestClient) -> None:
    given = client.get("/status/live", headers={"X-Request-ID": "edge-42.a:b_c"})
    assert given.headers["X-Request-ID"] == "edge-42.a:b_c"
    for insane in (b"a b", b"x" * 129, "é".encode(), b"<script>"):
        replaced = client.get("/status/live", headers={"X-Request-ID": insane})
        assert replaced.headers["X-Request-ID"].encode() != insane
        assert len(replaced.headers["X-Request-ID"]) == 32
    first, second = client.get("/status/live"), client.get("/status/live")
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_every_error_body_names_its_request(
    client: TestClient, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    service = client.app.state.service  # type: ignore[attr-defined]

    def broken() -> None:
        raise RuntimeError("a bug")

    errors = [
        client.get("/nowhere"),
        client.get("/v1/banks"),
        client.get("/v1/banks/nope", headers=auth),
        client.get("/v1/lookup", headers=auth),
        client.post("/v1/hash", files={"file": ("big.bin", b"x" * 5000)}, headers=auth),
        client.delete("/status/live"),
    ]
    monkeypatch.setattr(service, "matcher", broken)
    errors.append(
        client.get("/v1/lookup", params={"signal_type": "md5", "signal": "0" * 32}, headers=auth)
    )
    assert [response.status_code for response in errors] == [404, 401, 404, 422, 413, 405, 500]
    for response in errors:
        assert response.json()["error"]["request_id"] == response.headers["X-Request-ID"]


def test_json_lines() -> None:
    record = logging.LogRecord("hashmatch.access", logging.INFO, "", 0, "GET / 200", (), None)
    record.access = {"method": "GET", "route": "/", "status": 200}
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "GET / 200"
    assert (line["level"], line["logger"], line["status"]) == ("INFO", "hashmatch.access", 200)
    assert line["time"].endswith("+00:00")


@pytest.mark.slow
def test_a_real_server_logs_json_without_secrets(
    database_url: str, tmp_path: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHMATCH_LOG_FORMAT", "json")
    process, base = start_server(database_url, tmp_path / "data", capture=True)
    try:
        wait_ready(base, key)
        assert call(f"{base}/v1/banks", key, {"name": "known"})[0] == 201
        added = call(f"{base}/v1/banks/known/content", key, {"signals": {"pdq": LISTED}})
        assert added[0] == 201
        assert call(f"{base}/v1/lookup?signal_type=pdq&signal={LISTED}", key)[0] == 200
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    routes = [(line["method"], line["route"], line["status"]) for line in logged if "route" in line]
    assert ("POST", "/v1/banks/{name}/content", 201) in routes
    assert ("GET", "/v1/lookup", 200) in routes
    assert all(line["key"] == "curator" for line in logged if line.get("route") == "/v1/lookup")
    assert key not in output
    assert LISTED not in output
