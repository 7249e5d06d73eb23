"""Hostile requests, on both engines: each gets a 4xx with a message, never a 500.

Deep or huge JSON, ids past 64 bits, NUL characters and lone surrogates
(which PostgreSQL and UTF-8 refuse), bodies sent without a key (refused
before they are read), and methods a path does not take.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.banks import Banks
from hashmatch.fieldlimits import MAX_JSON_DEPTH
from hashmatch.hashlists import Entry
from hashmatch.settings import Settings
from hashmatch.store import Database
from tests.conftest import DATA

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PHOTO = DATA / "photos" / "nature-beach-malibu.jpg"
TOO_BIG_ID = 2**63


def nested(levels: int) -> Any:
    """A JSON value ``levels`` objects deep."""
    value: Any = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def deep_text(levels: int) -> str:
    """A JSON object ``levels`` deep, as text (too deep for json.dumps)."""
    return '{"a":' * (levels - 1) + "{}" + "}" * (levels - 1)


class BodyReads:
    """ASGI middleware counting the request body bytes the app reads."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.bytes = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted() -> Message:
            message = await receive()
            self.bytes += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], int]]:
    """A client, an admin key's headers, and a content id in bank "known"."""
    database = Database.open(database_url)
    key = ApiKeys(database).create("admin", ["admin"])[0]
    banks = Banks(database)
    banks.create("known")
    banks.create("HB")
    content_id = banks.add("known", Entry({"pdq": PDQ}))
    database.close()
    assert content_id is not None
    app = create_app(Settings(data_dir=tmp_path / "data", database_url=database_url))
    with TestClient(app, raise_server_exceptions=False) as client:
        app.state.service.wait_until_loaded(60)
        yield client, {"Authorization": f"Bearer {key}"}, content_id


def refused(response: Any, status: int, words: str) -> None:
    """A ``status`` response whose message (either error shape) says ``words``."""
    assert response.status_code == status, response.text
    body = response.json()
    if isinstance(body, list):  # HMA's 422: pydantic's list
        message = " ".join(item["msg"] for item in body)
    else:
        message = body["error"]["message"] if "error" in body else body["message"]
    assert words in message, message


# -- deep, big and unencodable JSON ----------------------------------------------


def test_metadata_at_the_depth_limit_is_stored_and_served(served: Any) -> None:
    client, auth, _ = served
    value = nested(MAX_JSON_DEPTH)
    signals = {"pdq": "0f" * 32}
    added = client.post(
        "/v1/banks/known/content",
        json={"signals": signals, "source_metadata": value},
        headers=auth,
    )
    assert added.status_code == 201
    shown = client.get(f"/v1/banks/known/content/{added.json()['content_id']}", headers=auth)
    assert shown.json()["source_metadata"] == value
    found = client.get(
        "/v1/lookup", params={"signal_type": "pdq", "signal": signals["pdq"]}, headers=auth
    )
    assert [match["source_metadata"] for match in found.json()["matches"]] == [value]


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, 300])
def test_deeper_metadata_is_refused(served: Any, levels: int) -> None:
    client, auth, content_id = served
    body = {"signals": {"pdq": "0f" * 32}, "source_metadata": nested(levels)}
    added = client.post("/v1/banks/known/content", json=body, headers=auth)
    refused(added, 422, f"source_metadata is nested deeper than {MAX_JSON_DEPTH} levels")
    changed = client.patch(
        f"/v1/banks/known/content/{content_id}",
        json={"source_metadata": nested(levels)},
        headers=auth,
    )
    refused(changed, 422, "nested deeper")


def test_json_too_deep_to_parse_is_a_400(served: Any) -> None:
    client, auth, _ = served
    body = '{"signals": {"pdq": "' + PDQ + '"}, "source_metadata": ' + deep_text(5000) + "}"
    headers = {**auth, "Content-Type": "application/json"}
    refused(client.post("/v1/banks/known/content", content=body, headers=headers), 400, "body")
    hma = client.post("/c/bank/HB/signal", content=deep_text(5000), headers=headers)
    refused(hma, 400, "nested too deeply")
    compared = client.post("/m/compare", content=deep_text(5000), headers=headers)
    refused(compared, 400, "nested too deeply")


def test_metadata_too_big_or_not_unicode_is_refused(served: Any) -> None:
    client, auth, _ = served
    big = {"signals": {"pdq": "0f" * 32}, "source_metadata": {"x": "y" * 70_000}}
    refused(client.post("/v1/banks/known/content", json=big, headers=auth), 422, "bytes as JSON")
    surrogate = '{"signals": {"pdq": "' + "0f" * 32 + '"}, "source_metadata": {"x": "\\ud800"}}'
    headers = {**auth, "Content-Type": "application/json"}
    sent = client.post("/v1/banks/known/content", content=surrogate, headers=headers)
    refused(sent, 422, "lone surrogate")
    # pydantic's message names the key: it is written without the surrogate
    named = client.post(
        "/v1/banks/known/content", content='{"signals": {"\\ud800": 5}}', headers=headers
    )
    refused(named, 422, "Input should be a valid string")


def test_hma_metadata_deep_or_unparseable(served: Any) -> None:
    client, auth, _ = served
    photo = {"photo": ("p.jpg", PHOTO.read_bytes(), "image/jpeg")}
    for metadata, words in [
        (deep_text(5000), "must be valid JSON"),
        (json.dumps({"json": nested(300)}), "nested deeper"),
        (json.dumps({"content_id": "a\x00b"}), "NUL"),
    ]:
        sent = client.post(
            "/c/bank/HB/content", files=photo, data={"metadata": metadata}, headers=auth
        )
        refused(sent, 400, words)
    noted = client.post("/c/bank/HB/content", files=photo, data={"note": "a\x00"}, headers=auth)
    refused(noted, 400, "note must not contain NUL")


def test_hma_signals_that_are_not_strings_or_not_finite(served: Any) -> None:
    client, auth, _ = served
    for body, words in [
        ({"pdq": [[["f" * 64]]]}, "expected a string"),
        ({"vpdq": json.dumps([f"{PDQ},100,NaN"])}, "out of range"),
        ({"vpdq": json.dumps([[PDQ]])}, "expected a JSON list"),
        ({"vpdq": deep_text(5000)}, "nested too deeply"),
    ]:
        refused(client.post("/c/bank/HB/signal", json=body, headers=auth), 400, words)
    pair = client.post("/m/compare", json={"pdq": [[PDQ], PDQ]}, headers=auth)
    refused(pair, 400, "expected strings")
    lookup = client.get(
        "/m/lookup", params={"signal_type": "vpdq", "signal": deep_text(2000)}, headers=auth
    )
    refused(lookup, 400, "nested too deeply")


def test_hma_disable_until_past_any_int(served: Any) -> None:
    client, auth, _ = served
    added = client.post("/c/bank/HB/signal", json={"pdq": PDQ}, headers=auth).json()
    headers = {**auth, "Content-Type": "application/json"}
    sent = client.put(
        f"/c/bank/HB/content/{added['id']}", content='{"disable_until_ts": 1e999}', headers=headers
    )
    refused(sent, 400, "Invalid int")


# -- ids past 64 bits -------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_content_ids_past_64_bits(served: Any, method: str) -> None:
    client, auth, _ = served
    body = {"json": {"note": "x"}} if method == "PATCH" else {}
    v1 = client.request(method, f"/v1/banks/known/content/{TOO_BIG_ID}", headers=auth, **body)
    refused(v1, 422, "less than or equal to 9223372036854775807")
    hma_method = "PUT" if method == "PATCH" else method
    hma = client.request(hma_method, f"/c/bank/HB/content/{TOO_BIG_ID}", headers=auth, **body)
    refused(hma, 422, "less than or equal to 9223372036854775807")


@pytest.mark.parametrize("switch", ["disable", "enable"])
def test_switching_content_ids_past_64_bits(served: Any, switch: str) -> None:
    client, auth, content_id = served
    sent = client.post(
        f"/v1/banks/known/content/{switch}",
        json={"content_ids": [content_id, TOO_BIG_ID]},
        headers=auth,
    )
    refused(sent, 422, "less than or equal to 9223372036854775807")


# -- NUL characters ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "words"),
    [
        ("POST", "/v1/banks", {"name": "n", "description": "a\x00"}, "description must not"),
        ("PATCH", "/v1/banks/known", {"description": "a\x00"}, "description must not"),
        (
            "POST",
            "/v1/banks/known/content",
            {"signals": {"pdq": "0f" * 32}, "note": "a\x00"},
            "note must not",
        ),
        (
            "POST",
            "/v1/banks/known/content",
            {"signals": {"pdq": "0f" * 32}, "external_id": "a\x00"},
            "external_id must not",
        ),
        ("PATCH", "/v1/banks/known/content/{id}", {"note": "\x00"}, "note must not"),
        ("PUT", "/c/bank/HB/content/{hma_id}", {"note": "\x00"}, "note must not"),
        ("POST", "/c/bank/HB/signal", {"pdq": "0f" * 32, "note": "\x00"}, "note must not"),
    ],
)
def test_nul_in_stored_text(
    served: Any, method: str, path: str, body: dict[str, Any], words: str
) -> None:
    client, auth, content_id = served
    hma_id = client.post("/c/bank/HB/signal", json={"pdq": PDQ}, headers=auth).json()["id"]
    url = path.format(id=content_id, hma_id=hma_id)
    status = 400 if path.startswith("/c/") else 422
    refused(client.request(method, url, json=body, headers=auth), status, words)


@pytest.mark.parametrize(
    "url",
    [
        "/v1/banks/a%00b",
        "/v1/banks/known/content/1?x=%00",
        "/v1/lookup?signal_type=pdq&signal=%00",
        "/v1/lookup?signal_type=pdq&signal=" + PDQ + "&bank=a%00",
        "/c/bank/A%00B",
        "/m/raw_lookup?signal_type=pdq&signal=" + PDQ + "&banks=a%00",
    ],
)
def test_nul_in_path_or_query(served: Any, url: str) -> None:
    client, auth, _ = served
    refused(client.get(url, headers=auth), 400, "NUL characters are not allowed")


def test_import_with_hostile_lines(served: Any) -> None:
    client, auth, _ = served
    cases = [
        (
            "jsonl",
            f'{{"signals": {{"pdq": "{PDQ}"}}, "source_metadata": {deep_text(300)}}}',
            "deeper",
        ),
        ("jsonl", deep_text(5000), "list.jsonl:1: nested too deeply"),
        ("jsonl", f'{{"signals": {{"pdq": "{PDQ}"}}, "note": "a\\u0000"}}', "note must not"),
        ("csv", f"signal_type,signal,external_id\npdq,{PDQ},x\x00y\n", "list.csv:2"),
        ("vpdq", f"# video a\x00b\n0,100,{PDQ},0.0\n", "external_id must not"),
    ]
    for list_format, text, words in cases:
        sent = client.post(
            "/v1/banks/known/import",
            params={"format": list_format},
            files={"file": (f"list.{list_format}", text.encode())},
            headers=auth,
        )
        refused(sent, 400, words)


# -- the key before the body ------------------------------------------------------


def _operations(client: TestClient) -> list[tuple[str, str]]:
    document = client.get("/openapi.json").json()
    return [
        (method.upper(), path.replace("{", "").replace("}", ""))
        for path, item in document["paths"].items()
        for method in item
        if path != "/status/live"
    ]


@pytest.mark.parametrize("key", [None, "Bearer hm_000000000000_wrongwrongwrongwrongwrong"])
def test_every_route_refuses_a_missing_or_wrong_key_before_the_body(
    served: Any, key: str | None
) -> None:
    client, _, _ = served
    headers = {"Content-Type": "application/json", **({"Authorization": key} if key else {})}
    for method, path in _operations(client):
        response = client.request(method, path, content=b'{"malformed', headers=headers)
        assert response.status_code == 401, (method, path, response.text)


def test_a_large_body_without_a_key_is_not_read(served: Any) -> None:
    client, auth, _ = served
    app = client.app
    reads = BodyReads(app.middleware_stack)  # type: ignore[attr-defined]
    app.middleware_stack = reads  # type: ignore[attr-defined]
    body = b'{"hashes": [' + b'{"signal_type": "pdq", "signal": "x"},' * 150_000 + b"{}]}"
    for path in ("/v1/lookup", "/c/bank/HB/signal"):
        response = client.post(path, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 401
    assert reads.bytes == 0
    wrong = client.post("/v1/lookup", content=body, headers={"Authorization": "Bearer x"})
    assert (wrong.status_code, reads.bytes) == (401, 0)
    client.post("/v1/lookup", content=body, headers={**auth, "Content-Type": "application/json"})
    assert reads.bytes == len(body)  # with a key, it is read


def test_scopes_still_hold_before_the_body(served: Any, database_url: str) -> None:
    client, _, _ = served
    database = Database.open(database_url)
    hasher = ApiKeys(database).create("hasher", ["hash"])[0]
    database.close()
    headers = {"Authorization": f"Bearer {hasher}", "Content-Type": "application/json"}
    response = client.post("/v1/banks", content=b'{"malformed', headers=headers)
    refused(response, 403, "does not have the 'curate' scope")
    hma = client.post("/c/bank/HB/signal", content=b"[", headers=headers)
    refused(hma, 403, "does not have the 'curate' scope")


# -- methods a path does not take -------------------------------------------------


def test_methods_not_allowed_name_the_ones_that_are(served: Any) -> None:
    client, auth, _ = served
    paths = client.get("/openapi.json").json()["paths"]
    # A user_ref takes the rest of the path (it may hold "/"), so
    # DELETE /v1/platform-users/{user_ref} is also .../name/history.
    templates = {
        re.compile(re.sub(r"\{\w+\}", "[^/]+", path.replace("{user_ref}", ".+")) + "$"): path
        for path in paths
    }
    for path in paths:
        url = path.replace("{content_id}", "1").replace("{", "").replace("}", "")
        # /v1/banks/name/content/disable is also /v1/banks/{name}/content/{content_id}
        documented = {
            method.upper()
            for pattern, template in templates.items()
            if pattern.match(url)
            for method in paths[template]
        }
        response = client.request("TRACE", url, headers=auth)
        assert response.status_code == 405, (path, response.text)
        allowed = {method.strip() for method in response.headers["Allow"].split(",")}
        assert allowed == documented, path
        assert response.json()  # an error body, in the path's shape
