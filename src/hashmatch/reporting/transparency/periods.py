"""Reporting periods: a year ("2026"), a quarter ("2026-Q3") or a month
("2026-07"), each the half-open span [start, end) in UTC.

    period = parse_period("2026-Q3")
    period.start, period.end      # 2026-07-01 00:00 UTC, 2026-10-01 00:00 UTC
    period.previous().name        # "2026-Q2"
    [m.name for m in period.months()]  # ["2026-07", "2026-08", "2026-09"]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from hashmatch.errors import TransparencyError

PeriodKind = Literal["year", "quarter", "month"]

#: How many months each kind of period spans.
MONTHS_IN: dict[PeriodKind, int] = {"year": 12, "quarter": 3, "month": 1}

_YEAR = re.compile(r"^([0-9]{4})$")
_QUARTER = re.compile(r"^([0-9]{4})-[Qq]([1-4])$")
_MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")
FIRST_YEAR, LAST_YEAR = 1970, 9998


@dataclass(frozen=True, order=True)
class Period:
    """``number`` is the quarter (1-4) or the month (1-12); 1 for a year."""

    kind: PeriodKind
    year: int
    number: int = 1

    @property
    def name(self) -> str:
        if self.kind == "year":
            return f"{self.year:04d}"
        if self.kind == "quarter":
            return f"{self.year:04d}-Q{self.number}"
        return f"{self.year:04d}-{self.number:02d}"

    @property
    def first_month(self) -> int:
        """The month (1-12) the period starts in."""
        return (self.number - 1) * MONTHS_IN[self.kind] + 1

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.first_month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first moment after the period (exclusive)."""
        year, month = _add_months(self.year, self.first_month, MONTHS_IN[self.kind])
        return datetime(year, month, 1, tzinfo=UTC)

    def previous(self) -> Period:
        """The period of the same kind just before: 2026-Q1 -> 2025-Q4."""
        if self.kind == "year":
            return Period("year", self.year - 1)
        count = 4 if self.kind == "quarter" else 12
        if self.number == 1:
            return Period(self.kind, self.year - 1, count)
        return Period(self.kind, self.year, self.number - 1)

    def months(self) -> list[Period]:
        """The months inside it, in order."""
        return [
            Period("month", self.year, self.first_month + offset)
            for offset in range(MONTHS_IN[self.kind])
        ]

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def __str__(self) -> str:
        return self.name


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def parse_period(text: str) -> Period:
    """ "2026", "2026-Q3" (or "2026-q3") or "2026-07"; TransparencyError otherwise."""
    value = text.strip()
    period: Period | None = None
    if found := _YEAR.match(value):
        period = Period("year", int(found[1]))
    elif found := _QUARTER.match(value):
        period = Period("quarter", int(found[1]), int(found[2]))
    elif found := _MONTH.match(value):
        period = Period("month", int(found[1]), int(found[2]))
    if period is None:
        raise TransparencyError(
            f"period {text!r} is not understood: give a year (2026), a quarter (2026-Q3) "
            "or a month (2026-07)"
        )
    if not FIRST_YEAR < period.year <= LAST_YEAR:
        raise TransparencyError(
            f"period {text!r} is out of range: years {FIRST_YEAR + 1} to {LAST_YEAR}"
        )
    return period


def period_containing(moment: datetime, kind: PeriodKind) -> Period:
    """The period of ``kind`` that ``moment`` (UTC) falls in."""
    moment = moment.astimezone(UTC)
    if kind == "year":
        return Period("year", moment.year)
    if kind == "quarter":
        return Period("quarter", moment.year, (moment.month - 1) // 3 + 1)
    return Period("month", moment.year, moment.month)
