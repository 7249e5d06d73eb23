"""Interoperability: the ``taxii2-client`` and ``stix2`` libraries read every
collection a real hub process serves (``hashmatch serve`` on a loopback
port, both engines), page with ``as_pages``, post with ``add_objects``, and
find each object's signature intact after stix2's round trip."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import stix2
from taxii2client.v21 import Collection, Server, as_pages

from hashmatch.hub.identifiers import IdentifierKey, keyed_identifier
from hashmatch.hub.object_intake import ObjectIntake
from hashmatch.hub.patterns import PatternSignal
from hashmatch.hub.signing import TrustedKey, key_ring, verify
from hashmatch.store import Database
from tests.hub_taxii_world import Publisher, publishers
from tests.servers import start_server, wait_ready

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


@pytest.fixture
def hub(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, list[Publisher]]]:
    members = publishers(database_url, tmp_path, 2)
    monkeypatch.setenv("HASHMATCH_HUB_ENABLED", "true")
    process, base = start_server(database_url, tmp_path / "host")
    try:
        wait_ready(base, None)
        yield base, members
    finally:
        process.terminate()
        process.wait(30)


def _shared(database_url: str, alice: Publisher, bob: Publisher) -> dict[str, list[dict]]:
    """Signals in both default collections, and one feedback opinion."""
    key = IdentifierKey.generate()
    keyed = keyed_identifier(key, "email", "someone@example.org")
    hashes = [alice.indicator(n) for n in range(5)] + [
        alice.indicator(9, signal=PatternSignal("pdq", PDQ))
    ]
    signals = [
        alice.indicator(20, signal=PatternSignal("url", "https://example.org/shared")),
        alice.indicator(21, signal=PatternSignal("username", "example-forum:someone_1")),
        alice.indicator(22, signal=PatternSignal("keyword", "meet in private")),
        alice.indicator(23, signal=PatternSignal("email", keyed.digest, keyed.key_id)),
    ]
    opinion = bob.opinion(hashes[0]["id"], "false_positive")
    database = Database.open(database_url)
    intake = ObjectIntake(database)
    assert intake.post(alice.key_name, "hashes", {"objects": hashes})["failure_count"] == 0
    assert intake.post(alice.key_name, "signals", {"objects": signals})["failure_count"] == 0
    assert intake.post(bob.key_name, "hashes", {"objects": [opinion]})["failure_count"] == 0
    database.close()
    return {"hashes": [*hashes, opinion], "signals": signals}


def test_taxii2client_and_stix2_read_every_collection(
    hub: tuple[str, list[Publisher]], database_url: str
) -> None:
    base, (alice, bob) = hub
    sent = _shared(database_url, alice, bob)
    ring = key_ring([TrustedKey(m.signing_key.public_key(), m.identity) for m in (alice, bob)])
    server = Server(f"{base}/taxii2/", user="bob", password=bob.secret)
    assert server.title
    assert len(server.api_roots) == 1
    root = server.default
    assert root.versions == ["application/taxii+json;version=2.1"]
    titles = {collection.title: collection for collection in root.collections}
    assert set(titles) == {"hashes", "signals"}
    for title, collection in titles.items():
        assert collection.can_read
        assert collection.can_write
        read = []
        for envelope in as_pages(collection.get_objects, per_request=3):
            read += envelope.get("objects", [])
        assert read == sent[title]
        for obj in read:
            parsed = stix2.parse(obj, allow_custom=True)
            again = json.loads(parsed.serialize())
            assert verify(again, ring).object == obj
        manifest = []
        for envelope in as_pages(collection.get_manifest, per_request=4):
            manifest += envelope.get("objects", [])
        assert [entry["id"] for entry in manifest] == [obj["id"] for obj in sent[title]]
    hashes = titles["hashes"]
    one = hashes.get_object(sent["hashes"][0]["id"])
    assert one["objects"] == [sent["hashes"][0]]
    assert hashes.object_versions(sent["hashes"][0]["id"])["versions"] == [
        sent["hashes"][0]["modified"]
    ]


def test_taxii2client_posts_and_waits_for_the_status(
    hub: tuple[str, list[Publisher]],
) -> None:
    base, (alice, _bob) = hub
    root = Server(f"{base}/taxii2/", user="alice", password=alice.secret).default
    collection: Collection = next(c for c in root.collections if c.title == "hashes")
    good = alice.indicator(1)
    forged = {**alice.indicator(2), "labels": ["category:other"]}
    status = collection.add_objects(json.dumps({"objects": [good, forged]}))
    assert status.status == "complete"
    assert (status.success_count, status.failure_count) == (1, 1)
    assert "changed after it was signed" in status.failures[0]["message"]
    revoked = collection.add_objects(json.dumps({"objects": [alice.revoked(good)]}))
    assert revoked.success_count == 1
    latest = collection.get_objects()["objects"]
    assert [obj.get("revoked", False) for obj in latest] == [True]
