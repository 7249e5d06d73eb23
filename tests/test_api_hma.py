"""The HMA 2.0-compatible routes, on both engines, against HMA's recorded response shapes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.errors import ConfigurationError
from hashmatch.hashing import HashRequest, hash_file
from hashmatch.settings import Settings
from hashmatch.store import Database
from tests.conftest import DATA, encoded, noise_image
from tests.servers import http_server, static_handler

RECORDED = json.loads((DATA / "hma" / "recorded.json").read_text())
PHOTO = DATA / "photos" / "nature-beach-malibu.jpg"
PHOTO_PDQ = hash_file(PHOTO, HashRequest(signal_types=("pdq",))).signals["pdq"]
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
FLAT_PNG = encoded(Image.new("RGB", (64, 64), (120, 120, 120)), "PNG")


def assert_shape(actual: Any, recorded: Any, where: str = "$") -> None:
    """Same keys, nesting and value types as HMA's recorded response."""
    if isinstance(recorded, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        assert sorted(actual) == sorted(recorded), f"{where}: keys {sorted(actual)}"
        for key, value in recorded.items():
            assert_shape(actual[key], value, f"{where}.{key}")
    elif isinstance(recorded, list):
        assert isinstance(actual, list), f"{where}: {actual!r} is not a list"
        assert actual, f"{where}: empty where HMA's example has items"
        for index, item in enumerate(actual):
            assert_shape(item, recorded[min(index, len(recorded) - 1)], f"{where}[{index}]")
    elif recorded is None:
        assert actual is None, f"{where}: {actual!r} is not null"
    else:
        assert type(actual) is type(recorded), f"{where}: {actual!r} is not {type(recorded)}"


def renamed(recorded: dict[str, Any], bank: str) -> dict[str, Any]:
    """A recorded by-bank result with our bank's name in place of HMA's."""
    [value] = recorded.values()
    return {bank: value}


@pytest.fixture
def keys(database_url: str) -> dict[str, dict[str, str]]:
    database = Database.open(database_url)
    api_keys = ApiKeys(database)
    made = {
        scope: api_keys.create(f"k-{scope}", [scope])[0] for scope in ("hash", "match", "curate")
    }
    database.close()
    return {scope: {"Authorization": f"Bearer {key}"} for scope, key in made.items()}


@pytest.fixture
def web() -> Iterator[str]:
    files = {
        "/photo.jpg": ("image/jpeg", PHOTO.read_bytes()),
        "/photo.bin": ("application/octet-stream", PHOTO.read_bytes()),
        "/flat.png": ("image/png", FLAT_PNG),
        "/notes.txt": ("text/plain", b"just words"),
    }
    with http_server(static_handler(files)) as base:
        yield base


def make_client(database_url: str, tmp_path: Path, **settings: Any) -> TestClient:
    options: dict[str, Any] = {"url_fetch": True, "url_allow_private": True, **settings}
    return TestClient(
        create_app(Settings(data_dir=tmp_path / "data", database_url=database_url, **options)),
        raise_server_exceptions=False,
    )


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with make_client(database_url, tmp_path) as test_client:
        test_client.app.state.service.wait_until_loaded(60)  # type: ignore[attr-defined]
        yield test_client


def test_types_and_banks(client: TestClient, keys: dict[str, dict[str, str]]) -> None:
    curate = keys["curate"]
    # HMA with its vPDQ extension installed lists vpdq too.
    vpdq = {"enabled_ratio": 1.0, "name": "vpdq"}
    assert client.get("/c/signal_type", headers=curate).json() == [*RECORDED["signal_types"], vpdq]
    assert client.get("/c/content_type", headers=curate).json() == RECORDED["content_types"]
    created = client.post("/c/banks", json={"name": "TEST_BANK"}, headers=curate)
    assert (created.status_code, created.json()) == (201, RECORDED["bank"])
    assert client.get("/c/banks", headers=curate).json() == RECORDED["banks"]
    assert client.get("/c/bank/TEST_BANK", headers=curate).json() == RECORDED["bank"]
    again = client.post("/c/banks", json={"name": "TEST_BANK"}, headers=curate)
    assert (again.status_code, again.json()) == (403, {"message": "Bank already exists"})
    lower = client.post("/c/banks", json={"name": "lower"}, headers=curate)
    assert lower.json() == {"message": "Bank names must be UPPER_WITH_UNDERSCORE"}
    missing = client.post("/c/banks", json={}, headers=curate)
    assert missing.status_code == 422
    assert missing.json()[0]["loc"] == ["name"]
    nope = client.get("/c/bank/NOPE", headers=curate)
    assert (nope.status_code, nope.json()) == (404, RECORDED["error"])
    half = client.put("/c/bank/TEST_BANK", json={"enabled_ratio": 0.5}, headers=curate)
    assert half.status_code == 400
    assert "on or off" in half.json()["message"]
    off = client.put(
        "/c/bank/TEST_BANK", json={"name": "OFF_BANK", "enabled": False}, headers=curate
    )
    assert off.json() == {"matching_enabled_ratio": 0.0, "name": "OFF_BANK"}
    off_at_birth = client.post(
        "/c/banks", json={"name": "OFF2", "enabled_ratio": None, "enabled": False}, headers=curate
    )
    assert off_at_birth.json()["matching_enabled_ratio"] == 0.0
    assert client.put("/c/bank/GONE", json={}, headers=curate).json() == {
        "message": "Bank not found"
    }
    for _ in range(2):  # HMA answers "Done" whether or not the bank is there
        assert client.delete("/c/bank/OFF_BANK", headers=curate).json() == RECORDED["bank_deleted"]
    assert [bank["name"] for bank in client.get("/c/banks", headers=curate).json()] == ["OFF2"]


def test_content_by_signal_lifecycle(client: TestClient, keys: dict[str, dict[str, str]]) -> None:
    curate, match = keys["curate"], keys["match"]
    client.post("/c/banks", json={"name": "BANK_A"}, headers=curate)
    md5 = "D41D8CD98F00B204E9800998ECF8427E"
    added = client.post(
        "/c/bank/BANK_A/signal",
        json={"pdq": PDQ, "video_md5": md5, "note": "sig note"},
        headers=curate,
    ).json()
    assert_shape(added, RECORDED["signals_added"])
    assert added["signals"] == {"pdq": PDQ, "video_md5": md5.lower()}
    content_id = added["id"]
    again = client.post("/c/bank/BANK_A/signal", json={"pdq": PDQ}, headers=curate).json()
    assert again["id"] == content_id  # already banked: the same content
    for body, message in [
        ({}, "No signals given"),
        ({"tmk": "00"}, "No such signal type tmk"),
        ({"pdq": "abc"}, "Invalid pdq signal"),
        ({"pdq": PDQ, "note": "x" * 256}, "note must be at most 255 characters"),
    ]:
        refused = client.post("/c/bank/BANK_A/signal", json=body, headers=curate)
        assert refused.status_code == 400
        assert refused.json()["message"].startswith(message)
    assert client.post("/c/bank/NOPE/signal", json={"pdq": PDQ}, headers=curate).status_code == 404

    url = f"/c/bank/BANK_A/content/{content_id}"
    shown = client.get(url, params={"include_signals": "true"}, headers=curate).json()
    both = {**RECORDED["content_with_signals"], "signals": RECORDED["signals_added"]["signals"]}
    assert_shape(shown, both)
    assert (shown["signals"], shown["note"]) == (added["signals"], "sig note")
    assert_shape(client.get(url, headers=curate).json(), {**RECORDED["content"], "note": ""})
    lookup = client.get("/m/lookup", params={"signal_type": "pdq", "signal": PDQ}, headers=match)
    assert_shape(lookup.json(), renamed(RECORDED["lookup_by_signal"], "BANK_A"))
    assert lookup.json() == {"BANK_A": [{"bank_content_id": content_id, "distance": "0"}]}
    exact = client.get(
        "/m/lookup", params={"signal_type": "video_md5", "signal": md5}, headers=match
    ).json()
    assert exact == {"BANK_A": [{"bank_content_id": content_id, "distance": "-"}]}

    disabled = client.put(url, json={"disable_until_ts": 0, "note": None}, headers=curate)
    assert_shape(disabled.json(), RECORDED["content_updated"])
    assert disabled.json()["disable_until_ts"] == 0
    assert (
        client.get("/m/lookup", params={"signal_type": "pdq", "signal": PDQ}, headers=match).json()
        == {}
    )
    raw = client.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": PDQ}, headers=match)
    assert raw.json() == {"matches": [content_id]}  # raw lookups ignore disabling, as HMA's
    with_distance = client.get(
        "/m/raw_lookup",
        params={"signal_type": "pdq", "signal": PDQ, "include_distance": "true"},
        headers=match,
    ).json()
    assert_shape(with_distance, RECORDED["raw_lookup_distance"])
    assert (
        client.put(url, json={"disable_until_ts": 1}, headers=curate).json()["disable_until_ts"]
        == 1
    )
    for body, message in [
        ({"disable_until_ts": -1}, "disable_until_ts must be a non-negative integer"),
        ({"disable_until_ts": 4_000_000_000}, "disable_until_ts must be less than 5 years"),
        ({"disable_until_ts": "abc"}, "Invalid int: 'abc'"),
    ]:
        assert client.put(url, json=body, headers=curate).json()["message"].startswith(message)
    not_json = client.put(url, content=b"disable_until_ts=0", headers=curate)
    assert not_json.status_code == 415
    assert client.get("/c/bank/BANK_A/content/999999", headers=curate).json() == {
        "message": "content '999999' not found"
    }
    assert client.delete(url, headers=curate).json() == RECORDED["content_deleted"]
    assert client.delete(url, headers=curate).json() == {"deleted": 0}


def test_content_by_upload_and_url(
    client: TestClient, keys: dict[str, dict[str, str]], web: str
) -> None:
    curate, match = keys["curate"], keys["match"]
    client.post("/c/banks", json={"name": "BANK_A"}, headers=curate)
    metadata = {
        "content_id": "ext-1",
        "content_uri": "https://example.com/1",
        "json": {"k": [1, 2]},
    }
    uploaded = client.post(
        "/c/bank/BANK_A/content",
        files={"photo": ("beach.jpg", PHOTO.read_bytes(), "image/jpeg")},
        data={"metadata": json.dumps(metadata), "note": "hello note"},
        headers=curate,
    ).json()
    assert_shape(uploaded, RECORDED["content_added"])
    assert uploaded["signals"] == {"pdq": PHOTO_PDQ}
    shown = client.get(f"/c/bank/BANK_A/content/{uploaded['id']}", headers=curate).json()
    assert_shape(shown, RECORDED["content_with_metadata"])
    assert shown["metadata"] == {"collab": None, **metadata}
    without = client.get(
        f"/c/bank/BANK_A/content/{uploaded['id']}",
        params={"include_metadata": "false"},
        headers=curate,
    ).json()
    assert "metadata" not in without

    client.post("/c/banks", json={"name": "BANK_B"}, headers=curate)
    by_url = client.post(
        "/c/bank/BANK_B/content",
        params={"url": f"{web}/photo.jpg"},
        json={"metadata": {"content_id": "ext-2"}},
        headers=curate,
    ).json()
    assert by_url["signals"] == {"pdq": PHOTO_PDQ}
    assert (
        client.get(f"/c/bank/BANK_B/content/{by_url['id']}", headers=curate).json()["metadata"][
            "content_id"
        ]
        == "ext-2"
    )
    for data, message in [
        ({"metadata": "{not json"}, "metadata form field must be valid JSON"),
        ({"metadata": "[1]"}, "metadata should be a json object"),
        ({"metadata": json.dumps({"bogus": 1})}, "Invalid metadata"),
    ]:
        refused = client.post(
            "/c/bank/BANK_A/content",
            files={"photo": ("x.jpg", PHOTO.read_bytes())},
            data=data,
            headers=curate,
        )
        assert (refused.status_code, refused.json()["message"][: len(message)]) == (400, message)
    flat = client.post(
        "/c/bank/BANK_A/content", files={"photo": ("flat.png", FLAT_PNG)}, headers=curate
    )
    assert flat.status_code == 400
    assert flat.json()["message"].startswith("Invalid pdq signal")

    # A rotated copy of the upload finds both banks' content by POST /m/lookup.
    rotated = encoded(Image.open(PHOTO).rotate(90, expand=True), "JPEG", quality=90)
    found = client.post("/m/lookup", files={"photo": ("r.jpg", rotated)}, headers=match).json()
    assert_shape(
        found,
        {
            "pdq": {
                "BANK_A": RECORDED["lookup_by_content"]["pdq"]["BANK_A"],
                "BANK_B": RECORDED["lookup_by_content"]["pdq"]["BANK_A"],
            }
        },
    )
    assert found["pdq"]["BANK_A"][0]["bank_content_id"] == uploaded["id"]
    only_b = client.post(
        "/m/lookup", params={"banks": "BANK_B"}, files={"photo": ("r.jpg", rotated)}, headers=match
    ).json()
    assert list(only_b["pdq"]) == ["BANK_B"]
    by_lookup_url = client.get(
        "/m/lookup", params={"url": f"{web}/photo.jpg"}, headers=match
    ).json()
    assert set(by_lookup_url["pdq"]) == {"BANK_A", "BANK_B"}
    unwrapped = client.get(
        "/m/lookup", params={"url": f"{web}/photo.jpg", "signal_type": "pdq"}, headers=match
    ).json()
    assert unwrapped == by_lookup_url["pdq"]
    other_type = client.get(
        "/m/lookup", params={"url": f"{web}/photo.jpg", "signal_type": "video_md5"}, headers=match
    ).json()
    assert other_type == {}


def test_hashing(client: TestClient, keys: dict[str, dict[str, str]], web: str) -> None:
    hasher = keys["hash"]
    photo = client.post("/h/hash", files={"photo": ("b.jpg", PHOTO.read_bytes())}, headers=hasher)
    assert photo.json() == {"pdq": PHOTO_PDQ}
    assert_shape(photo.json(), RECORDED["hash_photo"])
    video = client.post(
        "/h/hash",
        params={"types": "video_md5"},
        files={"video": ("clip.mp4", b"not decoded")},
        headers=hasher,
    )
    assert video.json() == {"video_md5": hashlib.md5(b"not decoded").hexdigest()}
    assert_shape(video.json(), RECORDED["hash_video"])
    only_vpdq = client.post(
        "/h/hash",
        params={"types": "vpdq"},
        files={"video": ("clip.mp4", b"x" * 100)},
        headers=hasher,
    )
    assert only_vpdq.status_code == 400
    assert "clip.mp4" in only_vpdq.json()["message"]
    assert client.get("/h/hash", params={"url": f"{web}/photo.jpg"}, headers=hasher).json() == {
        "pdq": PHOTO_PDQ
    }
    as_photo = client.get(
        "/h/hash", params={"url": f"{web}/photo.bin", "content_type": "photo"}, headers=hasher
    )
    assert as_photo.json() == {"pdq": PHOTO_PDQ}
    flat = client.post("/h/hash", files={"photo": ("flat.png", FLAT_PNG)}, headers=hasher)
    assert flat.json() == {"pdq": ""}  # below quality 50, as HMA answers
    missing_url = client.get("/h/hash", headers=hasher)
    assert missing_url.status_code == 422
    assert_shape(missing_url.json(), RECORDED["validation_error"])
    [missing] = missing_url.json()
    assert (missing["loc"], missing["input"]) == (["url"], {})
    assert missing["url"].endswith("/v/missing")
    problems = [
        (
            client.post("/h/hash", files={"file": ("b.jpg", b"x")}, headers=hasher),
            "no such content_type: 'file'",
        ),
        (
            client.post(
                "/h/hash", files=[("photo", ("a", b"x")), ("photo", ("b", b"y"))], headers=hasher
            ),
            "Only one file allowed per request",
        ),
        (
            client.post("/h/hash", data={"photo": "text"}, headers=hasher),
            "Missing multipart/form-data file upload",
        ),
        (
            client.post(
                "/h/hash",
                params={"types": "video_md5"},
                files={"photo": ("b.jpg", b"x")},
                headers=hasher,
            ),
            "signal type 'video_md5' doesn't exist or is disabled",
        ),
        (
            client.post(
                "/h/hash", params={"types": ""}, files={"photo": ("b.jpg", b"x")}, headers=hasher
            ),
            "empty signal type selection",
        ),
        (
            client.get("/h/hash", params={"url": f"{web}/notes.txt"}, headers=hasher),
            "unsupported url ContentType: 'text/plain'",
        ),
        (
            client.get(
                "/h/hash", params={"url": f"{web}/photo.jpg", "content_type": "gif"}, headers=hasher
            ),
            "no such content_type: 'gif'",
        ),
        (
            client.get("/h/hash", params={"url": f"{web}/missing.jpg"}, headers=hasher),
            f"{web}/missing.jpg: the server answered HTTP 404",
        ),
        (
            client.get("/h/hash", params={"url": "ftp://example.com/a.jpg"}, headers=hasher),
            "'ftp://example.com/a.jpg': only http and https",
        ),
        (
            client.post(
                "/h/hash", files={"photo": ("broken.jpg", PHOTO.read_bytes()[:300])}, headers=hasher
            ),
            "broken.jpg",
        ),
    ]
    for response, message in problems:
        assert response.status_code == 400, response.text
        assert message in response.json()["message"]


def test_matching_routes(client: TestClient, keys: dict[str, dict[str, str]]) -> None:
    curate, match = keys["curate"], keys["match"]
    client.post("/c/banks", json={"name": "BANK_A"}, headers=curate)
    for pdq in (PDQ, PDQ[:-1] + "3"):
        client.post("/c/bank/BANK_A/signal", json={"pdq": pdq}, headers=curate)
    raw = client.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": PDQ}, headers=match)
    assert_shape(raw.json(), RECORDED["raw_lookup"])
    assert len(raw.json()["matches"]) == 2
    unknown_bank = client.get(
        "/m/raw_lookup",
        params={"signal_type": "pdq", "signal": PDQ, "banks": "NOPE"},
        headers=match,
    )
    # A bank that is not there is a 404, as on the bank routes (docs/hma.md).
    assert (unknown_bank.status_code, unknown_bank.json()) == (
        404,
        {"message": "no bank named 'NOPE'"},
    )
    looked_up = client.get(
        "/m/lookup", params={"signal_type": "pdq", "signal": PDQ, "banks": "NOPE"}, headers=match
    )
    assert looked_up.status_code == 404
    compared = client.post("/m/compare", json={"pdq": [PDQ, PDQ[:-1] + "3"]}, headers=match)
    assert compared.json() == {"pdq": [True, {"distance": 1}]}
    assert_shape(compared.json(), RECORDED["compare"])
    md5 = hashlib.md5(b"a").hexdigest()
    assert client.post("/m/compare", json={"video_md5": [md5, md5]}, headers=match).json() == {
        "video_md5": [True, {"distance": 0}]
    }
    assert client.post("/m/compare", json={}, headers=match).json() == {}
    for body, message in [
        ([PDQ], "Request input was not a dict"),
        ({"pdq": PDQ}, "Comparison hashes for pdq was not a list"),
        ({"pdq": [PDQ]}, "Comparison hash list length must be exactly 2"),
        ({"tmk": [PDQ, PDQ]}, "No such SignalType 'tmk'"),
        ({"pdq": [PDQ, "zz"]}, "Invalid pdq hash"),
    ]:
        refused = client.post("/m/compare", json=body, headers=match)
        assert (refused.status_code, refused.json()["message"][: len(message)]) == (400, message)
    assert client.post("/m/compare", content=b"x", headers=match).status_code == 415
    status = client.get("/m/index/status", headers=match).json()
    recorded = RECORDED["index_status"]
    assert_shape(status, {**recorded, "vpdq": recorded["pdq"]})  # vpdq: HMA's extension
    assert status["pdq"]["size"] == 2
    assert (
        client.get("/m/index/status", params={"signal_type": "tmk"}, headers=match).status_code
        == 400
    )
    for params, message in [
        ({"signal": PDQ}, "Either url or both signal and signal_type are required"),
        ({"signal": "zz", "signal_type": "pdq"}, "invalid signal:"),
        ({"signal": PDQ, "signal_type": "tmk"}, "No such SignalType 'tmk'"),
    ]:
        refused = client.get("/m/lookup", params=params, headers=match)
        assert (refused.status_code, refused.json()["message"][: len(message)]) == (400, message)


def test_keys_and_scopes(client: TestClient, keys: dict[str, dict[str, str]]) -> None:
    for method, path in [("get", "/c/banks"), ("get", "/m/index/status"), ("post", "/h/hash")]:
        response = client.request(method, path)
        assert response.status_code == 401
        assert "API key" in response.json()["message"]  # HMA's error shape
    wrong = client.get("/c/banks", headers=keys["match"])
    assert (wrong.status_code, list(wrong.json())) == (403, ["message"])


def test_keyless_only_from_loopback(database_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, hma_without_key=True)
    app = create_app(settings)
    with TestClient(app, client=("127.0.0.1", 40000)) as local:
        assert local.get("/c/banks").status_code == 200
        assert local.get("/v1/banks").status_code == 401  # only the HMA routes
    with TestClient(app, client=("203.0.113.9", 40000)) as remote:
        assert remote.get("/c/banks").status_code == 401
    with pytest.raises(ConfigurationError, match="loopback"):
        create_app(settings.overridden({"host": "0.0.0.0"}))


def test_generated_images_hash_as_the_library_does(
    client: TestClient, keys: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    for seed in range(3):
        data = encoded(noise_image(200 + seed * 37, 150, seed), "PNG")
        path = tmp_path / f"n{seed}.png"
        path.write_bytes(data)
        expected = hash_file(path, HashRequest(signal_types=("pdq",))).signals["pdq"]
        got = client.post("/h/hash", files={"photo": ("n.png", data)}, headers=keys["hash"])
        assert got.json() == {"pdq": expected}


def compact(name: str) -> list[str]:
    expected = json.loads((DATA / "expected_vpdq.json").read_text())[name]
    return [f"{f['hash']},{f['quality']},{f['timestamp']:.3}" for f in expected]


def test_video_through_the_hma_routes(client: TestClient, keys: dict[str, dict[str, str]]) -> None:
    """HMA with its vPDQ extension: vpdq signals as compact frame lists."""
    hasher, curate, match = keys["hash"], keys["curate"], keys["match"]
    clip = DATA / "video" / "v2.m4v"
    hashed = client.post("/h/hash", files={"video": ("v2.m4v", clip.read_bytes())}, headers=hasher)
    assert hashed.json()["video_md5"] == hashlib.md5(clip.read_bytes()).hexdigest()
    assert json.loads(hashed.json()["vpdq"]) == compact("video/v2.m4v")
    client.post("/c/banks", json={"name": "VIDEOS"}, headers=curate)
    added = client.post(
        "/c/bank/VIDEOS/content", files={"video": ("v2.m4v", clip.read_bytes())}, headers=curate
    ).json()
    assert set(added["signals"]) == {"video_md5", "vpdq"}
    cut = DATA / "video" / "v2s.mov"  # v2 with its middle cut out
    found = client.post("/m/lookup", files={"video": ("v2s.mov", cut.read_bytes())}, headers=match)
    assert found.json()["video_md5"] == {}
    [hit] = found.json()["vpdq"]["VIDEOS"]
    assert hit == {"bank_content_id": added["id"], "distance": "100%[57%]"}
    by_signal = client.get(
        "/m/lookup",
        params={"signal_type": "vpdq", "signal": json.dumps(compact("video/v2s.mov"))},
        headers=match,
    )
    assert by_signal.json() == {"VIDEOS": [hit]}
    bad = client.get("/m/lookup", params={"signal_type": "vpdq", "signal": "[1]"}, headers=match)
    assert (bad.status_code, bad.json()["message"][:15]) == (400, "invalid signal:")
    client.post("/c/banks", json={"name": "SHARED"}, headers=curate)
    shared = client.post(
        "/c/bank/SHARED/signal", json={"vpdq": json.dumps(compact("video/v1.m4v"))}, headers=curate
    ).json()
    shown = client.get(
        f"/c/bank/SHARED/content/{shared['id']}", params={"include_signals": "true"}, headers=curate
    ).json()
    assert json.loads(shown["signals"]["vpdq"]) == compact("video/v1.m4v")


def test_unreadable_video_gets_its_md5(client: TestClient, keys: dict[str, dict[str, str]]) -> None:
    """HMA hashes any bytes sent as a video to video_md5; so does hashmatch,
    saying in ``not_computed`` why there is no vPDQ."""
    junk = b"not a video at all" * 10
    md5 = hashlib.md5(junk).hexdigest()
    upload = {"video": ("clip.mp4", junk)}

    def why_no_vpdq(body: dict[str, Any]) -> str:
        assert list(body["not_computed"]) == ["vpdq"]
        return str(body["not_computed"]["vpdq"])

    hashed = client.post("/h/hash", files=upload, headers=keys["hash"])
    assert hashed.status_code == 200
    assert hashed.json()["video_md5"] == md5
    assert "vpdq" not in hashed.json()
    assert "clip.mp4" in why_no_vpdq(hashed.json())
    client.post("/c/banks", json={"name": "CLIPS"}, headers=keys["curate"])
    added = client.post("/c/bank/CLIPS/content", files=upload, headers=keys["curate"])
    assert added.status_code == 200
    assert added.json()["signals"] == {"video_md5": md5}
    why_no_vpdq(added.json())
    found = client.post("/m/lookup", files=upload, headers=keys["match"])
    assert found.status_code == 200
    assert found.json()["video_md5"] == {
        "CLIPS": [{"bank_content_id": added.json()["id"], "distance": "-"}]
    }
    why_no_vpdq(found.json())
    exact_only = client.post(
        "/h/hash", params={"types": "video_md5"}, files=upload, headers=keys["hash"]
    )
    assert exact_only.json() == {"video_md5": md5}  # nothing failed: HMA's answer exactly


def test_bank_update_answers_hmas_ratio_types(
    client: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    curate = keys["curate"]
    client.post("/c/banks", json={"name": "RATIO"}, headers=curate)

    def ratio(body: dict[str, Any]) -> Any:
        return client.put("/c/bank/RATIO", json=body, headers=curate).json()[
            "matching_enabled_ratio"
        ]

    by_flag = ratio({"enabled": False})
    assert (by_flag, type(by_flag)) == (0, int)  # HMA: `1 if enabled else 0`
    by_flag = ratio({"enabled": True})
    assert (by_flag, type(by_flag)) == (1, int)
    by_ratio = ratio({"enabled": False, "enabled_ratio": 1})
    assert (by_ratio, type(by_ratio)) == (1.0, float)  # enabled_ratio wins, a float
    unchanged = ratio({})
    assert (unchanged, type(unchanged)) == (1.0, float)


def test_validation_errors_as_pydantic_writes_them(
    client: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    [not_bool] = client.get(
        "/m/raw_lookup",
        params={"signal_type": "pdq", "signal": PDQ, "include_distance": "maybe"},
        headers=keys["match"],
    ).json()
    assert (not_bool["type"], not_bool["loc"], not_bool["input"]) == (
        "bool_parsing",
        ["include_distance"],
        "maybe",
    )
    assert not_bool["url"].endswith("/v/bool_parsing")
    [negative] = client.get("/c/bank/ANY/content/-1", headers=keys["curate"]).json()
    assert negative["ctx"] == {"ge": 0}
    assert negative["input"] == "-1"
    [no_name] = client.post("/c/banks", json={"enabled": True}, headers=keys["curate"]).json()
    assert (no_name["type"], no_name["input"]) == ("missing", {"enabled": True})
    nested: Any = "deep"
    for _ in range(200):
        nested = [nested]
    deep = client.post("/c/banks", json={"name": nested}, headers=keys["curate"])
    assert deep.status_code == 422  # the input echoed back, cut off where it gets silly
    assert json.dumps(deep.json()).count("[") < 40


def test_health_routes_as_hma_with_hma_without_key(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HMA's probes call /status and /status/live without a key and read
    plain text; the JSON answers stay for servers without the setting."""
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, hma_without_key=True)
    app = create_app(settings)
    with TestClient(app, client=("127.0.0.1", 40000)) as local:
        app.state.service.wait_until_loaded(60)
        for path in ("/status/live", "/status"):
            response = local.get(path)
            assert (response.status_code, response.text) == (200, "I-AM-ALIVE")
            assert response.headers["content-type"].startswith("text/plain")
        with monkeypatch.context() as patched:
            patched.setattr(app.state.service, "_matcher", None)  # as before the index is in
            loading = local.get("/status")
        assert (loading.status_code, loading.text) == (503, "INDEX-NOT-LOADED")
    with TestClient(app, client=("203.0.113.9", 40000)) as remote:
        assert remote.get("/status").status_code == 401
    with make_client(database_url, tmp_path) as plain:
        assert plain.get("/status/live").json() == {"status": "live"}
        assert plain.get("/status").status_code == 401
