"""The HTTP API in-process (ASGI), on both engines: auth, routes, error shape."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.banks import Banks
from hashmatch.hashing import HashRequest, hash_file
from hashmatch.hashlists import Entry
from hashmatch.matching import Matcher
from hashmatch.settings import Settings
from hashmatch.store import Database
from tests.conftest import DATA, REFERENCE_IMAGES

PHOTO = DATA / "photos" / "nature-beach-malibu.jpg"
REFERENCE = {image.path: image for image in REFERENCE_IMAGES}


@pytest.fixture
def keys(database_url: str) -> dict[str, str]:
    database = Database.open(database_url)
    api_keys = ApiKeys(database)
    made = {
        scope: api_keys.create(f"key-{scope}", [scope])[0] for scope in ("hash", "match", "admin")
    }
    revoked = api_keys.create("old", ["admin"])[0]
    api_keys.revoke("old")
    made["revoked"] = revoked
    banks = Banks(database)
    banks.create("known", labels=["A1"])
    banks.add("known", Entry(dict(hash_file(PHOTO, HashRequest()).signals)))
    database.close()
    return made


@pytest.fixture
def client(database_url: str, tmp_path: Path, keys: dict[str, str]) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        max_upload_bytes=2_000_000,
        max_batch=3,
    )
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        app.state.service.wait_until_loaded(60)
        yield test_client


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_liveness_needs_no_key(client: TestClient) -> None:
    assert client.get("/status/live").json() == {"status": "live"}


def test_status_reports_the_index(client: TestClient, keys: dict[str, str]) -> None:
    response = client.get("/status", headers=auth(keys["hash"]))
    assert response.status_code == 200
    assert response.json()["index"]["pdq_hashes"] == 1


def test_status_reports_a_stale_index(
    client: TestClient, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the change log cannot be read, lookups go on and /status says 503."""
    service = client.app.state.service  # type: ignore[attr-defined]

    def broken() -> int:
        raise RuntimeError("database went away")

    monkeypatch.setattr(service.matcher(), "refresh", broken)
    monkeypatch.setattr(service, "_refreshed", 0.0)
    response = client.get("/status", headers=auth(keys["hash"]))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "index_stale"
    assert "database went away" in response.json()["error"]["message"]
    query = {"signal_type": "pdq", "signal": REFERENCE[PHOTO].pdq}
    assert client.get("/v1/lookup", params=query, headers=auth(keys["match"])).status_code == 200
    monkeypatch.undo()
    service._refreshed = 0.0
    assert client.get("/status", headers=auth(keys["hash"])).status_code == 200


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthorized"),
        ({"Authorization": "Bearer nonsense"}, 401, "unauthorized"),
        ({"Authorization": "Basic abc"}, 401, "unauthorized"),
    ],
)
def test_requests_without_a_valid_key(
    client: TestClient, headers: dict[str, str], status: int, code: str
) -> None:
    response = client.get(
        "/v1/lookup", params={"signal_type": "md5", "signal": "0" * 32}, headers=headers
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_revoked_key_and_wrong_scope(client: TestClient, keys: dict[str, str]) -> None:
    query = {"signal_type": "md5", "signal": "0" * 32}
    assert client.get("/v1/lookup", params=query, headers=auth(keys["revoked"])).status_code == 401
    forbidden = client.get("/v1/lookup", params=query, headers=auth(keys["hash"]))
    assert forbidden.status_code == 403
    assert forbidden.json() == {
        "error": {
            "code": "forbidden",
            "message": "this API key does not have the 'match' scope",
            "request_id": forbidden.headers["X-Request-ID"],
        }
    }
    assert client.get("/v1/lookup", params=query, headers=auth(keys["admin"])).status_code == 200


def test_hash_a_video_upload(client: TestClient, keys: dict[str, str]) -> None:
    clip = DATA / "video" / "v1.m4v"
    expected = json.loads((DATA / "expected_vpdq.json").read_text())["video/v1.m4v"]
    response = client.post(
        "/v1/hash", files={"file": ("v1.m4v", clip.read_bytes())}, headers=auth(keys["hash"])
    )
    assert response.status_code == 200
    assert response.json()["vpdq"] == expected
    assert response.json()["signals"]["md5"] == hashlib.md5(clip.read_bytes()).hexdigest()


def test_hash_upload(client: TestClient, keys: dict[str, str]) -> None:
    response = client.post(
        "/v1/hash",
        params={"dihedral": "true"},
        files={"file": ("photo.jpg", PHOTO.read_bytes(), "image/jpeg")},
        headers=auth(keys["hash"]),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["signals"]["pdq"] == REFERENCE[PHOTO].pdq
    assert body["signals"]["sha256"] == hashlib.sha256(PHOTO.read_bytes()).hexdigest()
    assert body["pdq_quality"] == REFERENCE[PHOTO].quality
    assert body["pdq_dihedral"] == list(REFERENCE[PHOTO].dihedral)


def test_responses_are_the_library_records(
    client: TestClient, keys: dict[str, str], database_url: str
) -> None:
    """The response models add, drop and null nothing: a photo's hashes and a
    video's matches (shares and segments) are what the library gives."""
    photo = client.post(
        "/v1/hash",
        params={"dihedral": "true"},
        files={"file": ("photo.jpg", PHOTO.read_bytes())},
        headers=auth(keys["hash"]),
    )
    expected = hash_file(PHOTO, HashRequest(dihedral=True)).to_json()
    assert photo.json() == {key: value for key, value in expected.items() if key != "path"}
    clip = DATA / "video" / "v1.m4v"
    hashed = hash_file(clip, HashRequest(dihedral=True))
    database = Database.open(database_url)
    Banks(database).add("known", Entry(hashed.signals, frames=hashed.frames["vpdq"]))
    matches = Matcher(database).match_result(hashed)
    database.close()
    assert any(match.video and "segments" in match.video for match in matches)
    client.app.state.service.refresh_soon()  # added by another process: follow the log now
    matched = client.post(
        "/v1/match", files={"file": ("v1.m4v", clip.read_bytes())}, headers=auth(keys["match"])
    )
    record = {
        key: value for key, value in hashed.to_json().items() if key not in ("path", "pdq_dihedral")
    }
    assert matched.json() == {**record, "matches": [match.to_json() for match in matches]}


def test_bad_uploads(client: TestClient, keys: dict[str, str]) -> None:
    corrupt = client.post(
        "/v1/hash",
        files={"file": ("broken.jpg", PHOTO.read_bytes()[:3000], "image/jpeg")},
        headers=auth(keys["hash"]),
    )
    assert corrupt.status_code == 400
    assert corrupt.json()["error"]["code"] == "bad_media"
    assert "broken.jpg" in corrupt.json()["error"]["message"]
    assert "/tmp" not in corrupt.json()["error"]["message"]
    huge = client.post(
        "/v1/hash", files={"file": ("big.bin", b"x" * 2_000_001)}, headers=auth(keys["hash"])
    )
    assert huge.status_code == 413
    declared = client.post(
        "/v1/hash", files={"file": ("big.bin", b"x" * 3_000_000)}, headers=auth(keys["hash"])
    )
    assert (declared.status_code, declared.json()["error"]["code"]) == (413, "too_large")

    def stream() -> Iterator[bytes]:  # chunked: no Content-Length to refuse up front
        for _ in range(40):
            yield b"y" * 100_000

    streamed = client.post(
        "/v1/hash",
        content=stream(),
        headers={**auth(keys["hash"]), "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert (streamed.status_code, streamed.json()["error"]["code"]) == (413, "too_large")
    hma = client.post(
        "/h/hash", files={"photo": ("big.bin", b"x" * 3_000_000)}, headers=auth(keys["hash"])
    )
    assert (hma.status_code, list(hma.json())) == (413, ["message"])
    missing = client.post("/v1/hash", headers=auth(keys["hash"]))
    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "invalid_request"


def test_lookup_by_hash(client: TestClient, keys: dict[str, str]) -> None:
    pdq = REFERENCE[PHOTO].pdq
    response = client.get(
        "/v1/lookup", params={"signal_type": "pdq", "signal": pdq}, headers=auth(keys["match"])
    )
    [match] = response.json()["matches"]
    assert (match["bank"], match["distance"], match["labels"]) == ("known", 0, ["A1"])


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"signal_type": "pdq", "signal": "abc"}, "invalid_hash"),
        ({"signal_type": "blur", "signal": "abc"}, "unknown_signal_type"),
        ({"signal_type": "pdq"}, "invalid_request"),
    ],
)
def test_bad_lookups(
    client: TestClient, keys: dict[str, str], params: dict[str, str], code: str
) -> None:
    response = client.get("/v1/lookup", params=params, headers=auth(keys["match"]))
    assert response.status_code in (400, 422)
    assert response.json()["error"]["code"] == code


def test_batch_lookup_and_its_limit(client: TestClient, keys: dict[str, str]) -> None:
    pdq = REFERENCE[PHOTO].pdq
    body = {
        "hashes": [
            {"signal_type": "pdq", "signal": pdq},
            {"signal_type": "md5", "signal": "0" * 32},
        ]
    }
    response = client.post("/v1/lookup", json=body, headers=auth(keys["match"]))
    results = response.json()["results"]
    assert [len(r["matches"]) for r in results] == [1, 0]
    too_many = {"hashes": [{"signal_type": "md5", "signal": "0" * 32}] * 4}
    refused = client.post("/v1/lookup", json=too_many, headers=auth(keys["match"]))
    assert refused.status_code == 413


def test_match_upload_finds_a_rotated_copy(
    client: TestClient, keys: dict[str, str], tmp_path: Path
) -> None:
    from PIL import Image

    rotated = tmp_path / "rotated.jpg"
    with Image.open(PHOTO) as image:
        image.transpose(Image.Transpose.ROTATE_180).save(rotated, quality=85)
    response = client.post(
        "/v1/match", files={"file": ("r.jpg", rotated.read_bytes())}, headers=auth(keys["match"])
    )
    assert response.status_code == 200, response.text
    [match] = response.json()["matches"]
    assert (match["bank"], match["transform"]) == ("known", "rotate180")


def test_content_added_elsewhere_is_matchable(
    client: TestClient, keys: dict[str, str], database_url: str
) -> None:
    value = "ab" * 32
    query = {"signal_type": "pdq", "signal": value}
    assert (
        client.get("/v1/lookup", params=query, headers=auth(keys["match"])).json()["matches"] == []
    )
    database = Database.open(database_url)
    Banks(database).add("known", Entry({"pdq": value}))
    database.close()
    import time

    time.sleep(0.6)  # one refresh interval
    found = client.get("/v1/lookup", params=query, headers=auth(keys["match"])).json()["matches"]
    assert len(found) == 1


def test_unknown_route_and_openapi(client: TestClient) -> None:
    assert client.get("/nope").json()["error"]["code"] == "not_found"
    document = client.get("/openapi.json").json()
    assert {"/v1/hash", "/v1/lookup", "/v1/match", "/status", "/status/live"} <= set(
        document["paths"]
    )


def test_metrics(client: TestClient, keys: dict[str, str]) -> None:
    pdq = REFERENCE[PHOTO].pdq
    client.get(
        "/v1/lookup", params={"signal_type": "pdq", "signal": pdq}, headers=auth(keys["match"])
    )
    assert client.get("/metrics").status_code == 401
    text = client.get("/metrics", headers=auth(keys["hash"])).text
    assert 'hashmatch_requests_total{method="GET",route="/v1/lookup",status="200"} 1.0' in text
    assert 'hashmatch_matches_total{bank="known"} 1.0' in text
    assert "hashmatch_index_pdq_hashes 1.0" in text
    assert "hashmatch_request_seconds_bucket" in text
    assert pdq not in text  # no user input in metric labels
