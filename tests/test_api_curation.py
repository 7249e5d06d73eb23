"""Curation routes under /v1, on both engines."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.settings import Settings
from hashmatch.store import Database
from tests.conftest import DATA

HAYSTACK = DATA / "pdq-reference" / "reg-test-input" / "haystack.txt"
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    database = Database.open(database_url)
    keys = ApiKeys(database)
    curate = keys.create("curator", ["curate"])[0]
    match = keys.create("matcher", ["match"])[0]
    database.close()
    app = create_app(Settings(data_dir=tmp_path / "data", database_url=database_url))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        app.state.service.wait_until_loaded(60)
        yield (
            test_client,
            {
                "curate": f"Bearer {curate}",
                "match": f"Bearer {match}",
            },
        )


def test_bank_lifecycle(client: tuple[TestClient, dict[str, str]]) -> None:
    http, keys = client
    curate = {"Authorization": keys["curate"]}
    created = http.post("/v1/banks", json={"name": "known", "labels": ["a1"]}, headers=curate)
    assert created.status_code == 201
    assert created.json()["labels"] == ["A1"]
    assert http.post("/v1/banks", json={"name": "known"}, headers=curate).status_code == 409
    assert [b["name"] for b in http.get("/v1/banks", headers=curate).json()["banks"]] == ["known"]
    changed = http.patch("/v1/banks/known", json={"thresholds": {"pdq": 20}}, headers=curate)
    assert changed.json()["thresholds"] == {"pdq": 20}
    added = http.post("/v1/banks/known/content", json={"signals": {"pdq": PDQ}}, headers=curate)
    assert added.json()["skipped"] is False
    again = http.post("/v1/banks/known/content", json={"signals": {"pdq": PDQ}}, headers=curate)
    assert again.json()["skipped"] is True
    imported = http.post(
        "/v1/banks/known/import",
        params={"format": "pdq"},
        files={"file": ("haystack.txt", HAYSTACK.read_bytes())},
        headers=curate,
    )
    assert imported.json() == {"added": 1350, "skipped": 0}
    exported = http.get("/v1/banks/known/export", params={"format": "pdq"}, headers=curate)
    assert len(exported.text.splitlines()) == 1351
    content_id = added.json()["content_id"]
    disabled = http.post(
        "/v1/banks/known/content/disable", json={"content_ids": [content_id]}, headers=curate
    )
    assert disabled.json() == {"changed": 1}
    lookup = http.get(
        "/v1/lookup",
        params={"signal_type": "pdq", "signal": PDQ},
        headers={"Authorization": keys["match"]},
    )
    assert lookup.json()["matches"] == []
    enabled = http.post(
        "/v1/banks/known/content/enable", json={"content_ids": [content_id]}, headers=curate
    )
    assert enabled.json() == {"changed": 1}
    shown = http.get(f"/v1/banks/known/content/{content_id}", headers=curate).json()
    assert (shown["signals"], shown["enabled"], shown["note"]) == ({"pdq": PDQ}, True, "")
    noted = http.patch(
        f"/v1/banks/known/content/{content_id}",
        json={"note": "seen twice", "labels": ["b1"]},
        headers=curate,
    ).json()
    assert (noted["note"], noted["labels"], noted["signals"]) == (
        "seen twice",
        ["B1"],
        shown["signals"],
    )
    removed = http.delete(f"/v1/banks/known/content/{content_id}", headers=curate)
    assert removed.json() == {"deleted": 1}
    gone = http.get(f"/v1/banks/known/content/{content_id}", headers=curate)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "unknown_content"
    assert http.delete(f"/v1/banks/known/content/{content_id}", headers=curate).status_code == 404
    assert http.delete("/v1/banks/known", headers=curate).json() == {"deleted": "known"}
    assert http.get("/v1/banks/known", headers=curate).status_code == 404


def test_bad_curation_requests(client: tuple[TestClient, dict[str, str]]) -> None:
    http, keys = client
    curate = {"Authorization": keys["curate"]}
    assert http.get("/v1/banks", headers={"Authorization": keys["match"]}).status_code == 403
    assert http.post("/v1/banks", json={"name": "bad name"}, headers=curate).json()["error"][
        "code"
    ] == ("bad_bank_request")
    http.post("/v1/banks", json={"name": "known"}, headers=curate)
    broken = http.post(
        "/v1/banks/known/import",
        files={"file": ("list.csv", b"signal_type,signal\npdq,xyz\n")},
        headers=curate,
    )
    assert broken.status_code == 400
    assert broken.json()["error"] == {
        "code": "invalid_list",
        "message": "list.csv:2: a PDQ hash is 64 hex digits, got 3: 'xyz'",
        "request_id": broken.headers["X-Request-ID"],
    }
    assert http.get("/v1/banks/known", headers=curate).json()["contents"] == 0
    binary = http.post(
        "/v1/banks/known/import", files={"file": ("x.csv", b"\xff\xfe")}, headers=curate
    )
    assert binary.json()["error"]["code"] == "invalid_list"
    bad_hash = http.post("/v1/banks/known/content", json={"signals": {"pdq": "00"}}, headers=curate)
    assert bad_hash.json()["error"]["code"] == "invalid_hash"


def test_compare(client: tuple[TestClient, dict[str, str]]) -> None:
    http, keys = client
    response = http.get(
        "/v1/compare",
        params={"signal_type": "pdq", "a": PDQ, "b": "0" * 64},
        headers={"Authorization": keys["curate"]},
    )
    assert response.json()["distance"] == int(PDQ, 16).bit_count()


def test_exported_csv_runs_no_formulas_and_imports_back_unchanged(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    http, keys = client
    curate = {"Authorization": keys["curate"]}
    for name in ("source", "copy"):
        http.post("/v1/banks", json={"name": name}, headers=curate)
    hostile = {"external_id": "-2+3", "labels": ["@SUM(A1)"], "note": '=HYPERLINK("http://x")'}
    added = http.post(
        "/v1/banks/source/content", json={"signals": {"pdq": PDQ}, **hostile}, headers=curate
    )
    assert added.status_code == 201
    exported = http.get("/v1/banks/source/export", params={"format": "csv"}, headers=curate)
    assert exported.headers["content-type"].startswith("text/plain")
    [_, row] = list(csv.reader(io.StringIO(exported.text, newline="")))
    assert row[2:] == ["'-2+3", "'@SUM(A1)", '\'=HYPERLINK("http://x")', "1"]  # content_id last
    imported = http.post(
        "/v1/banks/copy/import",
        files={"file": ("copy.csv", exported.text.encode())},
        headers=curate,
    )
    assert imported.json() == {"added": 1, "skipped": 0}
    copied = http.get("/v1/banks/copy/export", params={"format": "jsonl"}, headers=curate)
    [line] = copied.text.splitlines()
    record = json.loads(line)
    assert isinstance(record.pop("content_id"), int)  # the copy's own id
    assert record == {"signals": {"pdq": PDQ}, **hostile}
