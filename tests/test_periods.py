"""Reporting periods: parsed, bounded in UTC, stepped back, split into months."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from hashmatch.errors import TransparencyError
from hashmatch.reporting.transparency.periods import Period, parse_period, period_containing


def utc(year: int, month: int, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "kind", "start", "end"),
    [
        ("2026", "year", utc(2026, 1), utc(2027, 1)),
        ("2026-Q1", "quarter", utc(2026, 1), utc(2026, 4)),
        ("2026-q3", "quarter", utc(2026, 7), utc(2026, 10)),
        ("2026-Q4", "quarter", utc(2026, 10), utc(2027, 1)),
        ("2026-07", "month", utc(2026, 7), utc(2026, 8)),
        ("2026-12", "month", utc(2026, 12), utc(2027, 1)),
        (" 2024-02 ", "month", utc(2024, 2), utc(2024, 3)),
    ],
)
def test_parse_and_bounds(text: str, kind: str, start: datetime, end: datetime) -> None:
    period = parse_period(text)
    assert (period.kind, period.start, period.end) == (kind, start, end)
    assert parse_period(period.name) == period


@pytest.mark.parametrize(
    "text", ["", "26", "2026-Q0", "2026-Q5", "2026-13", "2026-00", "2026-7", "Q3-2026", "2026-H1"]
)
def test_anything_else_is_refused_with_the_forms_named(text: str) -> None:
    with pytest.raises(TransparencyError, match=r"a year \(2026\), a quarter \(2026-Q3\)"):
        parse_period(text)


def test_years_out_of_range() -> None:
    with pytest.raises(TransparencyError, match="out of range"):
        parse_period("1970")
    with pytest.raises(TransparencyError, match="out of range"):
        parse_period("9999")


@pytest.mark.parametrize(
    ("text", "previous"),
    [("2026", "2025"), ("2026-Q1", "2025-Q4"), ("2026-Q3", "2026-Q2"), ("2026-01", "2025-12"),
     ("2026-07", "2026-06")],
)  # fmt: skip
def test_previous(text: str, previous: str) -> None:
    assert parse_period(text).previous().name == previous
    assert parse_period(text).previous().end == parse_period(text).start


def test_months() -> None:
    assert [m.name for m in parse_period("2026-Q3").months()] == ["2026-07", "2026-08", "2026-09"]
    year = parse_period("2026").months()
    assert len(year) == 12
    assert year[0].start == utc(2026, 1)
    assert year[-1].end == utc(2027, 1)
    assert parse_period("2026-02").months() == [Period("month", 2026, 2)]


def test_the_end_is_excluded() -> None:
    q3 = parse_period("2026-Q3")
    assert q3.contains(utc(2026, 7))
    assert q3.contains(utc(2026, 10) - timedelta(microseconds=1))
    assert not q3.contains(utc(2026, 10))


def test_period_containing_a_moment() -> None:
    moment = datetime(2026, 8, 31, 23, 30, tzinfo=UTC)
    assert period_containing(moment, "year").name == "2026"
    assert period_containing(moment, "quarter").name == "2026-Q3"
    assert period_containing(moment, "month").name == "2026-08"
    # 01:30 on 1 September in UTC+2 is still August in UTC.
    east = moment.astimezone(timezone(timedelta(hours=2)))
    assert east.month == 9
    assert period_containing(east, "month").name == "2026-08"
