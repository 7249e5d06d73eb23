"""The ``taxii`` exchange against a TAXII 2.1 server that is not hashmatch
(``TaxiiSimulator``), on SQLite and PostgreSQL: paging and resuming (a
``kill -9`` included), revocations, signatures, keyed identifiers, a 401
and stalls; opinions posted as signed STIX Opinions; ``hub share`` from one
bank to the server and a pull into another that then matches; and
``taxii2-client`` reading the simulator, as a check that it speaks TAXII."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from hashmatch.banks import Banks
from hashmatch.cli import app
from hashmatch.errors import ExchangeError, StixError
from hashmatch.exchange import Exchanges, Fetcher, statuses
from hashmatch.exchange.base import ExchangeSource, OpinionToSend, Sent
from hashmatch.exchange.catalog import effective_options
from hashmatch.exchange.runner import open_source
from hashmatch.exchange.taxii import MEDIA_TYPE, TaxiiSource
from hashmatch.exchange.taxii_confirmed import share_confirmed
from hashmatch.exchange.taxii_records import keyed_value
from hashmatch.exchange.taxii_revoke import REVOKE_ACTION, revoke_indicators
from hashmatch.exchange.taxii_share import share_bank
from hashmatch.exchange.taxii_simulator import COLLECTION, TaxiiSimulator
from hashmatch.hashing import HashRequest, hash_file
from hashmatch.hashlists import Entry
from hashmatch.hub.identifiers import IdentifierKey, keyed_identifier
from hashmatch.hub.keys import generate_signing_key, parse_private_key, parse_public_key
from hashmatch.hub.object_intake import member_identity
from hashmatch.hub.patterns import PatternSignal
from hashmatch.hub.signing import TrustedKey, key_ring, sign, verify
from hashmatch.hub.stix import (
    build_indicator,
    identity_id,
    new_version,
    parse_indicator,
    parse_opinion,
    revoke,
)
from hashmatch.hub.stix_properties import stix_timestamp
from hashmatch.matching import Matcher
from hashmatch.media.download import UrlPolicy
from hashmatch.review.decisions import Verdict
from hashmatch.signals import parse_query
from hashmatch.store import Content, Database
from hashmatch.store.models import AuditEntry, utcnow
from tests.child_process import kill_after, once_the_lease_lapses
from tests.servers import http_server
from tests.test_exchange_sources import SourceContract, make_source
from tests.test_review import ALICE, open_world

LOOPBACK = UrlPolicy(allow_private=True)
CREDENTIALS = "reader-7f3a:taxii-password-9c1"
ENV = "TEST_TAXII_CREDENTIALS"
PHOTO = Path(__file__).parent / "data" / "photos" / "indoors-hall.jpg"
HASHES = [format(n, "x") * 64 for n in range(1, 16)]


@dataclass
class Member:
    identity: str
    key: Ed25519PrivateKey
    public: str
    pem: str

    def trusted(self) -> TrustedKey:
        return TrustedKey(parse_public_key(self.public), self.identity)

    def indicator(self, signal_type: str, value: str, **kwargs: Any) -> dict[str, Any]:
        built = build_indicator(
            PatternSignal(signal_type, value, kwargs.pop("key_id", None)),
            publisher=self.identity,
            created=kwargs.pop("created", utcnow()),
            classification=kwargs.pop("classification", "A1"),
            **kwargs,
        )
        return sign(built, self.key)


def member(ref: str) -> Member:
    pem, public = generate_signing_key()
    return Member(identity_id(ref), parse_private_key(pem), public, pem)


def directory(path: Path, *members: Member) -> str:
    path.write_text(
        json.dumps(
            {
                "members": [
                    {"id": n, "identity": m.identity, "keys": [{"public_key": m.public}]}
                    for n, m in enumerate(members, 1)
                ]
            }
        )
    )
    return str(path)


@pytest.fixture
def taxii(monkeypatch: pytest.MonkeyPatch) -> Iterator[TaxiiSimulator]:
    monkeypatch.setenv(ENV, CREDENTIALS)
    monkeypatch.setenv("HASHMATCH_URL_ALLOW_PRIVATE", "true")  # for the CLI: it is on loopback
    with TaxiiSimulator(CREDENTIALS) as running:
        yield running


@pytest.fixture
def publisher() -> Member:
    return member("member-a")


def add_exchange(
    database: Database, taxii: TaxiiSimulator, bank: str = "b", name: str = "hub", **options: str
) -> None:
    if bank not in {info.name for info in Banks(database).all()}:
        Banks(database).create(bank)
    Exchanges(database).create(
        name,
        "taxii",
        bank=bank,
        options={"url": taxii.api_root, "collection": COLLECTION, **options},
        credentials_env=ENV,
    )


def fetch(database: Database, name: str = "hub") -> Any:
    return Fetcher(database, LOOPBACK, retry_wait=0).fetch(name)


def cli(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["--database-url", database_url, "hub", *args])


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def contents(database: Database) -> dict[str, Content]:
    with database.reading() as session:
        return {c.external_id: c for c in session.scalars(select(Content)) if c.external_id}


def test_pages_land_with_labels_metadata_and_every_signal_type(
    database: Database, taxii: TaxiiSimulator, publisher: Member, tmp_path: Path
) -> None:
    values = {
        "pdq": HASHES[0],
        "md5": HASHES[1][:32],
        "sha256": HASHES[2],
        "url": "HTTPS://Example.COM:443/gallery?id=7",
        "email": "j.doe+x@googlemail.com",
        "username": "kik:trader",
        "keyword": "trade pics",
    }
    sent = [publisher.indicator(kind, value, classification="B1") for kind, value in values.items()]
    sent += [publisher.indicator("pdq", value) for value in HASHES[3:8]]
    for obj in sent:
        taxii.add(obj)
    add_exchange(
        database, taxii, page_size="5", directory_url=directory(tmp_path / "d.json", publisher)
    )
    result = fetch(database)
    assert result.succeeded, result.error
    assert (result.counts["pages"], result.counts["added"]) == (3, 12)
    stored = contents(database)
    url = stored[sent[3]["id"]]
    assert url.labels == ["B1"]
    assert url.source_metadata["taxii"] == {
        "publisher": publisher.identity,
        "indicator": sent[3]["id"],
        "version": url.source_metadata["taxii"]["version"],
        "categories": [],
        "signed_by": publisher.trusted().kid,
    }
    matcher = Matcher(database)
    for kind in ("url", "email", "username", "keyword"):
        query = parse_query(kind, values[kind])
        [found] = matcher.match_hashes({kind: [query]})
        assert found.content_id == stored[sent[list(values).index(kind)]["id"]].id
    [state] = statuses(database, "hub")
    assert state.checkpoint == {
        "added_after": taxii.collections[COLLECTION].entries[-1][0],
        "next": None,
    }
    # Incremental: only what was added since.
    taxii.add(publisher.indicator("pdq", HASHES[8]))
    again = fetch(database)
    assert (again.counts["added"], again.counts["pages"]) == (1, 1)
    assert "added_after=" in taxii.requests[-1]


def test_a_revocation_or_an_expiry_removes_the_content(
    database: Database, taxii: TaxiiSimulator, publisher: Member, tmp_path: Path
) -> None:
    now = utcnow()
    kept, revoked = publisher.indicator("pdq", HASHES[0]), publisher.indicator("pdq", HASHES[1])
    expiring = publisher.indicator("md5", HASHES[2][:32], valid_from=now - timedelta(days=2))
    for obj in (kept, revoked, expiring):
        taxii.add(obj)
    add_exchange(database, taxii, directory_url=directory(tmp_path / "d.json", publisher))
    assert fetch(database).counts["added"] == 3
    later = now + timedelta(seconds=1)
    taxii.add(sign(revoke(revoked, modified=later), publisher.key))
    expired = new_version(
        expiring, modified=later, valid_until=stix_timestamp(now - timedelta(days=1))
    )
    taxii.add(sign(expired, publisher.key))
    result = fetch(database)
    assert (result.counts["removed"], result.counts["added"]) == (2, 0)
    assert set(contents(database)) == {kept["id"]}


def test_bad_signatures_and_garbage_are_counted_and_the_page_still_lands(
    database: Database, taxii: TaxiiSimulator, publisher: Member, tmp_path: Path
) -> None:
    stranger = member("stranger")
    tampered = dict(publisher.indicator("pdq", HASHES[0]), labels=["classification:A2"])
    taxii.add(tampered)
    taxii.add(stranger.indicator("pdq", HASHES[1]))  # a key no member registered
    taxii.add({"type": "indicator", "id": "indicator--garbage", "pattern": 7})
    taxii.add(publisher.indicator("pdq", HASHES[2]))
    unsigned = dict(publisher.indicator("pdq", HASHES[3]))
    unsigned.pop("x_hashmatch_signature")
    taxii.add(unsigned)
    add_exchange(database, taxii, directory_url=directory(tmp_path / "d.json", publisher))
    result = fetch(database)
    assert result.succeeded
    assert (result.counts["added"], result.counts["malformed"]) == (2, 3)  # auto: unsigned taken
    [state] = statuses(database, "hub")
    reasons = " | ".join(sample["reason"] for sample in state.malformed_samples)
    assert "changed after it was signed" in reasons
    assert "no member registered the signing key" in reasons
    assert "indicator--garbage" in reasons
    assert HASHES[0] not in {s for c in contents(database).values() for s in c.source_metadata}


def test_required_signatures_refuse_unsigned_objects_and_off_takes_them(
    database: Database, taxii: TaxiiSimulator, publisher: Member, tmp_path: Path
) -> None:
    unsigned = dict(publisher.indicator("pdq", HASHES[0]))
    unsigned.pop("x_hashmatch_signature")
    taxii.add(unsigned)
    path = directory(tmp_path / "d.json", publisher)
    add_exchange(database, taxii, "b", "strict", verify_signatures="required", directory_url=path)
    add_exchange(database, taxii, "c", "lax", verify_signatures="off")
    assert fetch(database, "strict").counts["malformed"] == 1
    assert fetch(database, "lax").counts["added"] == 1


def test_another_producers_labels_are_ignored_ours_still_checked(
    database: Database, taxii: TaxiiSimulator, publisher: Member
) -> None:
    """An OpenCTI or MISP indicator carries its own labels beside (or
    instead of) hashmatch's; an unknown value inside our prefixes is still
    refused, and so is any foreign label where hashmatch reads strictly
    (the hub's intake of what its members post)."""

    def foreign(value: str, labels: list[str]) -> dict[str, Any]:
        obj = dict(publisher.indicator("pdq", value), labels=labels)
        obj.pop("x_hashmatch_signature")  # another server's objects are unsigned
        return obj

    ours = foreign(HASHES[0], ["malicious-activity", "classification:A1"])
    only_theirs = foreign(HASHES[1], ["malicious-activity", "tlp:green"])
    bad_value = foreign(HASHES[2], ["malicious-activity", "classification:Z9"])
    for obj in (ours, only_theirs, bad_value):
        taxii.add(obj)
    add_exchange(database, taxii)
    result = fetch(database)
    assert (result.counts["added"], result.counts["malformed"]) == (2, 1)
    stored = contents(database)
    assert stored[ours["id"]].labels == ["A1"]
    assert stored[only_theirs["id"]].labels == []
    [state] = statuses(database, "hub")
    assert "unknown classification or category 'Z9'" in state.malformed_samples[0]["reason"]
    with pytest.raises(StixError, match="unknown label 'malicious-activity'"):
        parse_indicator(ours)


def test_keyed_identifiers_are_kept_as_keyed_values(
    database: Database, taxii: TaxiiSimulator, publisher: Member, tmp_path: Path
) -> None:
    coalition = IdentifierKey.generate()
    keyed = keyed_identifier(coalition, "email", "J.Doe@Example.org")
    obj = publisher.indicator("email", keyed.digest, key_id=keyed.key_id)
    taxii.add(obj)
    add_exchange(database, taxii, directory_url=directory(tmp_path / "d.json", publisher))
    assert fetch(database).counts["added"] == 1
    [content] = contents(database).values()
    assert Banks(database).content("b", content.id).signals == {
        "email": keyed_value(keyed.key_id, keyed.digest)
    }
    assert (
        Matcher(database).match_hashes({"email": [parse_query("email", "j.doe@example.org")]}) == []
    )


def test_a_401_fails_at_once_and_stalls_and_500s_are_retried(
    database: Database, taxii: TaxiiSimulator, publisher: Member, tmp_path: Path
) -> None:
    for value in HASHES[:4]:
        taxii.add(publisher.indicator("pdq", value))
    add_exchange(
        database,
        taxii,
        page_size="2",
        page_timeout="1",
        retries="4",
        directory_url=directory(tmp_path / "d.json", publisher),
    )
    taxii.expired = True
    refused = fetch(database)
    assert not refused.succeeded
    assert "rejected the credentials (HTTP 401)" in (refused.error or "")
    assert CREDENTIALS.split(":")[1] not in (refused.error or "")
    taxii.expired = False
    taxii.fail_next("stall", "500", "malformed")
    started = time.monotonic()
    result = fetch(database)
    assert result.succeeded, result.error
    assert result.counts["added"] == 4
    assert time.monotonic() - started < 10
    taxii.fail_next("stall", count=4)
    failed = fetch(database)
    assert not failed.succeeded
    assert "did not arrive within 1 s" in (failed.error or "")


def test_a_403_says_why_in_the_servers_words(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hub refuses a suspended member's pull with a TAXII error message:
    the run fails with the hub's reason, not with "the credentials may have
    expired" (and a secret the server echoes is redacted)."""
    monkeypatch.setenv(ENV, CREDENTIALS)
    password = CREDENTIALS.split(":")[1]
    description = f"hub member 'B' is suspended:\n shared outside (sent {password})"
    refusal = json.dumps({"title": "membership inactive", "description": description}).encode()

    class Forbidden(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(403)
            self.send_header("Content-Type", MEDIA_TYPE)
            self.send_header("Content-Length", str(len(refusal)))
            self.end_headers()
            self.wfile.write(refusal)

        def log_message(self, *args: object) -> None:
            pass

    Banks(database).create("b")
    with http_server(Forbidden) as base:
        Exchanges(database).create(
            "hub",
            "taxii",
            bank="b",
            options={"url": f"{base}/taxii2/hub/", "collection": COLLECTION},
            credentials_env=ENV,
        )
        result = fetch(database)
    assert not result.succeeded
    assert result.error is not None
    assert result.error.endswith(
        "the server answered HTTP 403: hub member 'B' is suspended: shared outside (sent ***)"
    )
    assert "credentials" not in result.error
    assert password not in result.error


def test_opinions_go_back_as_signed_stix_opinions(
    database: Database, taxii: TaxiiSimulator, publisher: Member, tmp_path: Path
) -> None:
    me = member("member-b")
    key_file = tmp_path / "member.pem"
    key_file.write_text(me.pem)
    first, second = publisher.indicator("pdq", HASHES[0]), publisher.indicator("pdq", HASHES[1])
    add_exchange(database, taxii, signing_key_file=str(key_file), identity=me.identity)
    source = opened(database)
    taxii.trusted = key_ring([me.trusted()])
    answers = source.send_opinions(
        [
            OpinionToSend(1, first["id"], "positive", ("pdq",)),
            OpinionToSend(2, second["id"], "negative", ("pdq",)),
            OpinionToSend(3, second["id"], "withdrawn", ("pdq",)),
        ]
    )
    assert sorted(answers, key=lambda a: a.opinion_id)[:2] == [Sent(1), Sent(2)]
    assert answers[0].retry is False
    assert "withdrawn" in (answers[0].error or "")
    verdicts = {parse_opinion(obj).indicator_id: obj["opinion"] for obj in taxii.received}
    assert verdicts == {first["id"]: "agree", second["id"]: "disagree"}
    # The server refuses an opinion it cannot verify: a failure, not retried.
    taxii.trusted = key_ring([publisher.trusted()])
    [refused] = source.send_opinions([OpinionToSend(4, first["id"], "positive", ("pdq",))])
    assert refused.retry is False
    assert "no member registered" in (refused.error or "")


def test_opinions_without_a_signing_key_wait_for_one(
    database: Database, taxii: TaxiiSimulator
) -> None:
    add_exchange(database, taxii)
    [answer] = opened(database).send_opinions([OpinionToSend(1, "indicator--x", "positive", ())])
    assert answer.retry
    assert "signing_key_file and identity" in (answer.error or "")


def opened(database: Database, name: str = "hub") -> TaxiiSource:
    info = Exchanges(database).get(name)
    source = open_source(info, effective_options(info), LOOPBACK)
    assert isinstance(source, TaxiiSource)
    return source


def test_share_a_bank_then_pull_it_into_another_and_match(
    database: Database, database_url: str, taxii: TaxiiSimulator, tmp_path: Path
) -> None:
    a, b = member("member-a"), member("member-b")
    key_file = tmp_path / "a.pem"
    key_file.write_text(a.pem)
    photo = hash_file(PHOTO, HashRequest())
    Banks(database).create("mine")
    Banks(database).add("mine", Entry({"pdq": photo.signals["pdq"]}, labels=["A1"]))
    Banks(database).add("mine", Entry({"url": "https://example.com/a?utm_source=x"}))
    add_exchange(
        database, taxii, "mine", "out", signing_key_file=str(key_file), identity=a.identity
    )
    taxii.trusted = key_ring([a.trusted(), b.trusted()])
    shared = json.loads(ok(cli(database_url, "share", "mine", "--json")))
    assert shared | {"failures": []} == {
        "exchange": "out",
        "collection": COLLECTION,
        "bank": "mine",
        "total": 2,
        "succeeded": 2,
        "failed": 0,
        "skipped": 0,
        "failures": [],
    }
    add_exchange(
        database, taxii, "theirs", "in", directory_url=directory(tmp_path / "d.json", a, b)
    )
    assert fetch(database, "in").counts["added"] == 2
    matcher = Matcher(database)
    _, matches = matcher.match_file(PHOTO)
    assert ("theirs", 0) in {(m.bank, m.distance) for m in matches}
    query = {"url": [parse_query("url", "https://EXAMPLE.com/a")]}
    [url] = matcher.match_hashes(query, banks=["theirs"])
    assert url.distance == 0
    # Sharing again sends the same objects; status adds the shares up.
    assert share_bank(database, LOOPBACK, "mine", exchange="out").succeeded == 2
    status = json.loads(ok(cli(database_url, "status", "--json")))
    by_name = {c["exchange"]: c for c in status["connections"]}
    assert by_name["out"]["shared"]["succeeded"] == 4
    assert by_name["out"]["shared"]["shares"] == 2
    assert by_name["in"]["last_pull"]["succeeded"] is True
    assert by_name["in"]["fetched_total"] == 2
    text = ok(cli(database_url, "status"))
    assert "shared 4 indicators in 2 shares (0 refused)" in text
    assert f"in: {taxii.api_root} collection {COLLECTION}" in text


def test_share_mistakes_are_one_line_errors(
    database_url: str, database: Database, taxii: TaxiiSimulator
) -> None:
    refused = cli(database_url, "share", "mine")
    assert refused.exit_code == 2
    assert "0 taxii exchanges" in refused.stderr
    add_exchange(database, taxii)
    refused = cli(database_url, "share", "b")
    assert refused.exit_code != 0
    assert "signing_key_file and identity" in refused.stderr
    assert isinstance(refused.exception, SystemExit)


def test_taxii2client_reads_the_simulator(taxii: TaxiiSimulator, publisher: Member) -> None:
    from taxii2client.v21 import Server, as_pages

    for value in HASHES[:5]:
        taxii.add(publisher.indicator("pdq", value))
    user, password = CREDENTIALS.split(":")
    server = Server(f"{taxii.url}/taxii2/", user=user, password=password)
    [root] = server.api_roots
    [collection] = root.collections
    assert collection.id == COLLECTION
    assert collection.can_read
    pages = list(as_pages(collection.get_objects, per_request=2))
    assert [len(page["objects"]) for page in pages] == [2, 2, 1]
    posted = collection.add_objects({"objects": [publisher.indicator("pdq", HASHES[9])]})
    assert posted.success_count == 1


# -- kill -9 -----------------------------------------------------------------------


@pytest.mark.slow
def test_a_pull_killed_midway_resumes_to_exactly_every_indicator(
    database: Database, database_url: str, taxii: TaxiiSimulator, publisher: Member, tmp_path: Path
) -> None:
    total = 1000
    for n in range(total):
        taxii.add(publisher.indicator("md5", f"{n:032x}"))
    add_exchange(
        database, taxii, page_size="25", directory_url=directory(tmp_path / "d.json", publisher)
    )
    kill_after(database, "hub", 200, database_url)
    [killed] = statuses(database, "hub")
    assert killed.fetched_total < total
    with database.reading() as session:
        assert session.scalar(select(func.count()).select_from(Content)) == killed.fetched_total
    result = once_the_lease_lapses(lambda: fetch(database))
    assert result.succeeded
    assert result.up_to_date
    assert result.counts["added"] == total - killed.fetched_total
    with database.reading() as session:
        assert session.scalar(select(func.count()).select_from(Content)) == total


# -- confirmed decisions shared --------------------------------------------------------


def test_confirmed_decisions_of_the_shared_labels_go_to_the_hub_once(
    database: Database, database_url: str, taxii: TaxiiSimulator, tmp_path: Path
) -> None:
    me = member("member-b")
    key_file = tmp_path / "b.pem"
    key_file.write_text(me.pem)
    world, review = open_world(
        database,
        database_url,
        tmp_path,
        hub_share_confirmed=True,
        hub_share_labels=["A1"],
        hub_share_settle_seconds=0,
    )
    add_exchange(database, taxii, "shared", signing_key_file=str(key_file), identity=me.identity)
    taxii.trusted = key_ring([me.trusted()])
    first, second, third = world.queue_photos(3)
    for item, label in ((first, "A1"), (second, "B2")):
        review.items.claim(item, ALICE)
        review.decisions.decide(item, ALICE, Verdict("confirm", classification=label))
    done = share_confirmed(database, world.settings, LOOPBACK)
    assert done is not None
    assert (done.decisions, done.failed, done.skipped) == (1, 0, 0)
    assert done.succeeded == len(taxii.received) >= 2  # the upload's PDQ, MD5, SHA-256
    signals = {parse_indicator(obj).signal_type for obj in taxii.received}
    assert {"pdq", "md5"} <= signals
    assert {parse_indicator(obj).classification for obj in taxii.received} == {"A1"}
    # The next round starts after the last decision read: nothing again.
    again = share_confirmed(database, world.settings, LOOPBACK)
    assert again is not None
    assert (again.decisions, again.succeeded) == (0, 0)
    # The hub down: the round fails, the cursor stays, the next one sends it.
    review.items.claim(third, ALICE)
    review.decisions.decide(third, ALICE, Verdict("confirm", classification="A1"))
    taxii.fail_next("500")
    with pytest.raises(ExchangeError, match="HTTP 500"):
        share_confirmed(database, world.settings, LOOPBACK)
    later = share_confirmed(database, world.settings, LOOPBACK)
    assert later is not None
    assert later.decisions == 1
    off = world.settings.model_copy(update={"hub_share_confirmed": False})
    assert share_confirmed(database, off, LOOPBACK) is None


CONTRACT = [
    build_indicator(
        PatternSignal("pdq", value), publisher=identity_id("contract"), created=utcnow()
    )
    for value in HASHES[:5]
]


class TestTaxiiContract(SourceContract):
    source_type = "taxii"
    expected = frozenset(obj["id"] for obj in CONTRACT)

    @contextmanager
    def serving(self, tmp_path: Path) -> Iterator[ExchangeSource]:
        with TaxiiSimulator(CREDENTIALS) as simulator:
            for obj in CONTRACT:
                simulator.add(obj)
            options = {"url": simulator.api_root, "collection": COLLECTION, "page_size": "2"}
            yield make_source("taxii", options, CREDENTIALS)


def test_the_hubs_directory_names_members_by_id(
    database: Database, taxii: TaxiiSimulator, tmp_path: Path
) -> None:
    pem, public = generate_signing_key()
    seventh = Member(member_identity(7), parse_private_key(pem), public, pem)
    taxii.add(seventh.indicator("pdq", HASHES[0]))
    path = tmp_path / "members.json"
    path.write_text(json.dumps({"members": [{"id": 7, "keys": [{"public_key": public}]}]}))
    add_exchange(database, taxii, verify_signatures="required", directory_url=str(path))
    assert fetch(database).counts["added"] == 1
    path.write_text("[]")
    taxii.add(seventh.indicator("pdq", HASHES[1]))
    refused = fetch(database)
    assert "member directory" in (refused.error or "")


# -- hashmatch hub revoke (exchange/taxii_revoke.py) -----------------------------------------

UNKNOWN_INDICATOR = "indicator--00000000-0000-4000-8000-000000000000"
REVOKED_MD5 = "9e107d9d372bb6826bd81d3542a419d6"


@pytest.fixture
def sharer(database: Database, taxii: TaxiiSimulator, tmp_path: Path) -> Member:
    """This member, with a taxii exchange that signs, and a verifying server."""
    mine = member("member-a")
    key_file = tmp_path / "a.pem"
    key_file.write_text(mine.pem)
    add_exchange(database, taxii, signing_key_file=str(key_file), identity=mine.identity)
    taxii.trusted = key_ring([mine.trusted()])
    return mine


def test_an_indicator_is_revoked_by_its_signal_once_and_only_the_publishers(
    database: Database, taxii: TaxiiSimulator, sharer: Member
) -> None:
    shared, pdq = sharer.indicator("md5", REVOKED_MD5), sharer.indicator("pdq", HASHES[0])
    theirs = member("member-b").indicator("pdq", HASHES[1])
    for obj in (shared, pdq, theirs):
        taxii.add(obj)
    done = revoke_indicators(
        database,
        LOOPBACK,
        [pdq["id"], theirs["id"], UNKNOWN_INDICATOR],
        signals=[PatternSignal("md5", REVOKED_MD5)],
    )
    outcomes = {outcome.id: outcome.outcome for outcome in done}
    assert outcomes == {
        pdq["id"]: "revoked",
        theirs["id"]: "not_ours",
        UNKNOWN_INDICATOR: "not_found",
        shared["id"]: "revoked",
    }
    # Posted as the next versions, signed by this member, revoked.
    assert {obj["id"] for obj in taxii.received} == {pdq["id"], shared["id"]}
    for obj in taxii.received:
        assert obj["revoked"] is True
        assert obj["modified"] > shared["modified"]
        verify(obj, key_ring([sharer.trusted()]))
    again = revoke_indicators(database, LOOPBACK, [shared["id"]])
    assert [(o.outcome, o.message) for o in again] == [("already_revoked", None)]
    assert len(taxii.received) == 2  # nothing sent the second time
    with database.reading() as session:
        audited = session.scalars(
            select(AuditEntry.after).where(AuditEntry.action == REVOKE_ACTION)
        ).all()
    assert [len(after["outcomes"]) for after in audited] == [4, 1]


def test_a_refusal_is_said_with_the_servers_reason(
    database: Database, taxii: TaxiiSimulator, sharer: Member
) -> None:
    shared = sharer.indicator("md5", REVOKED_MD5)
    taxii.add(shared)
    taxii.trusted = key_ring([member("member-b").trusted()])  # the server no longer knows us
    [refused] = revoke_indicators(database, LOOPBACK, [shared["id"]])
    assert refused.outcome == "refused"
    assert "no member registered" in (refused.message or "")


def test_a_servers_garbage_is_one_clear_error(
    database: Database, taxii: TaxiiSimulator, sharer: Member
) -> None:
    shared = sharer.indicator("md5", REVOKED_MD5)
    taxii.add(shared)
    taxii.fail_next("malformed")
    with pytest.raises(ExchangeError, match="not a TAXII envelope"):
        revoke_indicators(database, LOOPBACK, [shared["id"]])
    taxii.fail_next("500")
    with pytest.raises(ExchangeError, match="HTTP 500"):
        revoke_indicators(database, LOOPBACK, [shared["id"]])
    assert taxii.received == []


def test_the_command_prints_outcomes_and_refuses_bad_arguments(
    database_url: str, database: Database, taxii: TaxiiSimulator, sharer: Member
) -> None:
    shared = sharer.indicator("md5", REVOKED_MD5)
    taxii.add(shared)
    done = cli(database_url, "revoke", "--signal", f"md5:{REVOKED_MD5.upper()}", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {
        "indicators": [{"id": shared["id"], "outcome": "revoked", "message": None}]
    }
    mixed = cli(database_url, "revoke", shared["id"], UNKNOWN_INDICATOR)
    assert mixed.exit_code == 1
    assert f"{shared['id']} already revoked" in mixed.stdout
    assert (
        f"{UNKNOWN_INDICATOR} not found: the collection holds no object by this id" in mixed.stdout
    )
    for args in (
        [],
        ["--signal", "nonsense"],
        ["--signal", "md5:zz"],
        ["--signal", "pdq:" + "0" * 10],
        [UNKNOWN_INDICATOR, "--exchange", "nowhere"],
    ):
        refused = cli(database_url, "revoke", *args)
        assert refused.exit_code != 0, args
        assert "Traceback" not in refused.output
        assert "error" in refused.output.lower(), (args, refused.output)
