"""POST/GET /v1/submissions in-process, on both engines: both request bodies,
keys and scopes, idempotency over HTTP, hostile input (a 4xx naming the
field, never a 500), the OpenAPI document, and a media key that stops start-up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from hashmatch.actions.media_vault import write_new_key
from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.errors import MediaKeyError
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.workflow import KeptMedia, ReviewItem
from tests.test_submissions import ACT_ON_KNOWN, PHOTO, PHOTO_HASHES, make_world

PDQ = [{"signal_type": "pdq", "signal": PHOTO_HASHES["pdq"]}]


@pytest.fixture
def keys(database_url: str) -> dict[str, str]:
    database = Database.open(database_url)
    make_world(database, ACT_ON_KNOWN)
    api_keys = ApiKeys(database)
    made = {scope: api_keys.create(f"key-{scope}", [scope])[0] for scope in ("submit", "match")}
    database.close()
    return made


@pytest.fixture
def client(database_url: str, tmp_path: Path, keys: dict[str, str]) -> Iterator[TestClient]:
    key = tmp_path / "media.key"
    write_new_key(key)
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        max_batch=3,
        keep_media=True,
        media_key_file=key,
        submission_metadata_bytes=100,
    )
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        app.state.service.wait_until_loaded(60)
        yield test_client


def auth(key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


def submit_json(client: TestClient, key: str, body: Any, **headers: str) -> Any:
    return client.post("/v1/submissions", json=body, headers=auth(key, **headers))


def submit_file(
    client: TestClient, key: str, fields: dict[str, str], content: bytes, name: str = "a.jpg"
) -> Any:
    return client.post(
        "/v1/submissions",
        data=fields,
        files={"file": (name, content, "image/jpeg")},
        headers=auth(key),
    )


def test_an_upload_is_matched_decided_and_kept(
    client: TestClient, keys: dict[str, str], database_url: str
) -> None:
    metadata = json.dumps({"album": 3})
    fields = {"content_ref": "up-1", "user_ref": "u1", "metadata": metadata}
    response = submit_file(client, keys["submit"], fields, PHOTO.read_bytes())
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {"submission_id", "verdict", "matches", "actions"}
    assert answer["verdict"] == "block"
    assert answer["matches"][0]["bank"] == "known"
    assert [a["status"] for a in answer["actions"]] == ["applied", "queued", "pending", "pending"]
    record = client.get(
        f"/v1/submissions/{answer['submission_id']}", headers=auth(keys["submit"])
    ).json()
    assert record["content_type"] == "photo"
    assert record["metadata"] == {"album": 3}
    assert record["actor"] == "key:key-submit"
    assert record["kept_media"] == {"size": PHOTO.stat().st_size, "filename": "a.jpg"}
    metrics = client.get("/metrics", headers=auth(keys["submit"])).text
    assert 'hashmatch_actions_total{action="review",status="queued"} 1.0' in metrics
    assert f'hashmatch_matches_total{{bank="known"}} {len(answer["matches"])}.0' in metrics


def test_a_hostile_file_name_is_kept_printable(client: TestClient, keys: dict[str, str]) -> None:
    """A NUL, a line break and a right-to-left override in the upload's name
    (raw, as a client may send them) are left out of the name kept."""
    body = b"".join(
        [
            b'--x\r\nContent-Disposition: form-data; name="content_ref"\r\n\r\nnamed\r\n',
            b'--x\r\nContent-Disposition: form-data; name="file"; ',
            'filename="a\x00\u202eb.jpg"\r\n'.encode(),
            b"Content-Type: image/jpeg\r\n\r\n",
            PHOTO.read_bytes(),
            b"\r\n--x--\r\n",
        ]
    )
    headers = auth(keys["submit"], **{"Content-Type": "multipart/form-data; boundary=x"})
    response = client.post("/v1/submissions", content=body, headers=headers)
    assert response.status_code == 200, response.text
    submission = response.json()["submission_id"]
    record = client.get(f"/v1/submissions/{submission}", headers=auth(keys["submit"])).json()
    assert record["kept_media"]["filename"] == "ab.jpg"


def test_hashes_by_json_and_idempotency(
    client: TestClient, keys: dict[str, str], database_url: str
) -> None:
    body = {"signals": PDQ, "content_ref": "up-2", "uploaded_at": "2026-01-02T03:04:05Z"}
    first = submit_json(client, keys["submit"], body)
    assert first.status_code == 200, first.text
    assert first.json()["verdict"] == "block"
    again = submit_json(client, keys["submit"], {**body, "signals": [PDQ[0]] * 2})
    assert again.json() == first.json()
    keyed = {"signals": PDQ, "content_ref": "up-3"}
    by_key = submit_json(client, keys["submit"], keyed, **{"Idempotency-Key": "k-1"})
    assert (
        by_key.json()
        == submit_json(
            client, keys["submit"], {**keyed, "content_ref": "up-4"}, **{"Idempotency-Key": "k-1"}
        ).json()
    )
    database = Database.open(database_url)
    try:
        with database.reading() as session:
            assert session.scalar(select(func.count()).select_from(ReviewItem)) == 2
            # Hashes carry no media: nothing kept.
            assert session.scalar(select(func.count()).select_from(KeptMedia)) == 0
    finally:
        database.close()
    listed = client.get(
        "/v1/submissions", params={"content_ref": "up-2"}, headers=auth(keys["submit"])
    ).json()
    assert [s["uploaded_at"] for s in listed["submissions"]] == ["2026-01-02T03:04:05+00:00"]
    page = client.get("/v1/submissions", params={"limit": 1}, headers=auth(keys["submit"]))
    assert page.json()["next_before"] == page.json()["submissions"][0]["submission_id"]


def test_keys_and_scopes(client: TestClient, keys: dict[str, str]) -> None:
    body = {"signals": PDQ, "content_ref": "x"}
    assert client.post("/v1/submissions", json=body).status_code == 401
    forbidden = submit_json(client, keys["match"], body)
    assert forbidden.status_code == 403
    assert "'submit'" in forbidden.json()["error"]["message"]
    assert client.get("/v1/submissions", headers=auth(keys["match"])).status_code == 403
    missing = client.get("/v1/submissions/99", headers=auth(keys["submit"]))
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "unknown_submission")


TRUNCATED = PHOTO.read_bytes()[:2000]
DEEP: dict[str, Any] = {}
for _ in range(40):
    DEEP = {"a": DEEP}


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        ({"signals": PDQ}, 422, "content_ref"),
        ({"signals": PDQ, "content_ref": ""}, 400, "content_ref"),
        ({"signals": PDQ, "content_ref": "a\x00"}, 400, "content_ref"),
        ({"signals": PDQ, "content_ref": "a", "metadata": {"a": "x" * 200}}, 400, "metadata"),
        ({"signals": PDQ, "content_ref": "a", "metadata": [1]}, 422, "metadata"),
        ({"signals": PDQ, "content_ref": "a", "metadata": {"a": "\x00"}}, 200, ""),
        (json.dumps({"signals": PDQ, "content_ref": "\ud800"}), 422, "body"),
        ({"signals": PDQ, "content_ref": "a", "metadata": DEEP}, 400, "metadata"),
        ({"signals": PDQ, "content_ref": "a", "content_url": "x" * 5000}, 400, "content_url"),
        ({"signals": PDQ, "content_ref": "a", "uploaded_at": "yesterday"}, 400, "uploaded_at"),
        ({"signals": PDQ, "content_ref": "a", "uploaded_at": "2026-01-02"}, 400, "uploaded_at"),
        ({"signals": [{"signal_type": "pdq", "signal": "zz"}], "content_ref": "a"}, 400, "[0]"),
        ({"signals": [{"signal_type": "nope", "signal": "a"}], "content_ref": "a"}, 400, "nope"),
        ({"signals": [], "content_ref": "a"}, 400, "signals"),
        ({"signals": PDQ * 4, "content_ref": "a"}, 413, "signals"),
        ({"signals": PDQ, "content_ref": "a", "extra": 1}, 422, "extra"),
        ("[1, 2", 422, "body"),
    ],
)
def test_hostile_json(
    client: TestClient, keys: dict[str, str], body: Any, status: int, named: str
) -> None:
    if isinstance(body, str):
        response = client.post(
            "/v1/submissions",
            content=body,
            headers=auth(keys["submit"], **{"Content-Type": "application/json"}),
        )
    else:
        response = submit_json(client, keys["submit"], body)
    assert response.status_code == status, response.text
    if status != 200:
        assert named in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("fields", "content", "status", "named"),
    [
        ({}, PHOTO.read_bytes(), 400, "content_ref"),
        ({"content_ref": "a", "metadata": "{"}, PHOTO.read_bytes(), 400, "metadata"),
        ({"content_ref": "a", "metadata": "[]"}, PHOTO.read_bytes(), 400, "metadata"),
        ({"content_ref": "a", "keep_media": "maybe"}, PHOTO.read_bytes(), 400, "keep_media"),
        ({"content_ref": "a", "colour": "red"}, PHOTO.read_bytes(), 400, "colour"),
        ({"content_ref": "a", "uploaded_at": "noon"}, PHOTO.read_bytes(), 400, "uploaded_at"),
        ({"content_ref": "a"}, TRUNCATED, 400, "a.jpg"),
        ({"content_ref": "a"}, b"", 400, "a.jpg"),
    ],
)
def test_hostile_uploads(
    client: TestClient,
    keys: dict[str, str],
    fields: dict[str, str],
    content: bytes,
    status: int,
    named: str,
) -> None:
    response = submit_file(client, keys["submit"], fields, content)
    assert response.status_code == status, response.text
    assert named in response.json()["error"]["message"]


def test_other_bodies_are_refused(client: TestClient, keys: dict[str, str]) -> None:
    response = client.post(
        "/v1/submissions",
        content=b"content_ref=a",
        headers=auth(keys["submit"], **{"Content-Type": "text/plain"}),
    )
    assert response.status_code == 415
    no_file = client.post(
        "/v1/submissions", data={"content_ref": "a"}, headers=auth(keys["submit"])
    )
    assert no_file.status_code in (400, 415)
    two = client.post(
        "/v1/submissions",
        data={"content_ref": "a"},
        files=[("file", ("a.jpg", b"1", "image/jpeg")), ("file", ("b.jpg", b"2", "image/jpeg"))],
        headers=auth(keys["submit"]),
    )
    assert two.status_code == 400
    assert "file" in two.json()["error"]["message"]


def test_the_openapi_document_describes_both_bodies(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    post = document["paths"]["/v1/submissions"]["post"]
    assert set(post["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    by_hashes = post["requestBody"]["content"]["application/json"]["schema"]
    # signals, or the Lantern-style accounts, emails, urls and text: one is enough.
    assert by_hashes["required"] == ["content_ref"]
    assert {"accounts", "emails", "urls", "text"} <= set(by_hashes["properties"])
    assert by_hashes["properties"]["signals"]["items"] == {"$ref": "#/components/schemas/HashQuery"}
    assert "HashQuery" in document["components"]["schemas"]
    answer = post["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/SubmissionAnswer"}
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    assert "get" in document["paths"]["/v1/submissions/{submission_id}"]


def test_a_bad_media_key_stops_start_up(tmp_path: Path) -> None:
    key = tmp_path / "short.key"
    key.write_text("c2hvcnQ=\n")
    settings = Settings(data_dir=tmp_path / "data", keep_media=True, media_key_file=key)
    with pytest.raises(MediaKeyError, match=str(key)):
        create_app(settings)
