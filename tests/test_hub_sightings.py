"""Matches reported, as STIX Sightings, on both engines: the Sighting's
shape read back strictly; the hub keeping signed ones (hostile ones refused
and audited) and counting them as the publisher's ``reported`` feedback;
and the member's side: a filed CyberTipline report queues one ``reported``
opinion per bank content a TAXII exchange sent, which the opinion sender
posts as a signed Sighting, the same object when sent again; other content
queues nothing for the hub."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from hashmatch.actions.outbox import Retries
from hashmatch.errors import StixError
from hashmatch.exchange import Exchanges
from hashmatch.exchange.opinions import OpinionSender
from hashmatch.hub.signing import key_ring, sign
from hashmatch.hub.stix import (
    REPORTED_PROPERTY,
    build_sighting,
    identity_id,
    parse_sighting,
    revoke,
    sighting_id,
)
from hashmatch.media.download import UrlPolicy
from hashmatch.store import Content, Database
from hashmatch.store.models import AuditEntry
from hashmatch.store.review_models import Opinion
from tests import test_exchange_taxii, test_hub_taxii
from tests.hub_taxii_world import CREATED, Publisher
from tests.reporting_world import ReportingWorld
from tests.test_exchange_taxii import Member, add_exchange, member
from tests.test_hub_taxii import OBJECTS, Hub

hub = test_hub_taxii.hub
taxii = test_exchange_taxii.taxii

PUBLISHER = identity_id("member-b")
INDICATOR = f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, 'an indicator')}"
RETRIES = Retries(max_attempts=3, backoff=30.0, backoff_max=60.0)


def sighting(**changes: Any) -> dict[str, Any]:
    built = build_sighting(INDICATOR, publisher=PUBLISHER, created=CREATED, report="12")
    return {**built, **changes}


# -- the STIX object ------------------------------------------------------------------


def test_a_sighting_round_trips_and_its_id_is_the_reports() -> None:
    built = build_sighting(INDICATOR, publisher=PUBLISHER, created=CREATED, report="12", count=2)
    read = parse_sighting(built)
    assert (read.indicator_id, read.publisher, read.count, read.reported) == (
        INDICATOR,
        PUBLISHER,
        2,
        True,
    )
    assert read.first_seen == read.last_seen == CREATED
    assert built[REPORTED_PROPERTY] is True
    assert built["id"] == sighting_id(INDICATOR, publisher=PUBLISHER, report="12")
    later = build_sighting(
        INDICATOR, publisher=PUBLISHER, created=CREATED + timedelta(hours=1), report="12"
    )
    assert later["id"] == built["id"]  # sent again: the same object
    others = {
        build_sighting(INDICATOR, publisher=PUBLISHER, created=CREATED, report="13")["id"],
        build_sighting(INDICATOR, publisher=identity_id("x"), created=CREATED, report="12")["id"],
    }
    assert built["id"] not in others
    assert len(others) == 2
    assert parse_sighting(revoke(built, modified=CREATED + timedelta(minutes=1))).revoked
    unflagged = {k: v for k, v in built.items() if k not in ("count", REPORTED_PROPERTY)}
    assert (parse_sighting(unflagged).count, parse_sighting(unflagged).reported) == (1, False)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"count": -1}, "count must be a whole number"),
        ({"count": True}, "count must be a whole number"),
        ({"count": "1"}, "count must be a whole number"),
        ({"count": 1_000_000_000}, "count must be a whole number"),
        ({"sighting_of_ref": PUBLISHER}, "sighting_of_ref must be an id of the form indicator"),
        ({"sighting_of_ref": [INDICATOR]}, "sighting_of_ref must be an id"),
        ({REPORTED_PROPERTY: "yes"}, "x_hashmatch_reported must be true or false"),
        ({"last_seen": "2026-11-26T09:00:00.000Z"}, "last_seen must not be earlier"),
        ({"first_seen": "yesterday"}, "first_seen must be a STIX timestamp"),
        ({"where_sighted_refs": [PUBLISHER]}, "does not read: where_sighted_refs"),
        ({"type": "opinion"}, "expected a STIX sighting"),
    ],
)
def test_hostile_sightings_are_clear_errors(changes: dict[str, Any], why: str) -> None:
    with pytest.raises(StixError, match=why):
        parse_sighting(sighting(**changes))


def test_a_sighting_is_built_only_of_an_indicator() -> None:
    with pytest.raises(StixError, match="sighting_of_ref must be an id of the form indicator"):
        build_sighting(PUBLISHER, publisher=PUBLISHER, created=CREATED, report="1")


# -- the hub ----------------------------------------------------------------------------


def signed_sighting(
    who: Publisher, indicator_id: str, report: str, **changes: Any
) -> dict[str, Any]:
    built = build_sighting(indicator_id, publisher=who.identity, created=CREATED, report=report)
    return sign({**built, **changes}, who.signing_key)


def test_the_hub_keeps_signed_sightings_and_shows_the_publisher_what_was_reported(
    hub: Hub,
) -> None:
    alice, bob, carol = hub.members
    shared, quiet = alice.indicator(1), alice.indicator(2)
    hub.post([shared, quiet])
    hub.post([bob.opinion(shared["id"], "confirmed")], member=1)
    reported = signed_sighting(bob, shared["id"], "1")
    assert hub.post([reported], member=1)["success_count"] == 1
    assert hub.post([reported], member=1)["success_count"] == 1  # a resend: the same object
    taken_back = signed_sighting(carol, shared["id"], "8")
    posted = [
        signed_sighting(carol, shared["id"], "7", count=2),
        taken_back,
        carol.revoked(taken_back),
        signed_sighting(carol, shared["id"], "9", **{REPORTED_PROPERTY: False}),
    ]
    assert hub.post(posted, member=2)["success_count"] == 4
    kept = hub.get(f"{OBJECTS}{reported['id']}/").json()["objects"]
    assert kept == [reported]  # as sent, signature included
    mine = hub.http.get("/v1/hub/me/signals", headers=hub.bearer()).json()["signals"]
    feedback = {signal["id"]: signal["feedback"] for signal in mine}
    assert feedback[shared["id"]] == {
        "confirmed": 1,
        "false_positive": 0,
        "disputed": 0,
        "reported": 3,
    }
    assert feedback[quiet["id"]]["reported"] == 0
    everyone = hub.http.get("/v1/hub/signals", headers=hub.admin()).json()["signals"]
    assert {s["id"]: s["feedback"]["reported"] for s in everyone} == {
        shared["id"]: 3,
        quiet["id"]: 0,
    }


def test_hostile_sightings_are_refused_with_why_and_audited(hub: Hub) -> None:
    alice, bob, _ = hub.members
    shared = alice.indicator(1)
    hub.post([shared])
    missing = "indicator--00000000-0000-4000-8000-000000000000"
    unsigned = build_sighting(shared["id"], publisher=bob.identity, created=CREATED, report="1")
    hostile = [
        unsigned,
        signed_sighting(alice, shared["id"], "2"),  # alice's sighting, posted by bob
        signed_sighting(bob, missing, "3"),
        signed_sighting(bob, shared["id"], "4", count=-5),
        signed_sighting(bob, shared["id"], "5", sighting_of_ref=bob.identity),
    ]
    status = hub.post(hostile, member=1)
    assert status["success_count"] == 0
    why = [failure["message"] for failure in status["failures"]]
    assert "signature" in why[0]
    assert "the publisher must be the posting member" in why[1]
    assert f"the sighting's indicator {missing} is not in this collection" in why[2]
    assert "count must be a whole number" in why[3]
    assert "sighting_of_ref must be an id of the form indicator" in why[4]
    database = Database.open(hub.database_url)
    try:
        with database.reading() as session:
            audited = session.scalars(
                select(AuditEntry).where(AuditEntry.action == "hub.object_rejected")
            ).all()
            assert len(audited) == len(hostile)
    finally:
        database.close()
    mine = hub.http.get("/v1/hub/me/signals", headers=hub.bearer()).json()["signals"]
    assert mine[0]["feedback"]["reported"] == 0


# -- the member's side ----------------------------------------------------------------


def from_the_hub(world: ReportingWorld, taxii: Any, tmp_path: Path) -> tuple[Member, str]:
    """The bank photo as pulled from the TAXII exchange ``hub`` (another
    member's indicator); this member's signing key and identity set on it."""
    me, other = member("member-b"), member("member-a")
    key_file = tmp_path / "member.pem"
    key_file.write_text(me.pem)
    add_exchange(
        world.database, taxii, bank="known", signing_key_file=str(key_file), identity=me.identity
    )
    indicator = other.indicator("md5", "0" * 32)["id"]
    with world.database.transaction() as session:
        session.execute(update(Content).values(source="exchange:hub", external_id=indicator))
    taxii.trusted = key_ring([me.trusted()])
    return me, indicator


def reported_rows(world: ReportingWorld) -> list[Opinion]:
    with world.database.reading() as session:
        rows = list(session.scalars(select(Opinion).where(Opinion.opinion == "reported")))
        session.expunge_all()
    return rows


def sender(world: ReportingWorld) -> OpinionSender:
    return OpinionSender(world.database, UrlPolicy(allow_private=True), RETRIES, name="a")


def file_report(world: ReportingWorld, items: list[int]) -> int:
    reports = world.reports()
    report_id = reports.draft(items, actor="user:alice")
    assert reports.file(report_id)["status"] == "finished"
    return report_id


def test_a_filed_report_sends_the_hub_a_signed_sighting_once_per_content(
    reporting: ReportingWorld, taxii: Any, tmp_path: Path
) -> None:
    me, indicator = from_the_hub(reporting, taxii, tmp_path)
    report_id = file_report(reporting, reporting.confirmed(2))  # two files, one bank content
    [row] = reported_rows(reporting)
    assert (row.report_id, row.item_id, row.status) == (report_id, None, "pending")
    assert (row.source, row.external_id, row.signal_types) == ("exchange:hub", indicator, ["pdq"])
    assert reporting.reports().file(report_id)["status"] == "finished"
    assert len(reported_rows(reporting)) == 1  # filed once: queued once
    counts = sender(reporting).run_once()
    assert counts["hub"]["sent"] == 3, counts  # the two items' confirmations, and the report
    [sent] = [obj for obj in taxii.received if obj["type"] == "sighting"]
    read = parse_sighting(sent)  # and the simulator verified its signature
    assert (read.indicator_id, read.publisher, read.count, read.reported) == (
        indicator,
        me.identity,
        1,
        True,
    )
    assert sent["id"] == sighting_id(indicator, publisher=me.identity, report=str(report_id))
    assert [r.status for r in reported_rows(reporting)] == ["sent"]
    # At least once: a settle lost after the call sends it again, as the same object.
    with reporting.database.transaction() as session:
        session.execute(update(Opinion).where(Opinion.id == row.id).values(status="pending"))
    assert sender(reporting).run_once()["hub"]["sent"] == 1
    assert [obj["id"] for obj in taxii.received if obj["type"] == "sighting"] == [sent["id"]] * 2


def test_reports_of_other_content_send_the_hub_nothing(
    reporting: ReportingWorld, taxii: Any, tmp_path: Path
) -> None:
    from_the_hub(reporting, taxii, tmp_path)
    Exchanges(reporting.database).create(
        "te", "threatexchange", bank="known", options={"privacy_group": "1"}
    )
    with reporting.database.transaction() as session:
        session.execute(update(Content).values(source="exchange:te", external_id="te-1"))
    file_report(reporting, reporting.confirmed(1, user="user-2"))
    with reporting.database.transaction() as session:
        session.execute(update(Content).values(source=None, external_id=None))
    file_report(reporting, reporting.confirmed(1, user="user-3"))
    assert reported_rows(reporting) == []
    # One that got there all the same (a type that takes none) is settled, with why.
    with reporting.database.transaction() as session:
        session.execute(update(Opinion).values(status="sent"))
        session.add(
            Opinion(
                report_id=1,
                bank="known",
                content_id=1,
                external_id="te-1",
                source="exchange:te",
                opinion="reported",
                status="pending",
            )
        )
    assert sender(reporting).run_once() == {
        "te": {"sent": 0, "retrying": 0, "failed": 0, "not_sent": 1}
    }
    [row] = reported_rows(reporting)
    assert row.status == "not_sent"
    assert row.last_error == "exchange type 'threatexchange' takes no reported feedback"
    assert not [obj for obj in taxii.received if obj["type"] == "sighting"]
