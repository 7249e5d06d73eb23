"""``GET /v1/transparency``, and lookups counted for it, on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.banks import Banks
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.reporting_models import DailyCount
from tests.transparency_world import EXPECTED, build_world

Headers = dict[str, dict[str, str]]


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Headers]]:
    database = Database.open(database_url)
    build_world(database)
    Banks(database).create("known")
    keys = ApiKeys(database)
    made = {scope: keys.create(scope, [scope])[0] for scope in ("audit", "match", "admin")}
    database.close()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        transparency_instance_name="Example",
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, {scope: {"Authorization": f"Bearer {key}"} for scope, key in made.items()}


def test_only_audit_and_admin_keys_read_it(served: tuple[TestClient, Headers]) -> None:
    client, keys = served
    path = "/v1/transparency?period=2026-Q3"
    assert client.get(path).status_code == 401
    assert client.get(path, headers=keys["match"]).status_code == 403
    assert client.get(path, headers=keys["admin"]).status_code == 200


def test_json_record(served: tuple[TestClient, Headers]) -> None:
    client, keys = served
    response = client.get("/v1/transparency", params={"period": "2026-Q3"}, headers=keys["audit"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    report = response.json()
    assert report["instance"] == {"name": "Example"}
    assert report["figures"]["review_decisions"] == EXPECTED["review_decisions"]


@pytest.mark.parametrize(("output_format", "media", "start"), [
    ("csv", "text/csv", "period,section,name,key,value,previous,change_percent"),
    ("html", "text/html", "<!DOCTYPE html>"),
])  # fmt: skip
def test_csv_and_html(
    served: tuple[TestClient, Headers], output_format: str, media: str, start: str
) -> None:
    client, keys = served
    response = client.get(
        "/v1/transparency",
        params={"period": "2026-Q3", "format": output_format},
        headers=keys["audit"],
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    assert (
        f'filename="transparency-2026-Q3.{output_format}"'
        in response.headers["content-disposition"]
    )
    assert response.text.startswith(start)


def test_a_bad_period_or_format(served: tuple[TestClient, Headers]) -> None:
    client, keys = served
    bad = client.get("/v1/transparency", params={"period": "2026-13"}, headers=keys["audit"])
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_period"
    assert "2026-13" in bad.json()["error"]["message"]
    wrong = client.get(
        "/v1/transparency", params={"period": "2026", "format": "pdf"}, headers=keys["audit"]
    )
    assert wrong.status_code == 422


def test_lookups_are_counted_and_written_at_shutdown(database_url: str, tmp_path: Path) -> None:
    database = Database.open(database_url)
    Banks(database).create("known")
    key = ApiKeys(database).create("m", ["match"])[0]
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(settings)) as client:
        client.app.state.service.wait_until_loaded(timeout=60)  # type: ignore[attr-defined]
        found = client.get(
            "/v1/lookup", params={"signal_type": "md5", "signal": "0" * 32}, headers=headers
        )
        assert found.status_code == 200, found.text
        batch = client.post(
            "/v1/lookup",
            json={"hashes": [{"signal_type": "md5", "signal": "1" * 32}] * 2},
            headers=headers,
        )
        assert batch.status_code == 200, batch.text
        hma = client.get(
            "/m/raw_lookup", params={"signal_type": "pdq", "signal": "f8" * 32}, headers=headers
        )
        assert hma.status_code == 200, hma.text
    with database.reading() as session:
        counts = session.execute(select(DailyCount.name, DailyCount.count)).all()
    database.close()
    assert counts == [("lookups", 4)]
