"""Keyed identifiers end to end, on both engines: the setting ``identifier_keys``
(checked, never shown), the hub handing its key to active members (audited by
id only), a member matching its users' emails and usernames against keyed
values pulled from the hub (lookups and submissions, under each of its keys,
not under a key it lacks), and ``hashmatch hub identifier-key new|fetch``."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from starlette.testclient import TestClient
from typer.testing import CliRunner

from hashmatch import audit
from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.banks.writes import log_added
from hashmatch.cli import app as cli_app
from hashmatch.cli import hub_identifier_command
from hashmatch.errors import ConfigurationError
from hashmatch.exchange.apply import apply_records
from hashmatch.exchange.base import Record
from hashmatch.exchange.taxii_records import IndicatorReader
from hashmatch.hub.hub_client import HubClient
from hashmatch.hub.identifiers import IdentifierKey, keyed_identifier
from hashmatch.hub.patterns import PatternSignal
from hashmatch.hub.stix import build_indicator, identity_id
from hashmatch.settings import Settings
from hashmatch.store import Bank, Database
from hashmatch.store.models import utcnow
from tests.test_api_hub import Hub, open_hub
from tests.test_api_review import _error
from tests.test_hub_report_cli import InProcess

runner = CliRunner()
HUB_URL = "https://hub.example.org"
#: The coalition's keys: the current one, and the one it replaced.
CURRENT = IdentifierKey(bytes(range(32)))
OLDER = IdentifierKey(bytes(range(100, 132)))
#: A key this member was never given.
FOREIGN = IdentifierKey(bytes(32))


# -- the setting -------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "c2VjcmV0LWJ1dC10b28tc2hvcnQ",  # base64url, 20 bytes
        "not*base64url*at*all*but*secret*looking*!!",
        CURRENT.text() + "=",  # padded
    ],
)
def test_a_bad_key_is_refused_naming_the_setting_not_the_key(
    bad: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings.load({"data_dir": tmp_path, "identifier_keys": [CURRENT.text(), bad]})
    message = str(refused.value)
    assert message.startswith("invalid settings: identifier_keys: ")
    assert "key 2" in message
    assert bad not in message
    assert CURRENT.text() not in message
    monkeypatch.setenv("HASHMATCH_IDENTIFIER_KEYS", json.dumps([bad]))
    with pytest.raises(ConfigurationError, match="identifier_keys") as from_env:
        Settings.load({"data_dir": tmp_path})
    assert bad not in str(from_env.value)


def test_a_key_in_the_environment_that_is_not_a_json_list_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHMATCH_IDENTIFIER_KEYS", CURRENT.text())
    with pytest.raises(ConfigurationError, match="identifier_keys") as refused:
        Settings.load({"data_dir": tmp_path})
    assert CURRENT.text() not in str(refused.value)
    result = runner.invoke(
        cli_app, ["--database-url", f"sqlite:///{tmp_path}/x.db", "bank", "list"]
    )
    assert result.exit_code == 2
    assert "identifier_keys" in result.output
    assert "Traceback" not in result.output
    assert CURRENT.text() not in result.output


def test_the_keys_are_never_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHMATCH_IDENTIFIER_KEYS", json.dumps([CURRENT.text(), OLDER.text()]))
    settings = Settings.load({"data_dir": tmp_path})
    assert [key.get_secret_value() for key in settings.identifier_keys] == [
        CURRENT.text(),
        OLDER.text(),
    ]
    for shown in (repr(settings), str(settings), settings.model_dump_json(), repr(CURRENT)):
        assert CURRENT.text() not in shown
        assert OLDER.text() not in shown
    assert repr(CURRENT) == f"IdentifierKey(key_id={CURRENT.key_id!r})"


# -- the hub hands its key out ----------------------------------------------------------


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    keys = [SecretStr(CURRENT.text()), SecretStr(OLDER.text())]
    yield from open_hub(database_url, tmp_path, identifier_keys=keys)


def test_an_active_member_gets_the_current_key_and_the_read_is_audited(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    member = hub.member(1)["member"]
    answer = hub.http.get("/v1/hub/identifier-key", headers=hub.as_("member1"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"key_id": CURRENT.key_id, "key": CURRENT.text()}
    database = hub.http.app.state.service.database  # type: ignore[attr-defined]
    with database.reading() as session:
        [entry] = audit.find(session, action="hub.identifier_key_read")
    assert (entry.target, entry.actor) == (f"hub-member:{member['id']}", "key:hub-1")
    assert entry.after == {"key_id": CURRENT.key_id}
    assert CURRENT.text() not in json.dumps([entry.before, entry.after])
    assert CURRENT.text() not in caplog.text
    assert OLDER.text() not in caplog.text


def test_only_an_active_member_gets_the_key(hub: Hub, database_url: str) -> None:
    member = hub.member(1)["member"]
    suspended = hub.admin("post", f"/members/{member['id']}/suspend", json={"reason": "abuse"})
    assert suspended.status_code == 200, suspended.text
    refused = hub.http.get("/v1/hub/identifier-key", headers=hub.as_("member1"))
    assert "suspended" in _error(refused, 403, "membership_inactive")
    database = Database.open(database_url)
    try:
        stranger = ApiKeys(database).create("stranger", ["hub"])[0]
        with database.reading() as session:
            assert audit.find(session, action="hub.identifier_key_read") == []
    finally:
        database.close()
    as_stranger = {"Authorization": f"Bearer {stranger}"}
    unknown = hub.http.get("/v1/hub/identifier-key", headers=as_stranger)
    _error(unknown, 404, "unknown_member")
    wrong_scope = hub.http.get("/v1/hub/identifier-key", headers=hub.as_("looker"))
    assert wrong_scope.status_code == 403
    assert hub.http.get("/v1/hub/identifier-key").status_code == 401
    for answer in (refused, unknown, wrong_scope):
        assert CURRENT.text() not in answer.text


def test_a_hub_without_a_key_says_so(database_url: str, tmp_path: Path) -> None:
    for hub in open_hub(database_url, tmp_path):
        hub.member(1)
        answer = hub.http.get("/v1/hub/identifier-key", headers=hub.as_("member1"))
        assert "identifier-key new" in _error(answer, 404, "no_identifier_key")


# -- a member matches keyed values ------------------------------------------------------

#: One keyed email and one keyed username the coalition shared, each under the
#: current key, the older key, and a key this member lacks.
SHARED = {
    "email": ("J.Doe@Example.org", "Old.Address@Example.org", "Stranger@Example.org"),
    "username": ("kik:@Trader", "discord:Oldhandle", "reddit:stranger"),
}


def _pulled(database: Database) -> None:
    """The keyed values into bank "hub" as the taxii exchange takes them."""
    reader = IndicatorReader("auto", dict, now=utcnow())
    records: list[Record] = []
    for signal_type, values in SHARED.items():
        for key, value in zip((CURRENT, OLDER, FOREIGN), values, strict=True):
            keyed = keyed_identifier(key, signal_type, value)
            indicator = build_indicator(
                PatternSignal(signal_type, keyed.digest, keyed.key_id),
                publisher=identity_id("member-a"),
                created=utcnow(),
                classification="A1",
            )
            record = reader.item(indicator)
            assert isinstance(record, Record)
            assert record.signals == {signal_type: keyed.bank_value}
            records.append(record)
    with database.transaction() as session:
        bank_id = session.scalar(select(Bank.id).where(Bank.name == "hub"))
        assert bank_id is not None
        applied = apply_records(session, bank_id, "exchange:hub", records)
        log_added(session, applied.added_signals)


@pytest.fixture
def member(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    database = Database.open(database_url)
    api_keys = ApiKeys(database)
    made = {s: api_keys.create(f"key-{s}", [s])[0] for s in ("curate", "match", "submit")}
    database.close()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        deliver_in_serve=False,
        identifier_keys=[SecretStr(CURRENT.text()), SecretStr(OLDER.text())],
    )
    application = create_app(settings)
    with TestClient(application, raise_server_exceptions=False) as http:
        application.state.service.wait_until_loaded(60)
        created = http.post(
            "/v1/banks", json={"name": "hub"}, headers={"Authorization": f"Bearer {made['curate']}"}
        )
        assert created.status_code == 201, created.text
        _pulled(application.state.service.database)
        yield http, {name: f"Bearer {secret}" for name, secret in made.items()}


def _lookup(http: TestClient, auth: str, signal_type: str, value: str) -> list[dict[str, Any]]:
    answer = http.get(
        "/v1/lookup",
        params={"signal_type": signal_type, "signal": value},
        headers={"Authorization": auth},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["matches"]  # type: ignore[no-any-return]


def test_a_lookup_matches_keyed_values_under_each_key_and_no_other(
    member: tuple[TestClient, dict[str, str]],
) -> None:
    http, auth = member
    found = _lookup(http, auth["match"], "email", "j.doe@EXAMPLE.org")
    assert [(m["bank"], m["signal_type"]) for m in found] == [("hub", "email")]
    assert len(_lookup(http, auth["match"], "email", "OLD.ADDRESS@example.org")) == 1
    assert _lookup(http, auth["match"], "email", "stranger@example.org") == []
    assert _lookup(http, auth["match"], "email", "someone.else@example.org") == []
    body = {
        "hashes": [
            {"signal_type": "username", "signal": "KIK:trader"},
            {"signal_type": "username", "signal": "discord:@OLDHANDLE"},
            {"signal_type": "username", "signal": "reddit:Stranger"},
            {"signal_type": "email", "signal": " J.Doe@example.ORG "},
        ]
    }
    batch = http.post("/v1/lookup", json=body, headers={"Authorization": auth["match"]})
    assert batch.status_code == 200, batch.text
    found_types = [[m["signal_type"] for m in r["matches"]] for r in batch.json()["results"]]
    assert found_types == [["username"], ["username"], [], ["email"]]


def test_a_submission_carrying_a_shared_email_or_account_matches(
    member: tuple[TestClient, dict[str, str]],
) -> None:
    http, auth = member
    body = {
        "content_ref": "post-1",
        "user_ref": "u1",
        "emails": ["J.DOE@example.org", "stranger@example.org"],
        "accounts": ["kik:TRADER", "reddit:stranger"],
    }
    answer = http.post("/v1/submissions", json=body, headers={"Authorization": auth["submit"]})
    assert answer.status_code == 200, answer.text
    matched = sorted((m["bank"], m["signal_type"]) for m in answer.json()["matches"])
    assert matched == [("hub", "email"), ("hub", "username")]


def test_the_match_command_uses_the_keys_in_its_settings(
    member: tuple[TestClient, dict[str, str]], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["--database-url", database_url, "match", "--hash", "email:j.doe@example.org"]
    args += ["--format", "jsonl"]
    without = runner.invoke(cli_app, args)
    assert without.exit_code == 0, without.output
    assert json.loads(without.stdout)["matches"] == []
    monkeypatch.setenv("HASHMATCH_IDENTIFIER_KEYS", json.dumps([CURRENT.text()]))
    keyed = runner.invoke(cli_app, args)
    assert keyed.exit_code == 0, keyed.output
    assert [m["bank"] for m in json.loads(keyed.stdout)["matches"]] == ["hub"]


# -- the CLI -------------------------------------------------------------------------


def test_new_prints_only_a_fresh_key() -> None:
    made = runner.invoke(cli_app, ["hub", "identifier-key", "new"])
    assert made.exit_code == 0, made.output
    text = made.stdout.strip()
    assert made.stdout == text + "\n"
    key = IdentifierKey.from_text(text)
    again = runner.invoke(cli_app, ["hub", "identifier-key", "new", "--json"])
    shown = json.loads(again.stdout)
    assert shown["key_id"] == IdentifierKey.from_text(shown["key"]).key_id
    assert shown["key"] != key.text()


def test_fetch_prints_the_hubs_current_key(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    sender = InProcess(hub.http)
    monkeypatch.setattr(
        hub_identifier_command,
        "hub_client",
        lambda _ctx, url, api_key: HubClient(url, api_key, sender),
    )
    hub.member(1)
    monkeypatch.setenv("HASHMATCH_HUB_URL", HUB_URL)
    monkeypatch.setenv("HASHMATCH_HUB_API_KEY", hub.secrets["member1"])
    fetched = runner.invoke(cli_app, ["hub", "identifier-key", "fetch"])
    assert fetched.exit_code == 0, fetched.output
    assert fetched.stdout == CURRENT.text() + "\n"
    assert CURRENT.key_id in fetched.stderr
    as_json = runner.invoke(cli_app, ["hub", "identifier-key", "fetch", "--json"])
    assert json.loads(as_json.stdout) == {"key_id": CURRENT.key_id, "key": CURRENT.text()}
    monkeypatch.setenv("HASHMATCH_HUB_API_KEY", hub.secrets["looker"])
    refused = runner.invoke(cli_app, ["hub", "identifier-key", "fetch"])
    assert refused.exit_code == 1
    assert refused.stdout == ""
    assert refused.stderr.startswith("error: the hub refused (403)")
    assert len(refused.stderr.splitlines()) == 1


class Answering:
    """A hub that answers every call with ``body`` (a peer sending garbage)."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def send(self, method: str, url: str, body: bytes | None, headers: Any = None) -> bytes:
        return self.body


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (b"not json", "error:"),
        (b"[]", "holds no identifier key"),
        (b'{"key_id": "x"}', "holds no identifier key"),
        (b'{"key_id": "x", "key": "short"}', "holds no identifier key"),
        (
            json.dumps({"key_id": "not-its-id", "key": CURRENT.text()}).encode(),
            "does not match the key id",
        ),
    ],
)
def test_fetch_refuses_a_hubs_garbage_in_one_line(
    monkeypatch: pytest.MonkeyPatch, answer: bytes, says: str
) -> None:
    monkeypatch.setattr(
        hub_identifier_command,
        "hub_client",
        lambda _ctx, url, api_key: HubClient(url, api_key, Answering(answer)),
    )
    fetched = runner.invoke(
        cli_app, ["hub", "identifier-key", "fetch", "--hub", HUB_URL, "--api-key", "k"]
    )
    assert fetched.exit_code == 1, fetched.output
    assert fetched.stdout == ""
    assert fetched.stderr.startswith("error:")
    assert says in fetched.stderr
    assert len(fetched.stderr.splitlines()) == 1
