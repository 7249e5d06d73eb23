"""Exchanges through /v1, HMA's /c exchange routes and the CLI, on both engines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.cli import app as cli_app
from hashmatch.exchange.simulators import NcmecEntry, NcmecSimulator
from hashmatch.settings import Settings
from hashmatch.store import Database

PDQ = "a" * 64
Client = tuple[TestClient, dict[str, str]]


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[Client]:
    database = Database.open(database_url)
    curate = ApiKeys(database).create("curator", ["curate"])[0]
    match = ApiKeys(database).create("matcher", ["match"])[0]
    database.close()
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, url_allow_private=True
    )
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        app.state.service.wait_until_loaded(60)
        yield test_client, {"Authorization": f"Bearer {curate}", "match": f"Bearer {match}"}


@pytest.fixture
def ncmec(monkeypatch: pytest.MonkeyPatch) -> Iterator[NcmecSimulator]:
    monkeypatch.setenv("HASHMATCH_EXCHANGE_NCMEC", "user:pw")
    with NcmecSimulator("user:pw") as simulator:
        simulator.entries = [NcmecEntry("e1", classification="A1", fingerprints={"PDQ": PDQ})]
        yield simulator


def test_exchange_lifecycle_and_fetch_through_v1(client: Client, ncmec: NcmecSimulator) -> None:
    http, curate = client
    assert http.post("/v1/banks", json={"name": "nc"}, headers=curate).status_code == 201
    body = {
        "name": "ncmec",
        "type": "ncmec",
        "bank": "nc",
        "options": {"base_url": ncmec.url},
        "credentials_env": "HASHMATCH_EXCHANGE_NCMEC",
    }
    created = http.post("/v1/exchanges", json=body, headers=curate)
    assert created.status_code == 201, created.text
    assert http.post("/v1/exchanges", json=body, headers=curate).status_code == 409
    fetched = http.post("/v1/exchanges/ncmec/fetch", headers=curate).json()
    assert fetched["succeeded"]
    assert fetched["counts"]["added"] == 1
    status = http.get("/v1/exchanges/ncmec/status", headers=curate).json()
    assert status["fetched_total"] == 1
    assert status["up_to_date"]
    changed = http.patch("/v1/exchanges/ncmec", json={"enabled": False}, headers=curate)
    assert changed.json()["enabled"] is False
    assert [e["name"] for e in http.get("/v1/exchanges", headers=curate).json()["exchanges"]] == [
        "ncmec"
    ]
    assert http.delete("/v1/exchanges/ncmec", headers=curate).json() == {"deleted": "ncmec"}
    missing = http.get("/v1/exchanges/ncmec", headers=curate)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_exchange"


def test_v1_refuses_other_variables_and_needs_curate(client: Client) -> None:
    http, curate = client
    http.post("/v1/banks", json={"name": "nc"}, headers=curate)
    body = {"name": "x", "type": "ncmec", "bank": "nc", "credentials_env": "DATABASE_PASSWORD"}
    refused = http.post("/v1/exchanges", json=body, headers=curate)
    assert refused.status_code == 400
    assert "HASHMATCH_EXCHANGE_" in refused.text
    unknown = http.post(
        "/v1/exchanges", json={**body, "type": "nope", "credentials_env": None}, headers=curate
    )
    assert unknown.status_code == 400
    assert "unknown exchange type" in unknown.text
    assert http.get("/v1/exchanges", headers={"Authorization": curate["match"]}).status_code == 403
    types = http.get("/v1/exchange-types", headers=curate).json()["types"]
    assert {"file", "hashmatch", "ncmec", "stopncii", "threatexchange", "url"} <= {
        t["type"] for t in types
    }


def test_hma_exchange_routes(client: Client, ncmec: NcmecSimulator) -> None:
    http, curate = client
    apis = http.get("/c/exchanges/apis", headers=curate).json()
    assert {"fb_threatexchange", "ncmec", "stop_ncii"} <= set(apis)
    assert http.get("/c/exchanges/api/ncmec", headers=curate).json() == {
        "has_set_authentification": False,
        "supports_authentification": True,
    }
    refused = http.post(
        "/c/exchanges/api/ncmec", json={"credential_json": {"user": "u"}}, headers=curate
    )
    assert refused.status_code == 400
    assert "message" in refused.json()
    assert http.get("/c/exchanges/api/nope", headers=curate).json() == {
        "message": "no such Exchange API 'nope'"
    }
    schema = http.get("/c/exchanges/api/ncmec/schema", headers=curate).json()
    assert "base_url" in {field["name"] for field in schema["config_schema"]["fields"]}
    bad = http.post("/c/exchanges", json={"bank": "lower", "api": "ncmec"}, headers=curate)
    assert bad.json() == {"message": "Field `bank` must match /^[A-Z0-9_]+$/"}
    created = http.post(
        "/c/exchanges",
        json={"bank": "NCMEC_EX", "api": "ncmec", "api_json": {"base_url": ncmec.url}},
        headers=curate,
    )
    assert (created.status_code, created.json()) == (201, {"message": "Created successfully"})
    assert "NCMEC_EX" in [bank["name"] for bank in http.get("/c/banks", headers=curate).json()]
    assert http.get("/c/exchanges", headers=curate).json() == ["NCMEC_EX"]
    assert http.get("/c/exchange/NCMEC_EX", headers=curate).json() == {
        "name": "NCMEC_EX",
        "api": "ncmec",
        "enabled": True,
    }
    status = http.get("/c/exchange/NCMEC_EX/status", headers=curate).json()
    assert set(status) == {
        "checkpoint_ts",
        "fetched_items",
        "last_fetch_complete_ts",
        "last_fetch_succeeded",
        "running_fetch_start_ts",
        "up_to_date",
    }
    switched = http.put("/c/exchange/NCMEC_EX", json={"enabled": False}, headers=curate)
    assert switched.json()["enabled"] is False
    assert http.get("/c/exchange/NOPE", headers=curate).json() == {
        "message": "Exchange 'NOPE' not found"
    }
    for _ in range(2):  # HMA answers the same when it is gone
        deleted = http.delete("/c/exchange/NCMEC_EX", headers=curate)
        assert deleted.json() == {"message": "Exchange deleted"}


def test_cli_add_fetch_status_and_errors(database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()

    def cli(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli_app, ["--database-url", database_url, *args])
        return result.exit_code, result.output

    listing = tmp_path / "known.jsonl"
    listing.write_text(json.dumps({"signals": {"pdq": PDQ}, "external_id": "k1"}) + "\n")
    assert cli("bank", "create", "known")[0] == 0
    code, out = cli(
        "exchange",
        "add",
        "known-list",
        "--type",
        "file",
        "--bank",
        "known",
        "--option",
        f"path={listing}",
    )
    assert code == 0
    assert json.loads(out)["type"] == "file"
    assert cli("exchange", "add", "known-list", "--type", "file", "--bank", "known")[0] == 2
    code, out = cli("exchange", "fetch", "known-list")
    assert code == 0
    assert json.loads(out)["counts"]["added"] == 1
    code, out = cli("exchange", "status", "known-list")
    assert json.loads(out)["fetched_total"] == 1
    assert cli("exchange", "disable", "known-list")[0] == 0
    code, out = cli("exchange", "fetch", "--all")
    assert code == 0
    assert out == ""
    listing.write_text("signal_type,signal\n")
    cli("exchange", "set", "known-list", "--option", f"path={tmp_path / 'missing.csv'}")
    code, out = cli("exchange", "fetch", "known-list")
    assert code == 1
    assert "missing.csv" in json.loads(out)["error"]
    code, out = cli("exchange", "show", "nope")
    assert code == 2
    assert "no exchange named 'nope'" in out
    code, out = cli(
        "exchange",
        "add",
        "x",
        "--type",
        "ncmec",
        "--bank",
        "known",
        "--credentials-env",
        "not a name",
    )
    assert code == 2
    assert "environment variable" in out
    assert cli("exchange", "delete", "known-list")[0] == 0
    assert cli("exchange", "list")[1] == ""


def test_opinions_through_v1_and_the_cli_refuse_what_they_cannot_take(
    client: Client, database_url: str, ncmec: NcmecSimulator
) -> None:
    """No opinions yet: an empty list, a retry of none; a status that does
    not exist is a 400, an exchange that does not is a 404, and a key
    without ``curate`` gets nothing."""
    http, curate = client
    http.post("/v1/banks", json={"name": "nc"}, headers=curate)
    body = {
        "name": "ncmec",
        "type": "ncmec",
        "bank": "nc",
        "options": {"base_url": ncmec.url},
        "credentials_env": "HASHMATCH_EXCHANGE_NCMEC",
    }
    assert http.post("/v1/exchanges", json=body, headers=curate).status_code == 201
    listed = http.get("/v1/exchanges/ncmec/opinions", headers=curate)
    assert listed.json() == {"opinions": []}
    retried = http.post("/v1/exchanges/ncmec/opinions/retry", headers=curate)
    assert retried.json() == {"exchange": "ncmec", "retried": 0}
    bad = http.get("/v1/exchanges/ncmec/opinions?status=bogus", headers=curate)
    assert bad.status_code == 400
    assert "status must be one of pending, sent" in bad.json()["error"]["message"]
    for hostile in ("?limit=0", "?limit=100000", "?status=" + "x" * 100):
        assert http.get(f"/v1/exchanges/ncmec/opinions{hostile}", headers=curate).status_code == 422
    assert http.get("/v1/exchanges/nope/opinions", headers=curate).status_code == 404
    assert http.post("/v1/exchanges/nope/opinions/retry", headers=curate).status_code == 404
    as_matcher = {"Authorization": curate["match"]}
    assert http.get("/v1/exchanges/ncmec/opinions", headers=as_matcher).status_code == 403
    status = http.get("/v1/exchanges/ncmec/status", headers=curate).json()
    assert status["opinions"]["pending"] == 0

    runner = CliRunner()

    def cli(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli_app, ["--database-url", database_url, "exchange", *args])
        return result.exit_code, result.output

    assert cli("opinions", "ncmec") == (0, "")
    code, out = cli("opinions", "ncmec", "--status", "bogus")
    assert code == 2
    assert "status must be one of" in out
    assert "Traceback" not in out
    assert cli("opinions", "nope")[0] == 2
    assert cli("opinions", "ncmec", "--limit", "0")[0] == 2
    code, out = cli("send-opinions")
    assert (code, json.loads(out)) == (0, {})
    code, out = cli("retry-opinions", "ncmec")
    assert (code, json.loads(out)) == (0, {"exchange": "ncmec", "retried": 0})
    assert cli("retry-opinions", "nope")[0] == 2
