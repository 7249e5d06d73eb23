"""The counts a rule's ``user_history`` conditions look at: how many of one
platform user's earlier records of each kind fall in a window.

    windows = history_windows(rules)        # {("confirmed_decisions", 90), ...}
    counts = count_user_history(database, "user-7", windows, now=utcnow())
    counts[("confirmed_decisions", 90)]     # 1

One query per kind, however many windows the rules ask about for it (each
window is a filtered count over the longest one).  Only records before
``now`` count: a submission's own row, and anything later, never do.  What
each kind counts (docs/rules.md):

* ``submissions``: the user's submissions, by when they were taken;
* ``matches``: those with a match that an allowlist did not suppress;
* ``block_verdicts``: those whose verdict was ``block``;
* ``confirmed_decisions``: review items of the user's submissions closed
  as ``confirm``, by when they were closed;
* ``reports``: CyberTipline reports about the user, by when they were
  created, retracted ones left out;
* ``upheld_appeals``: appeals of the user's submissions decided
  ``uphold``, by when they were decided.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, text

from hashmatch.actions.rules import HistoryWindow
from hashmatch.store import Database
from hashmatch.store.reporting_models import CybertipReport
from hashmatch.store.review_models import Appeal
from hashmatch.store.workflow import ReviewItem, Submission

#: Whether a submission's ``matches`` list holds a match no allowlist
#: suppressed; an empty list is passed over before any JSON is parsed (most
#: of a user's uploads match nothing).
_UNSUPPRESSED = {
    "sqlite": "submissions.matches <> '[]' AND EXISTS (SELECT 1 FROM "
    "json_each(submissions.matches) AS m "
    "WHERE COALESCE(json_extract(m.value, '$.suppressed'), 0) = 0)",
    "postgresql": "submissions.matches::text <> '[]' AND EXISTS (SELECT 1 FROM "
    "json_array_elements(submissions.matches) AS m "
    "WHERE COALESCE((m ->> 'suppressed')::boolean, false) = false)",
}


def _of_user(kind: str, user_ref: str, dialect: str) -> tuple[Any, Select[Any]]:
    """The moment column of ``kind``'s records and a query of the user's."""
    mine = Submission.user_ref == user_ref
    if kind == "confirmed_decisions":
        query = select().select_from(ReviewItem).join(Submission)
        query = query.where(mine, ReviewItem.status == "closed", ReviewItem.decision == "confirm")
        return ReviewItem.closed_at, query
    if kind == "upheld_appeals":
        query = select().select_from(Appeal).join(Submission, Submission.id == Appeal.submission_id)
        return Appeal.decided_at, query.where(mine, Appeal.decision == "uphold")
    if kind == "reports":
        query = select().select_from(CybertipReport)
        return CybertipReport.created_at, query.where(
            CybertipReport.user_ref == user_ref, CybertipReport.status != "retracted"
        )
    query = select().select_from(Submission).where(mine)
    if kind == "block_verdicts":
        query = query.where(Submission.verdict == "block")
    elif kind == "matches":
        query = query.where(text(_UNSUPPRESSED[dialect]))
    return Submission.created_at, query


def count_user_history(
    database: Database, user_ref: str | None, windows: Iterable[HistoryWindow], *, now: datetime
) -> dict[HistoryWindow, int]:
    """The user's records of each kind in each window (days before ``now``,
    ``now`` itself left out); all 0 for no ``user_ref``."""
    by_kind: dict[str, set[int]] = defaultdict(set)
    for kind, days in windows:
        by_kind[kind].add(days)
    counts = {(kind, days): 0 for kind, all_days in by_kind.items() for days in all_days}
    if user_ref is None or not by_kind:
        return counts
    with database.reading(consistent=True) as session:
        for kind, all_days in sorted(by_kind.items()):
            moment, query = _of_user(kind, user_ref, database.dialect)
            ordered = sorted(all_days)
            since = {days: now - timedelta(days=days) for days in ordered}
            in_window: list[ColumnElement[int]] = [
                func.count().filter(moment >= since[days]) for days in ordered
            ]
            statement = query.add_columns(*in_window).where(
                moment >= since[ordered[-1]], moment < now
            )
            row = session.execute(statement).one()
            counts.update({(kind, days): int(row[index]) for index, days in enumerate(ordered)})
    return counts
