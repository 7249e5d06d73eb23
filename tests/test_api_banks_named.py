"""What the /v1 API says about banks and content: an unknown bank is a 404
wherever a route takes one, a bank's content ids can be listed, and adds and
imports say what cannot match."""

from __future__ import annotations

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

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PHOTO = DATA / "photos" / "nature-beach-malibu.jpg"


@pytest.fixture
def http(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """A client whose key may curate and match, with a bank "known" holding PDQ."""
    database = Database.open(database_url)
    key = ApiKeys(database).create("tester", ["curate", "match"])[0]
    database.close()
    app = create_app(Settings(data_dir=tmp_path / "data", database_url=database_url))
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client:
        app.state.service.wait_until_loaded(60)
        client.post("/v1/banks", json={"name": "known"})
        client.post("/v1/banks/known/content", json={"signals": {"pdq": PDQ}})
        yield client


def assert_unknown_bank(response: object) -> None:
    assert getattr(response, "status_code", None) == 404
    error = response.json()["error"]  # type: ignore[attr-defined]
    assert (error["code"], error["message"]) == ("unknown_bank", "no bank named 'nope'")


def test_an_unknown_bank_is_a_404_on_every_v1_route_that_takes_one(http: TestClient) -> None:
    lookup = {"signal_type": "pdq", "signal": PDQ}
    assert len(http.get("/v1/lookup", params={**lookup, "bank": "known"}).json()["matches"]) == 1
    assert_unknown_bank(http.get("/v1/lookup", params={**lookup, "bank": ["known", "nope"]}))
    assert_unknown_bank(http.post("/v1/lookup", json={"hashes": [lookup], "banks": ["nope"]}))
    with PHOTO.open("rb") as photo:
        assert_unknown_bank(http.post("/v1/match", params={"bank": "nope"}, files={"file": photo}))
    for path in ("/v1/banks/nope", "/v1/banks/nope/content", "/v1/banks/nope/export"):
        assert_unknown_bank(http.get(path))


def test_content_ids_a_page_at_a_time(http: TestClient) -> None:
    bodies = [{"signals": {"md5": f"{n:032x}"}, "external_id": f"x{n}"} for n in range(1, 4)]
    ids = [http.post("/v1/banks/known/content", json=body).json()["content_id"] for body in bodies]
    everything = http.get("/v1/banks/known/content").json()
    assert [c["content_id"] for c in everything["content"]][1:] == ids
    assert everything["next_after"] is None
    first = http.get("/v1/banks/known/content", params={"limit": 2}).json()
    assert len(first["content"]) == 2
    rest = http.get("/v1/banks/known/content", params={"after": first["next_after"]}).json()
    assert rest["content"] == [
        {"content_id": ids[1], "external_id": "x2"},
        {"content_id": ids[2], "external_id": "x3"},
    ]
    assert http.get("/v1/banks/known/content", params={"limit": 0}).status_code == 422


def test_an_add_warns_of_a_hash_too_flat_to_match(http: TestClient) -> None:
    flat = {"signals": {"pdq": "0" * 64}, "quality": {"pdq": 0}}
    added = http.post("/v1/banks/known/content", json=flat)
    assert added.status_code == 201
    assert added.json()["warnings"] == [
        "pdq quality 0 is under 50, the least that matching uses: this pdq hash never matches"
    ]
    fine = http.post("/v1/banks/known/content", json={"signals": {"pdq": "f" * 64}})
    assert fine.json()["warnings"] == []
    bad = {"signals": {"pdq": "1" * 64}, "quality": {"pdq": 101}}
    assert http.post("/v1/banks/known/content", json=bad).status_code == 422


def test_an_import_counts_what_is_too_flat_to_match(http: TestClient) -> None:
    hashed = "".join(
        json.dumps({"signals": {"pdq": value}, "pdq_quality": quality}) + "\n"
        for value, quality in (("1" * 64, 0), ("2" * 64, 100))
    )
    imported = http.post(
        "/v1/banks/known/import",
        params={"format": "jsonl"},
        files={"file": ("hashed.jsonl", hashed.encode())},
    )
    assert imported.json() == {"added": 2, "skipped": 0, "low_quality": 1}
