"""The coalition's annual report on both engines: members' signed records
(signature and schema refusals, a resend replacing, two sends at once),
and the aggregation on a fixed data set of two periods and three members."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from hashmatch import audit
from hashmatch.audit import acting_as
from hashmatch.errors import (
    AlteredObjectError,
    InvalidFieldError,
    MembershipAccessError,
    StixError,
    UnknownSigningKeyError,
    WrongPublisherError,
)
from hashmatch.hub import period_reports
from hashmatch.hub.annual_report import annual_report
from hashmatch.hub.coalition_events import CoalitionEvents
from hashmatch.hub.membership import Membership
from hashmatch.hub.period_reports import PeriodReports
from hashmatch.hub.taxii_objects import micros
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.hub_object_models import HubCollection, HubObject
from hashmatch.store.hub_report_models import HubPeriodReport
from tests.hub_report_world import SigningMember, record, signing_member
from tests.hub_world import ADMIN, Clock
from tests.interleaving import PATIENCE, PausedInside, SecondWriter, run_together, started

#: 29 ISO country codes, spread over three forums with overlaps.
COUNTRIES = [
    "AR",
    "AT",
    "AU",
    "BE",
    "BR",
    "CA",
    "CH",
    "CL",
    "CO",
    "DE",
    "DK",
    "ES",
    "FI",
    "FR",
    "GB",
    "IE",
    "IN",
    "IT",
    "JP",
    "KE",
    "MX",
    "NG",
    "NL",
    "NO",
    "NZ",
    "PL",
    "SE",
    "US",
    "ZA",
]


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 3, 1, tzinfo=UTC))


@pytest.fixture
def membership(database: Database, clock: Clock) -> Membership:
    return Membership(database, Settings(hub_dues_grace_days=30), clock=clock)


@pytest.fixture
def members(membership: Membership, clock: Clock) -> list[SigningMember]:
    """A and B joined in 2025, C in February 2026."""
    first = [signing_member(membership, 1), signing_member(membership, 2)]
    clock.now = datetime(2026, 2, 1, tzinfo=UTC)
    return [*first, signing_member(membership, 3)]


def _rows(database: Database) -> list[HubPeriodReport]:
    with database.reading() as session:
        return list(session.scalars(select(HubPeriodReport).order_by(HubPeriodReport.id)))


def _shared(database: Database) -> None:
    """Two indicators (one in two versions) and two opinions added in 2026, one in 2025."""
    at_2026, at_2025 = (
        micros(datetime(2026, 6, 1, tzinfo=UTC)),
        micros(datetime(2025, 6, 1, tzinfo=UTC)),
    )
    rows = [
        ("indicator--1", "indicator", at_2025, None),
        ("indicator--2", "indicator", at_2026, None),
        ("indicator--2", "indicator", at_2026 + 1, None),
        ("indicator--3", "indicator", at_2026 + 2, None),
        ("opinion--1", "opinion", at_2026 + 3, "confirmed"),
        ("opinion--2", "opinion", at_2026 + 4, "false_positive"),
    ]
    with database.transaction() as session:
        session.add(
            HubCollection(id="c0ffee00-0000-4000-8000-000000000000", title="hashes", kind="hashes")
        )
        session.flush()
        for number, (stix_id, kind, added, verdict) in enumerate(rows):
            session.add(
                HubObject(
                    collection_id="c0ffee00-0000-4000-8000-000000000000",
                    stix_id=stix_id,
                    type=kind,
                    modified=str(number),
                    modified_us=number,
                    date_added=added,
                    publisher_id=1,
                    object={},
                    verdict=verdict,
                )
            )


def _fixed_data_set(database: Database, members: list[SigningMember]) -> None:
    a, b, c = members
    reports = PeriodReports(database)
    reports.receive(a.key_name, a.envelope(record("2025", filed=100, submissions=900)))
    reports.receive(b.key_name, b.envelope(record("2025", filed=50)))
    reports.receive(
        a.key_name, a.envelope(record("2026", filed=130, submissions=1000), publish=True)
    )
    reports.receive(b.key_name, b.envelope(record("2026", filed=65, signal_types={"pdq": 3})))
    reports.receive(c.key_name, c.envelope(record("2026", filed=40)))
    events = CoalitionEvents(database)
    with acting_as(ADMIN):
        events.set_total("2026", "NCMEC CyberTipline", 240)
        events.add_forum(date(2026, 3, 10), "Spring", participants=80, countries=COUNTRIES[:12])
        events.add_forum(date(2026, 6, 2), "Summer", participants=100, countries=COUNTRIES[9:22])
        events.add_forum(date(2026, 11, 5), "Autumn", participants=58, countries=COUNTRIES[20:])
        events.add_forum(date(2025, 11, 5), "Last year's", participants=500, countries=["GB"])
    _shared(database)


def test_the_annual_report_adds_up_the_fixed_data_set(
    database: Database, members: list[SigningMember]
) -> None:
    _fixed_data_set(database, members)
    report = annual_report(database, "2026", audience="admin", now=datetime(2027, 1, 2, tzinfo=UTC))
    filed = next(
        r for r in report["figures"] if (r["section"], r["name"]) == ("cybertip_reports", "filed")
    )
    # All three members' 2026 reports; the change only across A and B, who reported both years.
    assert filed == {
        "section": "cybertip_reports",
        "name": "filed",
        "key": "",
        "value": 235,
        "compared_value": 195,
        "previous": 150,
        "change_percent": 30.0,
    }
    assert report["compared_members"] == ["Example Photos 1", "Example Photos 2"]
    assert report["national_totals"] == [
        {"source": "NCMEC CyberTipline", "total": 240, "members_value": 235, "share_percent": 97.9}
    ]
    assert report["members"] == {"total": 3, "new": 1, "reporting": 3}
    # A hashed submissions, B matched by PDQ; C's record shows neither.
    assert report["hash_technologies"] == {"members": 2, "by_signal_type": {"pdq": 1}}
    assert report["signals_shared"] == {
        "indicators": 2,
        "feedback": {"confirmed": 1, "false_positive": 1},
    }
    assert {k: v for k, v in report["forums"].items() if k != "list"} == {
        "held": 3,
        "participants": 238,
        "countries": 29,
    }
    assert report["headlines"] == [
        "+30% CyberTipline reports filed (2025 to 2026, the 2 members that reported both: "
        "Example Photos 1, Example Photos 2)",
        "+11.1% submissions scanned (2025 to 2026, the 2 members that reported both: "
        "Example Photos 1, Example Photos 2)",
        "97.9% of NCMEC CyberTipline reports came from members",
        "2 of 3 reporting members deploy hash technologies",
        "2 signals shared, 2 pieces of feedback given",
        "3 members, 1 new in 2026",
        "3 forums, 238 participants from 29 countries",
    ]
    assert [m["member"] for m in report["per_member"]] == [m.name for m in members]
    mine = report["per_member"][0]["figures"]["CyberTipline reports filed"]
    assert mine == {"value": 130, "previous": 100, "change_percent": 30.0}


def test_members_see_only_the_figures_of_members_that_published_theirs(
    database: Database, members: list[SigningMember]
) -> None:
    _fixed_data_set(database, members)
    published = annual_report(database, "2026", audience="members")
    assert [m["member"] for m in published["per_member"]] == ["Example Photos 1"]
    admin = annual_report(database, "2026", audience="admin")
    assert {
        k: v for k, v in published.items() if k not in ("per_member", "audience", "generated_at")
    } == {k: v for k, v in admin.items() if k not in ("per_member", "audience", "generated_at")}


def test_a_record_altered_after_signing_or_signed_by_another_is_refused(
    database: Database, members: list[SigningMember]
) -> None:
    a, b, _c = members
    reports = PeriodReports(database)
    altered = a.envelope(record("2026", filed=10))
    altered["report"]["figures"]["cybertip_reports"]["filed"]["value"] = 10_000
    with pytest.raises(AlteredObjectError):
        reports.receive(a.key_name, altered)
    # B's key signing an envelope naming A: the hub checks the sender's own keys.
    forged = a.envelope(record("2026", filed=10))
    forged_by_b = period_reports.sign(forged, b.private_key)
    with pytest.raises(UnknownSigningKeyError):
        reports.receive(a.key_name, forged_by_b)
    # A's genuine envelope sent with B's API key names A, not B.
    with pytest.raises((WrongPublisherError, UnknownSigningKeyError)):
        reports.receive(b.key_name, a.envelope(record("2026", filed=10)))
    with pytest.raises(StixError, match="unknown properties"):
        reports.receive(a.key_name, {**a.envelope(record("2026")), "extra": 1})
    assert _rows(database) == []


def test_a_record_off_the_schema_is_refused_naming_the_field(
    database: Database, members: list[SigningMember]
) -> None:
    a = members[0]
    broken = record("2026")
    del broken["figures"]["cybertip_reports"]["filed"]
    with pytest.raises(InvalidFieldError, match=r"report\.figures\.cybertip_reports: 'filed'"):
        PeriodReports(database).receive(a.key_name, a.envelope(broken))
    wrong_type = record("2026")
    wrong_type["figures"]["matches"]["matches"]["value"] = "many"
    with pytest.raises(InvalidFieldError, match=r"report\.figures\.matches\.matches\.value"):
        PeriodReports(database).receive(a.key_name, a.envelope(wrong_type))
    assert _rows(database) == []


def test_a_suspended_member_cannot_send(
    database: Database, membership: Membership, members: list[SigningMember]
) -> None:
    a = members[0]
    with acting_as(ADMIN):
        membership.members.suspend(a.member_id, "shared outside the coalition")
    with pytest.raises(MembershipAccessError):
        PeriodReports(database).receive(a.key_name, a.envelope(record("2026")))


def test_a_resend_replaces_the_record_and_is_audited(
    database: Database, members: list[SigningMember]
) -> None:
    a = members[0]
    reports = PeriodReports(database)
    first = reports.receive(a.key_name, a.envelope(record("2026", filed=1)))
    second = reports.receive(a.key_name, a.envelope(record("2026", filed=2), publish=True))
    assert (first["replaced"], second["replaced"]) == (False, True)
    [row] = _rows(database)
    assert row.report["figures"]["cybertip_reports"]["filed"]["value"] == 2
    assert row.publish is True
    with database.reading() as session:
        trail = audit.find(session, target=f"hub-member:{a.member_id}/report:2026")
    assert [e.action for e in trail] == ["hub.report.receive", "hub.report.replace"]
    assert trail[1].before is not None
    assert trail[1].before["publish"] is False


def test_two_sends_at_once_from_one_member_leave_one_record(
    database: Database, members: list[SigningMember], monkeypatch: pytest.MonkeyPatch
) -> None:
    a = members[0]
    reports = PeriodReports(database)
    paused = PausedInside(monkeypatch, period_reports, "check_record")
    watcher = SecondWriter(database, monkeypatch)
    results: dict[str, Any] = {}
    one = started(
        lambda: reports.receive(a.key_name, a.envelope(record("2026", filed=1))), "first", results
    )
    assert paused.reached.wait(PATIENCE)
    two = started(
        lambda: reports.receive(a.key_name, a.envelope(record("2026", filed=2))), "second", results
    )
    watcher.wait_until_blocked(two)
    paused.release()
    one.join(PATIENCE)
    two.join(PATIENCE)
    assert (results["first"]["replaced"], results["second"]["replaced"]) == (False, True)
    [row] = _rows(database)
    assert row.report["figures"]["cybertip_reports"]["filed"]["value"] == 2


def test_many_sends_at_once_leave_one_record_per_period(
    database: Database, members: list[SigningMember]
) -> None:
    a = members[0]
    reports = PeriodReports(database)
    sent: list[int] = []

    def send(name: str) -> None:
        number = int(name)
        reports.receive(a.key_name, a.envelope(record("2026", filed=number)))
        sent.append(number)

    run_together(send, [str(n) for n in range(8)])
    [row] = _rows(database)
    assert row.report["figures"]["cybertip_reports"]["filed"]["value"] in sent
    with database.reading() as session:
        trail = audit.find(session, target=f"hub-member:{a.member_id}/report:2026")
        entries = session.scalar(select(func.count()).select_from(HubPeriodReport))
    assert entries == 1
    assert sorted(e.action for e in trail) == ["hub.report.receive"] + ["hub.report.replace"] * 7


def test_admins_setting_one_total_at_once_leave_one_row(database: Database) -> None:
    """PostgreSQL: both may find no row and insert; the loser of the unique
    index updates the winner's row instead of failing."""
    events = CoalitionEvents(database)

    def enter(name: str) -> None:
        with acting_as(ADMIN):
            events.set_total("2026", "NCMEC CyberTipline", int(name))

    run_together(enter, [str(n) for n in range(1, 7)])
    [total] = events.totals("2026")
    assert total["total"] in range(1, 7)
    with database.reading() as session:
        trail = audit.find(session, target="hub-total:2026")
    assert len(trail) == 6
    assert [e.before is None for e in trail].count(True) == 1
