"""The hub's TAXII 2.1 server in process, on both engines: every route, its
media types and error shape, Basic and Bearer keys, signed posts (bad
signatures refused and audited, the rest kept as sent), retraction,
feedback, grants and suspended members; and paging with added_after/next
under two publishers at once (an interleaving and a bounded stress)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.audit import acting_as
from hashmatch.hub import object_intake
from hashmatch.hub.collections import Collections, default_collection_id
from hashmatch.hub.object_intake import ObjectIntake
from hashmatch.hub.patterns import PatternSignal
from hashmatch.hub.signing import TrustedKey, key_ring, verify
from hashmatch.hub.taxii_objects import ObjectFilter, TaxiiObjects
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.models import AuditEntry
from tests.hub_taxii_world import Publisher, publishers
from tests.hub_world import ADMIN
from tests.interleaving import PATIENCE, PausedInside, SecondWriter, run_together, started

TAXII = "application/taxii+json;version=2.1"
HASHES = default_collection_id("hashes")
SIGNALS = default_collection_id("signals")
OBJECTS = f"/taxii2/hub/collections/{HASHES}/objects/"


@dataclass
class Hub:
    http: TestClient
    database_url: str
    members: list[Publisher]
    admin_secret: str

    def basic(self, member: int = 0, accept: str = TAXII) -> dict[str, str]:
        token = base64.b64encode(f"anyone:{self.members[member].secret}".encode()).decode()
        return {"Authorization": f"Basic {token}", "Accept": accept}

    def bearer(self, member: int = 0) -> dict[str, str]:
        """For the /v1 routes, which take Bearer keys."""
        return {"Authorization": f"Bearer {self.members[member].secret}"}

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_secret}", "Accept": TAXII}

    def post(self, objects: list[dict[str, Any]], member: int = 0, path: str = OBJECTS) -> Any:
        headers = {**self.basic(member), "Content-Type": TAXII}
        answer = self.http.post(path, headers=headers, json={"objects": objects})
        assert answer.status_code == 202, answer.text
        assert answer.headers["content-type"] == TAXII
        return answer.json()

    def get(self, path: str, member: int = 0, **params: Any) -> Any:
        answer = self.http.get(path, headers=self.basic(member), params=params)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == TAXII
        return answer


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    members = publishers(database_url, tmp_path, 3)
    database = Database.open(database_url)
    admin_secret = ApiKeys(database).create("boss", ["admin"])[0]
    database.close()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        hub_enabled=True,
        deliver_in_serve=False,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as http:
        yield Hub(http, database_url, members, admin_secret)


def taxii_error(answer: Any, status: int) -> str:
    """TAXII's error message, once the status is as expected."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == TAXII
    body = answer.json()
    assert body["http_status"] == str(status)
    assert body["title"]
    return str(body["description"])


# -- discovery, roots, collections, media types, keys -----------------------------


def test_discovery_root_and_collections(hub: Hub) -> None:
    found = hub.get("/taxii2/").json()
    assert found["default"] == "/taxii2/hub/"
    assert found["api_roots"] == ["/taxii2/hub/"]
    root = hub.get("/taxii2/hub/").json()
    assert root["versions"] == [TAXII]
    assert root["max_content_length"] > 0
    listed = hub.get("/taxii2/hub/collections/").json()["collections"]
    assert {c["title"] for c in listed} == {"hashes", "signals"}
    assert all(c["can_read"] and c["can_write"] for c in listed)
    one = hub.get(f"/taxii2/hub/collections/{HASHES}/").json()
    assert one["id"] == HASHES
    assert one["media_types"] == ["application/stix+json;version=2.1"]


def test_bearer_keys_and_plain_json_are_taken(hub: Hub) -> None:
    bearer = {"Authorization": f"Bearer {hub.members[0].secret}", "Accept": "application/json"}
    assert hub.http.get("/taxii2/", headers=bearer).status_code == 200
    assert hub.http.get("/taxii2/", headers={**bearer, "Accept": "*/*"}).status_code == 200


def test_wrong_accept_is_406_and_errors_are_taxii_shaped(hub: Hub) -> None:
    assert "taxii+json" in taxii_error(
        hub.http.get("/taxii2/", headers=hub.basic(accept="text/html")), 406
    )
    assert taxii_error(
        hub.http.get("/taxii2/", headers=hub.basic(accept="application/taxii+json;version=2.0")),
        406,
    )
    assert taxii_error(hub.http.get("/taxii2/", headers={"Accept": TAXII}), 401)
    wrong = base64.b64encode(b"x:not-a-key").decode()
    assert taxii_error(hub.http.get("/taxii2/", headers={"Authorization": f"Basic {wrong}"}), 401)
    unknown = hub.http.get("/taxii2/hub/collections/nope/", headers=hub.basic())
    assert "nope" in taxii_error(unknown, 404)


def test_a_key_without_the_hub_scope_is_refused(hub: Hub, database_url: str) -> None:
    database = Database.open(database_url)
    looker = ApiKeys(database).create("looker", ["match"])[0]
    database.close()
    answer = hub.http.get("/taxii2/", headers={"Authorization": f"Bearer {looker}"})
    assert "hub" in taxii_error(answer, 403)


def test_bad_queries_are_400s_not_tracebacks(hub: Hub) -> None:
    for params in (
        {"added_after": "yesterday"},
        {"next": "abc"},
        {"match[version]": "soon"},
    ):
        taxii_error(hub.http.get(OBJECTS, headers=hub.basic(), params=params), 400)
    taxii_error(hub.http.get(OBJECTS, headers=hub.basic(), params={"limit": "0"}), 422)
    headers = {**hub.basic(), "Content-Type": TAXII}
    taxii_error(hub.http.post(OBJECTS, headers=headers, content=b"{not json"), 400)
    taxii_error(hub.http.post(OBJECTS, headers=headers, json={"objects": []}), 400)
    taxii_error(hub.http.post(OBJECTS, headers=headers, json=[1, 2]), 400)
    too_many = {"objects": [{}] * (object_intake.MAX_OBJECTS + 1)}
    assert "at most" in taxii_error(hub.http.post(OBJECTS, headers=headers, json=too_many), 400)
    plain = {**hub.basic(), "Content-Type": "text/plain"}
    taxii_error(hub.http.post(OBJECTS, headers=plain, content=b"{}"), 415)


# -- posting, reading back ---------------------------------------------------------


def test_posted_objects_are_kept_as_sent_and_paged(hub: Hub) -> None:
    alice = hub.members[0]
    sent = [alice.indicator(n) for n in range(5)]
    status = hub.post(sent)
    assert (status["total_count"], status["success_count"], status["failure_count"]) == (5, 5, 0)
    again = hub.get(f"/taxii2/hub/status/{status['id']}/").json()
    assert again == status
    first = hub.get(OBJECTS, limit=2)
    assert first.json()["more"] is True
    assert len(first.json()["objects"]) == 2
    assert first.headers["X-TAXII-Date-Added-First"] < first.headers["X-TAXII-Date-Added-Last"]
    seen = first.json()["objects"]
    token = first.json()["next"]
    while token:
        page = hub.get(OBJECTS, limit=2, next=token).json()
        seen += page.get("objects", [])
        token = page.get("next")
    assert seen == sent  # in date_added order, byte for byte what was signed
    ring = key_ring([TrustedKey(alice.signing_key.public_key(), alice.identity)])
    assert all(verify(obj, ring) for obj in seen)
    last = first.headers["X-TAXII-Date-Added-Last"]
    after = hub.get(OBJECTS, added_after=last).json()["objects"]
    assert after == sent[2:]
    manifest = hub.get(f"/taxii2/hub/collections/{HASHES}/manifest/").json()["objects"]
    assert [entry["id"] for entry in manifest] == [obj["id"] for obj in sent]
    empty = hub.get(OBJECTS, added_after=manifest[-1]["date_added"])
    assert empty.json() == {"more": False}
    assert "X-TAXII-Date-Added-First" not in empty.headers


def test_match_filters_and_one_object(hub: Hub) -> None:
    alice, bob = hub.members[0], hub.members[1]
    indicator = alice.indicator(1)
    hub.post([indicator, alice.indicator(2)])
    hub.post([bob.opinion(indicator["id"], "confirmed")], member=1)
    by_type = hub.get(OBJECTS, **{"match[type]": "opinion"}).json()["objects"]
    assert [obj["type"] for obj in by_type] == ["opinion"]
    by_id = hub.get(OBJECTS, **{"match[id]": indicator["id"]}).json()["objects"]
    assert by_id == [indicator]
    one = hub.get(f"{OBJECTS}{indicator['id']}/").json()["objects"]
    assert one == [indicator]
    missing = hub.http.get(
        f"{OBJECTS}indicator--00000000-0000-4000-8000-000000000000/", headers=hub.basic()
    )
    taxii_error(missing, 404)


def test_bad_signatures_are_refused_audited_and_the_rest_kept(hub: Hub) -> None:
    alice, bob = hub.members[0], hub.members[1]
    good = alice.indicator(1)
    altered = {**alice.indicator(2), "labels": ["category:other"]}
    unsigned = {k: v for k, v in alice.indicator(3).items() if k != "x_hashmatch_signature"}
    bobs_key = {**alice.indicator(4)}
    bobs_key["x_hashmatch_signature"] = bob.indicator(4)["x_hashmatch_signature"]
    in_bobs_name = bob.indicator(5)
    status = hub.post([good, altered, unsigned, bobs_key, in_bobs_name])
    assert status["success_count"] == 1
    assert status["failure_count"] == 4
    reasons = {f["id"]: f["message"] for f in status["failures"]}
    assert "changed after it was signed" in reasons[altered["id"]]
    assert "x_hashmatch_signature" in reasons[unsigned["id"]]
    assert reasons[bobs_key["id"]]
    assert "posting member" in reasons[in_bobs_name["id"]]
    assert hub.get(OBJECTS).json()["objects"] == [good]
    database = Database.open(hub.database_url)
    with database.reading() as session:
        rejected = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "hub.object_rejected")
        ).all()
    database.close()
    assert len(rejected) == 4
    assert all(entry.actor == f"key:{alice.key_name}" for entry in rejected)


def test_a_revoked_key_signs_nothing(hub: Hub) -> None:
    alice = hub.members[0]
    kid = hub.http.get("/v1/hub/me", headers=hub.bearer()).json()["keys"][0]["kid"]
    revoked = hub.http.delete(f"/v1/hub/me/keys/{kid}", headers=hub.bearer())
    assert revoked.status_code == 200, revoked.text
    status = hub.post([alice.indicator(1)])
    assert status["failure_count"] == 1
    assert "revoked" in status["failures"][0]["message"]


def test_retraction_is_a_revoked_version_and_final(hub: Hub) -> None:
    alice, bob = hub.members[0], hub.members[1]
    indicator = alice.indicator(1)
    hub.post([indicator])
    first = hub.get(OBJECTS).headers["X-TAXII-Date-Added-Last"]
    retracted = alice.revoked(indicator)
    assert hub.post([retracted])["success_count"] == 1
    news = hub.get(OBJECTS, added_after=first).json()["objects"]
    assert news == [retracted]
    assert news[0]["revoked"] is True
    assert hub.get(OBJECTS).json()["objects"] == [retracted]  # match[version]=last
    assert hub.get(OBJECTS, **{"match[version]": "first"}).json()["objects"] == [indicator]
    assert len(hub.get(OBJECTS, **{"match[version]": "all"}).json()["objects"]) == 2
    versions = hub.get(f"{OBJECTS}{indicator['id']}/versions/").json()["versions"]
    assert versions == [indicator["modified"], retracted["modified"]]
    by_version = hub.get(OBJECTS, **{"match[version]": indicator["modified"]})
    assert by_version.json()["objects"] == [indicator]
    later = alice.revoked(indicator, minutes=9)
    refused = hub.post([later])
    assert refused["failure_count"] == 1
    assert "revoked" in refused["failures"][0]["message"]
    assert hub.post([retracted])["success_count"] == 1  # the same version again: stored once
    assert len(hub.get(OBJECTS, **{"match[version]": "all"}).json()["objects"]) == 2
    # Another member cannot version alice's indicator under its own name.
    forged = bob.indicator(1)
    forged_id = {**forged, "id": indicator["id"]}
    status = hub.post([forged_id], member=1)
    assert status["failure_count"] == 1


def test_feedback_is_counted_per_indicator_for_the_publisher(hub: Hub) -> None:
    alice, bob, carol = hub.members
    shared = alice.indicator(1)
    quiet = alice.indicator(2)
    hub.post([shared, quiet])
    hub.post([bob.opinion(shared["id"], "false_positive")], member=1)
    hub.post([carol.opinion(shared["id"], "confirmed")], member=2)
    orphan = bob.opinion("indicator--00000000-0000-4000-8000-000000000000", "confirmed")
    assert hub.post([orphan], member=1)["failure_count"] == 1
    mine = hub.http.get("/v1/hub/me/signals", headers=hub.bearer()).json()["signals"]
    counts = {signal["id"]: signal["feedback"] for signal in mine}
    none = {"confirmed": 0, "false_positive": 0, "disputed": 0, "reported": 0}
    assert counts[shared["id"]] == {**none, "confirmed": 1, "false_positive": 1}
    assert counts[quiet["id"]] == none
    assert hub.http.get("/v1/hub/me/signals", headers=hub.bearer(1)).json()["signals"] == []
    everyone = hub.http.get("/v1/hub/signals", headers=hub.admin()).json()["signals"]
    assert {s["id"] for s in everyone} == {shared["id"], quiet["id"]}
    assert hub.http.get("/v1/hub/signals", headers=hub.bearer()).status_code == 403


# -- who may read and write --------------------------------------------------------


def test_a_suspended_member_is_refused_with_the_reason(hub: Hub) -> None:
    hub.post([hub.members[0].indicator(1)])
    suspended = hub.http.post(
        f"/v1/hub/admin/members/{hub.members[1].id}/suspend",
        headers=hub.admin(),
        json={"reason": "shared signals outside the coalition"},
    )
    assert suspended.status_code == 200, suspended.text
    read = hub.http.get(OBJECTS, headers=hub.basic(1))
    assert "outside the coalition" in taxii_error(read, 403)
    headers = {**hub.basic(1), "Content-Type": TAXII}
    posted = hub.http.post(
        OBJECTS, headers=headers, json={"objects": [hub.members[1].indicator(1)]}
    )
    assert "suspended" in taxii_error(posted, 403)


def test_grants_decide_what_a_member_reads_and_writes(hub: Hub) -> None:
    database = Database.open(hub.database_url)
    with acting_as(ADMIN):
        Collections(database).grant("signals", member_id=hub.members[1].id, read=False, write=False)
        Collections(database).grant("hashes", member_id=hub.members[1].id, read=True, write=False)
    database.close()
    titles = [
        c["title"] for c in hub.get("/taxii2/hub/collections/", member=1).json()["collections"]
    ]
    assert titles == ["hashes"]
    signals = f"/taxii2/hub/collections/{SIGNALS}/"
    taxii_error(hub.http.get(signals, headers=hub.basic(1)), 404)
    taxii_error(hub.http.get(f"{signals}objects/", headers=hub.basic(1)), 403)
    headers = {**hub.basic(1), "Content-Type": TAXII}
    posted = hub.http.post(
        OBJECTS, headers=headers, json={"objects": [hub.members[1].indicator(1)]}
    )
    assert "write" in taxii_error(posted, 403)
    # A hub admin reads everything and publishes nothing.
    assert hub.http.get(f"{signals}objects/", headers=hub.admin()).status_code == 200
    admin_post = hub.http.post(
        OBJECTS, headers={**hub.admin(), "Content-Type": TAXII}, json={"objects": [{}]}
    )
    taxii_error(admin_post, 403)


def test_collections_take_their_kind_and_keyed_ones_refuse_raw_identifiers(hub: Hub) -> None:
    alice = hub.members[0]
    url = alice.indicator(1, signal=PatternSignal("url", "https://example.org/a"))
    status = hub.post([url])
    assert "hashes collection takes no url" in status["failures"][0]["message"]
    email = alice.indicator(2, signal=PatternSignal("email", "someone@example.org"))
    created = hub.http.post(
        "/v1/hub/collections",
        headers=hub.admin(),
        json={"title": "keyed", "kind": "signals", "identifiers": "keyed"},
    )
    assert created.status_code == 201, created.text
    keyed = created.json()["id"]
    granted = hub.http.put(
        f"/v1/hub/collections/{keyed}/grants/{alice.id}",
        headers=hub.admin(),
        json={"read": True, "write": True},
    )
    assert granted.status_code == 200, granted.text
    path = f"/taxii2/hub/collections/{keyed}/objects/"
    refused = hub.post([email, url], path=path)
    assert refused["success_count"] == 1
    assert "keyed hashes" in refused["failures"][0]["message"]
    assert (
        hub.post([email], path=f"/taxii2/hub/collections/{SIGNALS}/objects/")["success_count"] == 1
    )
    listed = hub.http.get("/v1/hub/collections", headers=hub.admin()).json()["collections"]
    assert {c["title"] for c in listed} == {"hashes", "signals", "keyed"}
    assert hub.http.get("/v1/hub/collections", headers=hub.bearer()).status_code == 403
    bad = hub.http.post(
        "/v1/hub/collections", headers=hub.admin(), json={"title": "x", "kind": "videos"}
    )
    assert bad.status_code == 422


# -- paging under two publishers ---------------------------------------------------


def _drain(reader: TaxiiObjects, cursor: int | None, seen: list[str], limit: int = 7) -> int | None:
    """Page from ``cursor`` to the end; the new cursor (the last date_added seen)."""
    while True:
        page = reader.page(HASHES, None, ObjectFilter(next=cursor, limit=limit, versions=("all",)))
        seen += [row.stix_id for row in page.rows]
        if page.rows:
            cursor = page.rows[-1].date_added
        if not page.more:
            return cursor


def test_a_late_commit_is_not_skipped_by_a_reader(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alice's post holds the collection's clock while Bob's waits behind it:
    Bob's date_added comes after Alice's, so a reader who pages between
    their commits never jumps past Alice's row."""
    alice, bob = publishers(database_url, tmp_path, 2)
    database = Database.open(database_url)
    intake, reader = ObjectIntake(database), TaxiiObjects(database)
    paused = PausedInside(monkeypatch, object_intake, "_keep")
    watcher = SecondWriter(database, monkeypatch)
    results: dict[str, Any] = {}
    one = started(
        lambda: intake.post(alice.key_name, HASHES, {"objects": [alice.indicator(1)]}),
        "first",
        results,
    )
    assert paused.reached.wait(PATIENCE)
    two = started(
        lambda: intake.post(bob.key_name, HASHES, {"objects": [bob.indicator(1)]}),
        "second",
        results,
    )
    watcher.wait_until_blocked(two)
    seen: list[str] = []
    cursor = _drain(reader, None, seen)
    assert seen == []  # neither committed
    paused.release()
    one.join(PATIENCE)
    two.join(PATIENCE)
    assert results["first"]["success_count"] == 1
    assert results["second"]["success_count"] == 1
    _drain(reader, cursor, seen)
    assert seen == [alice.indicator(1)["id"], bob.indicator(1)["id"]]
    database.close()


def test_paging_under_two_publishers_misses_and_repeats_nothing(
    database_url: str, tmp_path: Path
) -> None:
    members = publishers(database_url, tmp_path, 2)
    database = Database.open(database_url)
    intake, reader = ObjectIntake(database), TaxiiObjects(database)
    rounds, per_post = 12, 3
    finished: list[str] = []
    done = threading.Event()
    seen: list[str] = []

    def work(name: str) -> None:
        if name == "reader":
            cursor = None
            while not done.is_set():
                cursor = _drain(reader, cursor, seen)
            _drain(reader, cursor, seen)
            return
        try:
            member = members[int(name[-1])]
            for round_ in range(rounds):
                batch = [member.indicator(round_ * per_post + n) for n in range(per_post)]
                status = intake.post(member.key_name, HASHES, {"objects": batch})
                assert status["failure_count"] == 0
        finally:
            finished.append(name)
            if len(finished) == 2:
                done.set()

    run_together(work, ["publisher0", "publisher1", "reader"])
    expected = {m.indicator(n)["id"] for m in members for n in range(rounds * per_post)}
    assert len(seen) == len(set(seen)) == len(expected)
    assert set(seen) == expected
    database.close()


# -- the CLI -----------------------------------------------------------------------


def test_collections_from_the_shell(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from hashmatch.cli import app

    alice = publishers(database_url, tmp_path, 1)[0]
    runner = CliRunner()

    def hub_cli(*args: str) -> Any:
        return runner.invoke(app, ["--database-url", database_url, "hub", "collections", *args])

    assert "not a hub" in hub_cli("list").output
    monkeypatch.setenv("HASHMATCH_HUB_ENABLED", "true")
    made = hub_cli("create", "grooming keywords", "--kind", "signals", "--identifiers", "keyed")
    assert made.exit_code == 0, made.output
    assert hub_cli("grant", "grooming keywords", str(alice.id), "--write").exit_code == 0
    listed = [json.loads(line) for line in hub_cli("list", "--json").output.splitlines()]
    mine = next(c for c in listed if c["title"] == "grooming keywords")
    assert mine["identifiers"] == "keyed"
    assert mine["grants"] == [{"member_id": alice.id, "read": True, "write": True}]
    assert hub_cli("revoke", mine["id"], str(alice.id)).exit_code == 0
    listed = [json.loads(line) for line in hub_cli("list", "--json").output.splitlines()]
    assert next(c for c in listed if c["title"] == "grooming keywords")["grants"] == [
        {"member_id": alice.id, "read": False, "write": False}
    ]
    assert hub_cli("defaults").exit_code == 0
    bad = hub_cli("create", "x", "--kind", "videos")
    assert bad.exit_code != 0
    assert "kind must be" in bad.output
    assert "Traceback" not in bad.output
    unknown = hub_cli("grant", "nothing-here", str(alice.id))
    assert unknown.exit_code != 0
    assert "no hub collection" in unknown.output
    database = Database.open(database_url)
    with database.reading() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.action.like("hub.collection.%"))
        ).all()
    database.close()
    assert actions.count("hub.collection.grant") >= 2
