"""``GET /v1/audit`` and ``GET /v1/audit/verify``, on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.audit import Actor, acting_as
from hashmatch.banks import Banks
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.models import AuditEntry

Headers = dict[str, dict[str, str]]


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Headers]]:
    """Keys for each role, then banks a, b and c made by the key ``maker``:
    entries 1-3 create keys, 4-6 the banks."""
    database = Database.open(database_url)
    keys = ApiKeys(database)
    made = {scope: keys.create(scope, [scope])[0] for scope in ("audit", "curate", "admin")}
    with acting_as(Actor("key:maker")):
        for name in ("a", "b", "c"):
            Banks(database).create(name)
    database.close()
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, {scope: {"Authorization": f"Bearer {key}"} for scope, key in made.items()}


def seqs(client: TestClient, keys: Headers, **params: str | int) -> list[int]:
    response = client.get("/v1/audit", params=params, headers=keys["audit"])
    assert response.status_code == 200, response.text
    return [entry["seq"] for entry in response.json()["entries"]]


def test_only_audit_and_admin_keys_read_the_log(served: tuple[TestClient, Headers]) -> None:
    client, keys = served
    for path in ("/v1/audit", "/v1/audit/verify"):
        assert client.get(path).status_code == 401
        forbidden = client.get(path, headers=keys["curate"])
        assert forbidden.status_code == 403
        assert "'audit' scope" in forbidden.json()["error"]["message"]
        assert client.get(path, headers=keys["admin"]).status_code == 200
        assert client.get(path, headers=keys["audit"]).status_code == 200


def test_entries_and_filters(served: tuple[TestClient, Headers]) -> None:
    client, keys = served
    page = client.get("/v1/audit", headers=keys["audit"]).json()
    assert page["next_after_seq"] is None
    first = page["entries"][0]
    assert (first["seq"], first["actor"], first["action"], first["target"]) == (
        1,
        "system",
        "key.create",
        "key:audit",
    )
    assert page["entries"][1]["prev_hash"] == first["hash"]
    assert seqs(client, keys, actor="key:maker") == [4, 5, 6]
    assert seqs(client, keys, actor="key:*") == [4, 5, 6]
    assert seqs(client, keys, target="bank:b") == [5]
    assert seqs(client, keys, action="key.*") == [1, 2, 3]
    assert seqs(client, keys, since="2000-01-01T00:00:00Z", action="bank.create") == [4, 5, 6]
    assert seqs(client, keys, since="2999-01-01T00:00:00+01:00") == []


def test_paging(served: tuple[TestClient, Headers]) -> None:
    client, keys = served
    seen: list[int] = []
    after: int | None = 0
    while after is not None:
        page = client.get(
            "/v1/audit", params={"after_seq": after, "limit": 4}, headers=keys["audit"]
        ).json()
        seen += [entry["seq"] for entry in page["entries"]]
        after = page["next_after_seq"]
    assert seen == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 1001}, {"after_seq": -1}, {"target": "x" * 301}],
    ids=["limit-0", "limit-1001", "negative-after", "long-filter"],
)
def test_out_of_range_queries_are_422(
    served: tuple[TestClient, Headers], params: dict[str, object]
) -> None:
    client, keys = served
    assert client.get("/v1/audit", params=params, headers=keys["audit"]).status_code == 422


@pytest.mark.parametrize("since", ["yesterday", "2026-11-26T16:00:00", "2026-11-31T00:00:00Z"])
def test_a_bad_since_is_400_with_a_message(served: tuple[TestClient, Headers], since: str) -> None:
    client, keys = served
    response = client.get("/v1/audit", params={"since": since}, headers=keys["audit"])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_field"
    assert "since must be an RFC 3339 time" in error["message"]
    assert repr(since) in error["message"]


def test_verify(served: tuple[TestClient, Headers]) -> None:
    client, keys = served
    verified = client.get("/v1/audit/verify", headers=keys["audit"]).json()
    assert (verified["ok"], verified["entries"], verified["problems"]) == (True, 6, [])
    newest = client.get("/v1/audit", params={"after_seq": 5}, headers=keys["audit"]).json()
    assert verified["head"] == newest["entries"][0]["hash"]
    database: Database = client.app.state.service.database  # type: ignore[attr-defined]
    with database.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 6))
    kept = {"expect_head": verified["head"]}
    broken = client.get("/v1/audit/verify", params=kept, headers=keys["audit"]).json()
    assert broken["ok"] is False
    assert broken["entries"] == 5
    assert broken["problems"] == [
        f"no entry has the expected head hash {verified['head']}: "
        "the newest entries were removed or replaced"
    ]
    bad_head = client.get("/v1/audit/verify", params={"expect_head": "nope"}, headers=keys["audit"])
    assert bad_head.status_code == 422
