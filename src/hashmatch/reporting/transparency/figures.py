"""Transparency figures for a period, counted from the stored events.

    report = transparency(database, parse_period("2026-Q3"), instance_name="Example")
    report["figures"]["cybertip_reports"]["filed"]
    # {"value": 129, "previous": 100, "change_percent": 29.0}

The counting is SQL aggregates (``transparency_counts``); here the counts
become figures: each the period's beside the previous period's and the
change, medians from histograms of seconds, and a trend per month.

The output is the record a coalition hub aggregates: its shape is pinned by
``schema.json`` beside this module (``SCHEMA_ID``, ``SCHEMA_VERSION``) and every
field is documented in docs/transparency.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from itertools import chain
from typing import Any

from hashmatch.reporting.transparency.counts import (
    ACTIONS,
    AUTOMATED_DECISIONS,
    AUTOMATED_DETECTIONS,
    CLASSIFICATIONS,
    COMPLAINT_DECISIONS,
    COMPLAINTS,
    CONTENT_TYPES,
    DECISIONS,
    STATEMENTS,
    TO_DECIDE,
    UNCLASSIFIED,
    VERDICTS,
    Counts,
    count_all,
)
from hashmatch.reporting.transparency.periods import Period
from hashmatch.store import Database
from hashmatch.store.models import utcnow

SCHEMA_ID = "https://hashmatch.dev/schemas/transparency/1.json"
#: Raised when a field is renamed, removed or changes meaning; adding a field
#: or a key (a new bank, label or action) keeps the version.
SCHEMA_VERSION = 1

#: Figures drawn per month (``monthly``): (section, name) of each.
MONTHLY = {
    "submissions": ("content_scanned", "submissions"),
    "lookups": ("content_scanned", "lookups"),
    "matched_submissions": ("matches", "matched_submissions"),
    "matches": ("matches", "matches"),
    "reports_filed": ("cybertip_reports", "filed"),
}


def median(histogram: Iterable[tuple[int, int]]) -> int | float | None:
    """The median of values given as (value, how many times): the middle
    one, or the mean of the two middle ones; None for no values."""
    ordered = sorted(histogram)
    total = sum(count for _, count in ordered)
    if total == 0:
        return None
    wanted = [(total - 1) // 2, total // 2]  # 0-based ranks of the middle one(s)
    found: list[int] = []
    seen = 0
    for value, count in ordered:
        while wanted and wanted[0] < seen + count:
            found.append(value)
            wanted.pop(0)
        seen += count
    middle = found[0] + found[1]
    return middle // 2 if middle % 2 == 0 else middle / 2


def change_percent(value: float | None, previous: float | None) -> float | None:
    """+29.0 for 129 after 100; None when there is nothing to compare with."""
    if value is None or not previous:
        return None
    return round((value - previous) / previous * 100, 1)


def _figure(value: float | None, previous: float | None) -> dict[str, Any]:
    return {"value": value, "previous": previous, "change_percent": change_percent(value, previous)}


#: (section, name) -> keys always present; None: a one-number figure.
LAYOUT: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("content_scanned", "submissions"): None,
    ("content_scanned", "lookups"): None,
    ("content_scanned", "by_content_type"): CONTENT_TYPES,
    ("matches", "matched_submissions"): None,
    ("matches", "matches"): None,
    ("matches", "by_bank"): (),
    ("matches", "by_label"): (),
    ("matches", "by_signal_type"): (),
    ("verdicts", "submissions"): VERDICTS,
    ("actions", "actions"): ACTIONS,
    ("review_decisions", "decisions"): DECISIONS,
    ("review_decisions", "confirmed_by_classification"): CLASSIFICATIONS,
    ("cybertip_reports", "filed"): None,
    ("cybertip_reports", "files"): None,
    ("cybertip_reports", "files_by_classification"): (*CLASSIFICATIONS, UNCLASSIFIED),
    ("cybertip_reports", "retracted"): None,
    ("cybertip_reports", "filed_test_environment"): None,
    ("evidence", "preserved"): None,
    ("evidence", "purged"): None,
    ("evidence", "held_at_end"): None,
    (STATEMENTS, "written"): None,
    (STATEMENTS, "sent"): None,
    (STATEMENTS, "by_category"): (),
    (STATEMENTS, "by_automated_detection"): AUTOMATED_DETECTIONS,
    (STATEMENTS, "by_automated_decision"): AUTOMATED_DECISIONS,
    (COMPLAINTS, "received"): None,
    (COMPLAINTS, "decided"): None,
    **{(COMPLAINTS, name): None for name in COMPLAINT_DECISIONS.values()},
}
MEDIANS = ("upload_to_verdict", "upload_to_decision", "upload_to_report")


def hours(seconds: float | None) -> float | None:
    """Seconds as hours to a tenth (a complaint's time to decide is told in hours)."""
    return None if seconds is None else round(seconds / 3600, 1)


def _figures(counts: Counts, period: Period) -> dict[str, Any]:
    halves = {
        "current": {m.name for m in period.months()} | {"current"},
        "previous": {m.name for m in period.previous().months()} | {"previous"},
    }

    def total(months: Mapping[str, int], half: str) -> int:
        return sum(n for month, n in months.items() if month in halves[half])

    figures: dict[str, Any] = defaultdict(dict)
    for (section, name), fixed in LAYOUT.items():
        if fixed is None:
            months = counts.by_month.get((section, name, ""), {})
            figures[section][name] = _figure(total(months, "current"), total(months, "previous"))
            continue
        found = {key for (s, n, key) in counts.by_month if (s, n) == (section, name)}
        keyed = {}
        for key in sorted(set(fixed) | found):
            months = counts.by_month.get((section, name, key), {})
            keyed[key] = _figure(total(months, "current"), total(months, "previous"))
        figures[section][name] = keyed

    def middle(name: str, half: str) -> float | None:
        buckets = counts.histograms[name]
        return median(chain.from_iterable(buckets[b] for b in halves[half] if b in buckets))

    figures["medians_seconds"] = {
        name: _figure(middle(name, "current"), middle(name, "previous")) for name in MEDIANS
    }
    figures[COMPLAINTS]["median_hours_to_decide"] = _figure(
        hours(middle(TO_DECIDE, "current")), hours(middle(TO_DECIDE, "previous"))
    )
    return dict(figures)


def _monthly(counts: Counts, period: Period) -> list[dict[str, Any]]:
    return [
        {
            "month": month.name,
            **{
                name: counts.by_month.get((*where, ""), {}).get(month.name, 0)
                for name, where in MONTHLY.items()
            },
        }
        for month in period.months()
    ]


def transparency(
    database: Database,
    period: Period,
    *,
    instance_name: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The transparency record for ``period``, each figure beside the
    previous period's and the change (docs/transparency.md)."""
    counts = count_all(database, period)
    return {
        "schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "instance": {"name": instance_name},
        "period": {
            "name": period.name,
            "kind": period.kind,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "previous": period.previous().name,
        },
        "generated_at": (now or utcnow()).isoformat(timespec="seconds"),
        "figures": _figures(counts, period),
        "monthly": _monthly(counts, period),
    }
