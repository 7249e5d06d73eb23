"""What hub admins enter for the annual report: national totals (NCMEC's
yearly CyberTipline total, say) and the forums the coalition held.

    events = CoalitionEvents(database)
    events.set_total("2026", "NCMEC CyberTipline", 36_200_000)
    events.add_forum(date(2026, 5, 4), "Spring forum", participants=80, countries=["GB", "US"])

Setting a period's total for a source again replaces it (two admins at once:
the later one's stands, whichever inserted first); both are audited as the
current actor, who is recorded as having entered it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hashmatch import audit
from hashmatch.errors import InvalidFieldError
from hashmatch.fieldlimits import check_text
from hashmatch.reporting.transparency.periods import parse_period
from hashmatch.store import Database
from hashmatch.store.hub_report_models import HubForum, HubNationalTotal

SOURCE_CHARS = 200
TITLE_CHARS = 200
#: Larger than any national figure or forum, small enough for every engine's integer.
MAX_COUNT = 2**31 - 1
#: ISO 3166-1 alpha-2, as "GB" or "US".
_COUNTRY = re.compile(r"^[A-Z]{2}$")
MAX_COUNTRIES = 250


def total_json(row: HubNationalTotal) -> dict[str, Any]:
    return {
        "period": row.period,
        "source": row.source,
        "total": row.total,
        "entered_by": row.entered_by,
    }


def forum_json(row: HubForum) -> dict[str, Any]:
    return {
        "id": row.id,
        "date": row.held_on.isoformat(),
        "title": row.title,
        "participants": row.participants,
        "countries": list(row.countries),
    }


def _count(field: str, value: int) -> int:
    if not 0 <= value <= MAX_COUNT:
        raise InvalidFieldError(f"{field} must be between 0 and {MAX_COUNT}")
    return value


def countries_of(codes: Iterable[str]) -> list[str]:
    """ISO 3166-1 alpha-2 codes, upper-cased, each once, sorted."""
    found = sorted({code.strip().upper() for code in codes if code.strip()})
    wrong = [code for code in found if not _COUNTRY.match(code)]
    if wrong:
        raise InvalidFieldError(
            f"countries must be ISO 3166-1 alpha-2 codes (GB, US): not {wrong[0][:20]!r}"
        )
    if len(found) > MAX_COUNTRIES:
        raise InvalidFieldError(f"at most {MAX_COUNTRIES} countries")
    return found


class CoalitionEvents:
    def __init__(self, database: Database) -> None:
        self.database = database

    def set_total(self, period: str, source: str, total: int) -> dict[str, Any]:
        """Enter (or replace) the national total ``source`` gives for ``period``."""
        name = parse_period(period).name
        check_text("source", source, max_chars=SOURCE_CHARS, one_line=True)
        if not source.strip():
            raise InvalidFieldError("source must not be empty")
        _count("total", total)
        try:
            return self._set_total(name, source, total)
        except IntegrityError:
            # Another admin's first entry for this period and source committed
            # between our look and our insert: it exists now, so update it.
            return self._set_total(name, source, total)

    def _set_total(self, name: str, source: str, total: int) -> dict[str, Any]:
        with self.database.transaction() as session:
            row = session.scalar(
                select(HubNationalTotal)
                .where(HubNationalTotal.period == name, HubNationalTotal.source == source)
                .with_for_update()
            )
            before = None if row is None else total_json(row)
            if row is None:
                row = HubNationalTotal(period=name, source=source)
                session.add(row)
            row.total = total
            row.entered_by = audit.current_actor().name
            session.flush()
            audit.record(
                session, "hub.total.set", f"hub-total:{name}", before=before, after=total_json(row)
            )
            return total_json(row)

    def totals(self, period: str) -> list[dict[str, Any]]:
        name = parse_period(period).name
        with self.database.reading() as session:
            rows = session.scalars(
                select(HubNationalTotal)
                .where(HubNationalTotal.period == name)
                .order_by(HubNationalTotal.source)
            )
            return [total_json(row) for row in rows]

    def add_forum(
        self, held_on: date, title: str, *, participants: int, countries: Iterable[str]
    ) -> dict[str, Any]:
        check_text("title", title, max_chars=TITLE_CHARS, one_line=True)
        if not title.strip():
            raise InvalidFieldError("title must not be empty")
        row = HubForum(
            held_on=held_on,
            title=title,
            participants=_count("participants", participants),
            countries=countries_of(countries),
            entered_by=audit.current_actor().name,
        )
        with self.database.transaction() as session:
            session.add(row)
            session.flush()
            audit.record(session, "hub.forum.add", f"hub-forum:{row.id}", after=forum_json(row))
            return forum_json(row)

    def forums(self, start: date, end: date) -> list[dict[str, Any]]:
        """Forums held from ``start`` up to, not including, ``end``."""
        with self.database.reading() as session:
            rows = session.scalars(
                select(HubForum)
                .where(HubForum.held_on >= start, HubForum.held_on < end)
                .order_by(HubForum.held_on, HubForum.id)
            )
            return [forum_json(row) for row in rows]
