"""The coalition's annual report: members' signed transparency records for a
period, added up, beside what admins entered and what the hub itself saw.

    report = annual_report(database, "2026", audience="admin")
    report["headlines"]
    # ["+29% CyberTipline reports filed (2025 to 2026, the 2 members that reported both: ...)",
    #  "98% of NCMEC CyberTipline reports came from members", ...]

Each figure is the sum over the members that sent a record for the period.
Its change is counted only across the members that sent records for both
the period and the one before (``compared_members`` names them): a member
joining would otherwise read as growth.  A national total's share compares
it with the members' CyberTipline reports filed (:data:`NATIONAL_FIGURE`).
A member *deploys hash technologies* when its record shows content hashed
(submissions or lookups) or matches by any signal type.  Signals shared
and feedback given are the hub's own rows (``hub_objects``) added in the
period: indicators (each once, however many versions), and opinions by
verdict with sightings of reported matches as ``reported`` (each object
version once, not its count).

``audience="members"`` is the published version: per-member figures only
for the members that chose to publish their own (``publish``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import distinct, func, select

from hashmatch.hub.coalition_events import CoalitionEvents
from hashmatch.hub.taxii_objects import micros
from hashmatch.reporting.transparency.figures import change_percent
from hashmatch.reporting.transparency.formats import change_text, figure_rows
from hashmatch.reporting.transparency.periods import Period, parse_period
from hashmatch.store import Database
from hashmatch.store.hub_models import HubMember
from hashmatch.store.hub_object_models import HubObject
from hashmatch.store.hub_report_models import HubPeriodReport
from hashmatch.store.models import as_utc, utcnow

Audience = Literal["admin", "members"]
AUDIENCES = ("admin", "members")
#: The figure a national total (a CyberTipline count) is compared with.
NATIONAL_FIGURE = ("cybertip_reports", "filed", "")
#: Figures shown per member and in the headlines: (section, name, key) -> words.
HEADLINE_FIGURES = {
    ("cybertip_reports", "filed", ""): "CyberTipline reports filed",
    ("content_scanned", "submissions", ""): "submissions scanned",
    ("matches", "matched_submissions", ""): "matched submissions",
}
_SCANNED = (("content_scanned", "submissions", ""), ("content_scanned", "lookups", ""))


@dataclass(frozen=True)
class MemberRecord:
    member_id: int
    name: str
    publish: bool
    report: dict[str, Any]


@dataclass(frozen=True)
class Inputs:
    """Everything the report is computed from, read in one go."""

    period: Period
    records: Sequence[MemberRecord]
    previous: dict[int, dict[str, Any]]
    #: (member id, name, approved at) of every member admitted before the period ended.
    members: Sequence[tuple[int, str, datetime]]
    national_totals: Sequence[dict[str, Any]]
    forums: Sequence[dict[str, Any]]
    indicators: int
    opinions: dict[str, int]


def values(report: dict[str, Any]) -> dict[tuple[str, str, str], float]:
    """Every figure's value in one record, by (section, name, key)."""
    return {
        (section, name, key): figure["value"]
        for section, name, key, figure in figure_rows(report)
        if isinstance(figure.get("value"), int | float)
    }


def deploys_hashing(figures: dict[tuple[str, str, str], float]) -> bool:
    by_type = (v for (s, n, _k), v in figures.items() if (s, n) == ("matches", "by_signal_type"))
    return any(figures.get(where, 0) > 0 for where in _SCANNED) or any(v > 0 for v in by_type)


def _figure_totals(inputs: Inputs) -> tuple[list[dict[str, Any]], list[str]]:
    current = {record.member_id: values(record.report) for record in inputs.records}
    compared = [r for r in inputs.records if r.member_id in inputs.previous]
    before = {r.member_id: values(inputs.previous[r.member_id]) for r in compared}
    keys: dict[tuple[str, str, str], None] = {}
    for figures in current.values():
        keys.update(dict.fromkeys(figures))
    rows = []
    for where in keys:
        now_compared = sum(current[r.member_id].get(where, 0) for r in compared)
        then = sum(before[r.member_id].get(where, 0) for r in compared)
        rows.append(
            {
                "section": where[0],
                "name": where[1],
                "key": where[2],
                "value": sum(figures.get(where, 0) for figures in current.values()),
                "compared_value": now_compared if compared else None,
                "previous": then if compared else None,
                "change_percent": change_percent(now_compared, then) if compared else None,
            }
        )
    return rows, sorted(r.name for r in compared)


def _national(inputs: Inputs, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    members_value = next(
        (r["value"] for r in rows if (r["section"], r["name"], r["key"]) == NATIONAL_FIGURE), 0
    )
    return [
        {
            "source": total["source"],
            "total": total["total"],
            "members_value": members_value,
            "share_percent": round(100 * members_value / total["total"], 1)
            if total["total"]
            else None,
        }
        for total in inputs.national_totals
    ]


def _per_member(inputs: Inputs, audience: Audience) -> list[dict[str, Any]]:
    shown = []
    for record in sorted(inputs.records, key=lambda r: r.name):
        if audience == "members" and not record.publish:
            continue
        mine = values(record.report)
        earlier = inputs.previous.get(record.member_id)
        before = {} if earlier is None else values(earlier)
        shown.append(
            {
                "member_id": record.member_id,
                "member": record.name,
                "published": record.publish,
                "deploys_hash_technologies": deploys_hashing(mine),
                "figures": {
                    words: {
                        "value": mine.get(where),
                        "previous": before.get(where),
                        "change_percent": change_percent(mine.get(where), before.get(where)),
                    }
                    for where, words in HEADLINE_FIGURES.items()
                },
            }
        )
    return shown


def _headlines(report: dict[str, Any], inputs: Inputs) -> list[str]:
    lines = []
    by_where = {(r["section"], r["name"], r["key"]): r for r in report["figures"]}
    counted = report["compared_members"]
    for where, words in HEADLINE_FIGURES.items():
        row = by_where.get(where)
        if row is not None and row["change_percent"] is not None:
            lines.append(
                f"{change_text(row['change_percent'])} {words} ({inputs.period.previous().name} "
                f"to {inputs.period.name}, the {len(counted)} members that reported both: "
                f"{', '.join(counted)})"
            )
    for national in report["national_totals"]:
        if national["share_percent"] is not None:
            lines.append(
                f"{national['share_percent']:g}% of {national['source']} reports came from members"
            )
    hashing = report["hash_technologies"]
    lines.append(
        f"{hashing['members']} of {report['members']['reporting']} reporting members "
        "deploy hash technologies"
    )
    lines.append(
        f"{report['signals_shared']['indicators']:,} signals shared, "
        f"{sum(report['signals_shared']['feedback'].values()):,} pieces of feedback given"
    )
    members = report["members"]
    lines.append(f"{members['total']} members, {members['new']} new in {inputs.period.name}")
    forums = report["forums"]
    lines.append(
        f"{forums['held']} forums, {forums['participants']:,} participants "
        f"from {forums['countries']} countries"
    )
    return lines


def compute(inputs: Inputs, *, audience: Audience, now: datetime) -> dict[str, Any]:
    """The annual report from what was read (no database: tests feed it directly)."""
    period = inputs.period
    rows, compared = _figure_totals(inputs)
    hashing_members = [r for r in inputs.records if deploys_hashing(values(r.report))]
    signal_types: Counter[str] = Counter()
    for record in inputs.records:
        figures = values(record.report)
        signal_types.update(
            k for (s, n, k), v in figures.items() if (s, n) == ("matches", "by_signal_type") and v
        )
    countries = {code for forum in inputs.forums for code in forum["countries"]}
    report: dict[str, Any] = {
        "period": {
            "name": period.name,
            "previous": period.previous().name,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
        },
        "generated_at": now.isoformat(timespec="seconds"),
        "audience": audience,
        "members": {
            "total": len(inputs.members),
            "new": sum(1 for _, _, joined in inputs.members if period.contains(as_utc(joined))),
            "reporting": len(inputs.records),
        },
        "figures": rows,
        "compared_members": compared,
        "national_totals": _national(inputs, rows),
        "hash_technologies": {
            "members": len(hashing_members),
            "by_signal_type": dict(sorted(signal_types.items())),
        },
        "signals_shared": {"indicators": inputs.indicators, "feedback": dict(inputs.opinions)},
        "forums": {
            "held": len(inputs.forums),
            "participants": sum(forum["participants"] for forum in inputs.forums),
            "countries": len(countries),
            "list": list(inputs.forums),
        },
        "per_member": _per_member(inputs, audience),
    }
    report["headlines"] = _headlines(report, inputs)
    return report


def _records(session: Any, period: Period) -> list[MemberRecord]:
    query = (
        select(HubPeriodReport, HubMember.name)
        .join(HubMember, HubMember.id == HubPeriodReport.member_id)
        .where(HubPeriodReport.period == period.name)
    )
    return [
        MemberRecord(row.member_id, name, row.publish, row.report)
        for row, name in session.execute(query)
    ]


def _feedback(session: Any, start: int, end: int) -> tuple[int, dict[str, int]]:
    in_period = (HubObject.date_added >= start, HubObject.date_added < end)
    indicators = session.scalar(
        select(func.count(distinct(HubObject.stix_id))).where(
            HubObject.type == "indicator", *in_period
        )
    )
    opinions = session.execute(
        select(HubObject.verdict, func.count())
        .where(HubObject.type.in_(("opinion", "sighting")), *in_period)
        .group_by(HubObject.verdict)
    )
    return int(indicators or 0), {str(verdict): int(n) for verdict, n in opinions if verdict}


def read_inputs(database: Database, period: Period) -> Inputs:
    events = CoalitionEvents(database)
    with database.reading(consistent=True) as session:
        records = _records(session, period)
        previous = {r.member_id: r.report for r in _records(session, period.previous())}
        members: Iterable[tuple[int, str, datetime]] = session.execute(
            select(HubMember.id, HubMember.name, HubMember.approved_at)
            .where(HubMember.approved_at < period.end)
            .order_by(HubMember.id)
        )
        members = list(members)
        indicators, opinions = _feedback(session, micros(period.start), micros(period.end))
    return Inputs(
        period=period,
        records=records,
        previous=previous,
        members=members,
        national_totals=events.totals(period.name),
        forums=events.forums(period.start.date(), period.end.date()),
        indicators=indicators,
        opinions=opinions,
    )


def annual_report(
    database: Database, period: str, *, audience: Audience, now: datetime | None = None
) -> dict[str, Any]:
    """The report for ``period`` (2026, 2026-Q3, 2026-07) as ``audience`` sees it."""
    parsed = parse_period(period)
    return compute(read_inputs(database, parsed), audience=audience, now=now or utcnow())
