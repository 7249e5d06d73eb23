"""Lantern-style signals over HTTP and the CLI, on both engines: banks take
them by their text, lookups and submissions (accounts, emails, urls, text)
match them, rules name them, hostile values get a 4xx naming the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hashmatch.actions.rule_store import Rules
from hashmatch.actions.rules import parse_rule
from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.cli import app as cli_app
from hashmatch.settings import Settings
from hashmatch.store import Database
from tests.conftest import DATA

BANKED = {
    "url": "https://Example.com/gallery?id=7&utm_source=x",
    "email": "J.Doe@gmail.com",
    "username": "kik:@Trader",
    "keyword": "Trade Pics",
}
RULE = {
    "name": "block-lantern",
    "when": {"signal_types": ["username", "keyword", "email", "url"]},
    "then": [{"action": "block"}],
}


@pytest.fixture
def keys(database_url: str) -> dict[str, str]:
    database = Database.open(database_url)
    Rules(database).set_enabled("review-any-match", False)
    Rules(database).create(parse_rule(RULE))
    api_keys = ApiKeys(database)
    made = {s: api_keys.create(f"key-{s}", [s])[0] for s in ("curate", "match", "submit")}
    database.close()
    return made


@pytest.fixture
def client(database_url: str, tmp_path: Path, keys: dict[str, str]) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    application = create_app(settings)
    with TestClient(application, raise_server_exceptions=False) as test_client:
        application.state.service.wait_until_loaded(60)
        curate = {"Authorization": f"Bearer {keys['curate']}"}
        created = test_client.post("/v1/banks", json={"name": "lantern"}, headers=curate)
        assert created.status_code == 201, created.text
        for name, value in BANKED.items():
            added = test_client.post(
                "/v1/banks/lantern/content", json={"signals": {name: value}}, headers=curate
            )
            assert added.status_code == 201, added.text
        yield test_client


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_lookups_find_each_type(client: TestClient, keys: dict[str, str]) -> None:
    one = client.get(
        "/v1/lookup",
        params={"signal_type": "url", "signal": "HTTPS://example.com:443/gallery?id=7#top"},
        headers=auth(keys["match"]),
    )
    assert one.status_code == 200, one.text
    assert [m["signal_type"] for m in one.json()["matches"]] == ["url"]
    text = "so, do you " + "really " * 2000 + "want to TRADE\n pics?"
    body = {
        "hashes": [
            {"signal_type": "email", "signal": "jdoe+x@googlemail.com"},
            {"signal_type": "username", "signal": "KIK:trader"},
            {"signal_type": "keyword", "signal": text},
            {"signal_type": "keyword", "signal": "trade-ins and pictures"},
        ]
    }
    batch = client.post("/v1/lookup", json=body, headers=auth(keys["match"]))
    assert batch.status_code == 200, batch.text
    found = [[m["signal_type"] for m in r["matches"]] for r in batch.json()["results"]]
    assert found == [["email"], ["username"], ["keyword"], []]
    assert client.get("/v1/lookup", params={"signal_type": "url", "signal": "x"}).status_code == 401


def test_a_submission_carries_accounts_emails_urls_and_text(
    client: TestClient, keys: dict[str, str]
) -> None:
    body = {
        "content_ref": "post-1",
        "user_ref": "u1",
        "accounts": ["instagram:someone", "kik:TRADER"],
        "emails": ["nobody@example.org"],
        "urls": ["https://example.com/gallery?utm_medium=x&id=7"],
        "text": "Trade pics?",
    }
    response = client.post("/v1/submissions", json=body, headers=auth(keys["submit"]))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["verdict"] == "block"
    assert sorted(m["signal_type"] for m in answer["matches"]) == ["keyword", "url", "username"]
    record = client.get(
        f"/v1/submissions/{answer['submission_id']}", headers=auth(keys["submit"])
    ).json()
    assert record["signals"] == {
        "username": ["instagram:someone", "kik:trader"],
        "email": ["nobody@example.org"],
        "url": ["https://example.com/gallery?id=7"],
    }  # the text is matched, not kept


def test_a_file_upload_carries_the_signal_fields_too(
    client: TestClient, keys: dict[str, str]
) -> None:
    fields = {
        "content_ref": "post-file",
        "emails": ["nobody@example.org", "JDoe+x@googlemail.com"],
        "accounts": "kik:someone-else",
        "text": "Trade pics?",
    }
    response = client.post(
        "/v1/submissions", data=fields, files=PHOTO_FILE, headers=auth(keys["submit"])
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["verdict"] == "block"
    assert sorted(m["signal_type"] for m in answer["matches"]) == ["email", "keyword"]
    record = client.get(
        f"/v1/submissions/{answer['submission_id']}", headers=auth(keys["submit"])
    ).json()
    assert record["content_type"] == "photo"
    assert {"pdq", "md5", "sha256"} <= set(record["signals"])
    assert record["signals"]["email"] == ["nobody@example.org", "jdoe@gmail.com"]
    assert record["signals"]["username"] == ["kik:someone-else"]
    for extra, status, named in FORM_HOSTILE:
        bad = client.post(
            "/v1/submissions",
            data={"content_ref": "post-bad", **extra},
            files=PHOTO_FILE,
            headers=auth(keys["submit"]),
        )
        assert bad.status_code == status, (extra, bad.text)
        assert named in json.dumps(bad.json()["error"]), extra


PHOTO_FILE = {"file": ("a.jpg", (DATA / "photos" / "nature-beach-malibu.jpg").read_bytes())}
FORM_HOSTILE: list[tuple[dict[str, Any], int, str]] = [
    ({"emails": ["a@b.co", "not-an-address"]}, 400, "emails[1]"),
    ({"urls": "example.com/no-scheme"}, 400, "urls[0]"),
    ({"text": "x" * 100_001}, 422, "text"),
    ({"text": ["one", "two"]}, 400, "text is given 2 times"),
    ({"accounts": "a" * 1_001}, 422, "accounts"),
]

HOSTILE: list[tuple[dict[str, Any], int, str]] = [
    ({"urls": ["example.com/no-scheme"]}, 400, "urls[0]"),
    ({"urls": ["https://example.com/\u0000"]}, 400, "urls[0]"),
    ({"emails": ["a@b.co", "not-an-address"]}, 400, "emails[1]"),
    ({"accounts": ["no-platform"]}, 400, "accounts[0]"),
    ({"text": "x" * 100_001}, 422, "text"),
    ({"urls": "https://example.com/"}, 422, "urls"),
    ({"signals": [{"signal_type": "url", "signal": "javascript:1"}]}, 400, "signals[0]"),
    ({}, 400, "signals"),
]


def test_hostile_signals_get_a_4xx_naming_the_field(
    client: TestClient, keys: dict[str, str]
) -> None:
    for extra, status, named in HOSTILE:
        body = {"content_ref": "post-bad", **extra}
        response = client.post("/v1/submissions", json=body, headers=auth(keys["submit"]))
        assert response.status_code == status, (extra, response.text)
        assert named in json.dumps(response.json()["error"]), extra
    bad_lookup = client.get(
        "/v1/lookup", params={"signal_type": "email", "signal": "x"}, headers=auth(keys["match"])
    )
    assert bad_lookup.status_code == 400, bad_lookup.text
    assert "not an email address" in bad_lookup.json()["error"]["message"]


def test_the_cli_adds_matches_and_exports_them(database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()

    def cli(*args: str) -> Any:
        result = runner.invoke(cli_app, ["--database-url", database_url, *args])
        return result

    assert cli("bank", "create", "lantern").exit_code == 0
    added = cli(
        "bank", "add", "lantern", "--hash", "url:https://Example.com/a?fbclid=1",
        "--hash", "keyword:Trade  Pics", "--hash", "username:Kik:@Trader",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    matched = cli("match", "--hash", "keyword:want to trade pics?", "--hash", "url:nope")
    assert matched.exit_code != 0
    assert "not a URL" in matched.output
    matched = cli("match", "--hash", "keyword:want to trade pics?")
    assert matched.exit_code == 0, matched.output
    [line] = [json.loads(text) for text in matched.stdout.splitlines() if text.strip()]
    assert [m["signal_type"] for m in line["matches"]] == ["keyword"]
    exported = tmp_path / "lantern.csv"
    assert cli("bank", "export", "lantern", "-o", str(exported)).exit_code == 0
    rows = exported.read_text().splitlines()[1:]
    assert sorted(row.split(",")[:2] for row in rows) == [
        ["keyword", "trade pics"],
        ["url", "https://example.com/a"],
        ["username", "kik:trader"],
    ]
    assert cli("bank", "create", "copy").exit_code == 0
    imported = cli("bank", "import", "copy", str(exported))
    # Rows without an external id are one content each.
    assert json.loads(imported.stdout) == {"added": 3, "skipped": 0}
