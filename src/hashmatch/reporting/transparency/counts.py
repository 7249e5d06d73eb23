"""Counting a period's events for transparency reports: SQL aggregates only.

    counts = count_all(database, period)
    counts.by_month[("cybertip_reports", "filed", "")]   # {"2026-07": 3, ...}
    counts.histograms["upload_to_verdict"]["2026-07"]     # [(seconds, how many), ...]

Submissions are counted a month at a time, the months in threads, each on a
connection of its own: SQLite sorts every row of a GROUP BY on one core.  The
previous period is counted in the same pass, so every figure has its
comparison.  Matches and actions are JSON lists in ``submissions``: only the
rows whose list is not empty are opened with the engine's JSON table
function.  Histograms of whole seconds give exact medians without fetching
a row each.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from sqlalchemy import Date, DateTime, bindparam, text
from sqlalchemy.orm import Session

from hashmatch.reporting.transparency.periods import Period
from hashmatch.store import Database

#: Keys every report carries even when their count is zero.
VERDICTS = ("allow", "review", "block")
ACTIONS = ("block", "review", "report", "webhook")
DECISIONS = ("confirm", "false_positive", "escalate")
CLASSIFICATIONS = ("A1", "A2", "B1", "B2")
CONTENT_TYPES = ("photo", "video", "file")
#: Statements of reasons (statements/): the section, and the values of the
#: API's automated_detection and automated_decision fields.
STATEMENTS = "statements_of_reasons"
AUTOMATED_DETECTIONS = ("Yes", "No")
AUTOMATED_DECISIONS = (
    "AUTOMATED_DECISION_FULLY",
    "AUTOMATED_DECISION_PARTIALLY",
    "AUTOMATED_DECISION_NOT_AUTOMATED",
)
#: Complaints: the users' appeals (review/appeals.py), and the histogram of
#: seconds from an appeal's receipt to its decision.
COMPLAINTS = "complaints"
COMPLAINT_DECISIONS = {"uphold": "upheld", "overturn": "overturned"}
TO_DECIDE = "complaint_to_decision"
#: Submission columns counted by value: where each goes in the figures.
SUBMISSION_FIGURES = {
    "verdict": ("verdicts", "submissions"),
    "content_type": ("content_scanned", "by_content_type"),
}
#: A verdict or content type outside the known ones is counted under this key.
OTHER = "other"
#: Files reported without a classification are counted under this key.
UNCLASSIFIED = "unclassified"
#: The ``daily_counts`` name that lookups are counted under.
LOOKUPS = "lookups"

#: Months counted at once, each on a connection of its own: SQLite sorts
#: a GROUP BY on one core, so a year of submissions is counted a month a thread.
MAX_THREADS = 8

#: (section, name, key): key "" for a figure that is one number.
FigureId = tuple[str, str, str]


class _Sql:
    """The few expressions the two engines spell differently."""

    def __init__(self, dialect: str) -> None:
        self.postgres = dialect == "postgresql"

    def month(self, column: str) -> str:
        if self.postgres:
            return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM')"
        return f"substr({column}, 1, 7)"

    def day_month(self, column: str) -> str:
        return f"to_char({column}, 'YYYY-MM')" if self.postgres else f"substr({column}, 1, 7)"

    def seconds_between(self, earlier: str, later: str) -> str:
        """Seconds from ``earlier`` to ``later``, rounded to the nearest whole
        second, never below 0 (an upload time ahead of ours is a clock's
        skew, not negative time).  SQLite: julianday is twice as fast as
        strftime('%s'), and its error (under a millisecond) cannot move a
        whole-second difference."""
        if self.postgres:
            # greatest() passes over NULLs: a missing upload time must stay NULL.
            seconds = f"round(extract(epoch from ({later} - {earlier})))::bigint"
            return f"CASE WHEN {earlier} IS NULL THEN NULL ELSE greatest({seconds}, 0) END"
        return (
            f"max(CAST(round((julianday({later}) - julianday({earlier})) * 86400) AS INTEGER), 0)"
        )

    def not_empty(self, column: str) -> str:
        return f"{column}::text <> '[]'" if self.postgres else f"{column} <> '[]'"

    def elements(self, column: str, alias: str) -> str:
        """A table of a JSON list's elements: ``alias.value`` and ``alias.key`` (position)."""
        if self.postgres:
            return f"json_array_elements({column}) WITH ORDINALITY AS {alias}(value, key)"
        return f"json_each({column}) AS {alias}"

    def texts(self, element: str, field: str, alias: str) -> str:
        """A table of the strings in ``element``'s list ``field``: ``alias.value``."""
        if self.postgres:
            return f"json_array_elements_text({element} -> '{field}') AS {alias}(value)"
        return f"json_each({element}, '$.{field}') AS {alias}"

    def field(self, element: str, field: str) -> str:
        if self.postgres:
            return f"({element} ->> '{field}')"
        return f"json_extract({element}, '$.{field}')"

    def unsuppressed(self, element: str) -> str:
        if self.postgres:
            return f"COALESCE(({element} ->> 'suppressed')::boolean, false) = false"
        return f"COALESCE(json_extract({element}, '$.suppressed'), 0) = 0"


def _query(statement: str) -> Any:
    """``statement`` with its moments (:start, :middle, :end) bound as timestamps."""
    moments = [name for name in ("start", "middle", "end") if f":{name}" in statement]
    return text(statement).bindparams(
        *(bindparam(name, type_=DateTime(timezone=True)) for name in moments)
    )


class Counts:
    """Counts by figure and month, and histograms of seconds by half
    ("current" or "previous")."""

    def __init__(self) -> None:
        self.by_month: dict[FigureId, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.histograms: dict[str, dict[str, list[tuple[int, int]]]] = defaultdict(
            lambda: defaultdict(list)
        )

    def add(self, rows: Iterable[Sequence[Any]], section: str, name: str) -> None:
        """Rows of (month, key, count); key None or "" for a one-number figure."""
        for month, key, count in rows:
            self.by_month[(section, name, key or "")][month] += int(count)

    def add_histogram(self, rows: Iterable[Sequence[Any]], name: str) -> None:
        """Rows of (month or half, seconds, count)."""
        for bucket, seconds, count in rows:
            self.histograms[name][bucket].append((int(seconds), int(count)))

    def merge(self, other: Counts) -> None:
        for figure, months in other.by_month.items():
            for month, count in months.items():
                self.by_month[figure][month] += count
        for name, buckets in other.histograms.items():
            for bucket, values in buckets.items():
                self.histograms[name][bucket].extend(values)


def _count_month(database: Database, sql: _Sql, month: Period) -> Counts:
    """One month's submissions: counts by verdict and content type and the
    histogram of upload-to-verdict seconds in one scan, then the matches and
    actions of the rows that have any.

    The scan groups by the seconds alone and sums the known verdicts and
    content types beside them (a third faster than grouping by all three:
    SQLite sorts every row for a GROUP BY); any other value is ``other``."""
    counts = Counts()
    params = {"start": month.start, "end": month.end}
    in_range = "s.created_at >= :start AND s.created_at < :end"
    seconds = sql.seconds_between("s.uploaded_at", "s.created_at")
    known = [("verdict", value) for value in VERDICTS] + [
        ("content_type", value) for value in CONTENT_TYPES
    ]
    sums = ", ".join(f"sum(CASE WHEN s.{c} = '{v}' THEN 1 ELSE 0 END)" for c, v in known)
    with database.reading() as session:
        rows = session.execute(
            _query(
                f"SELECT {seconds}, count(*), {sums} FROM submissions s WHERE {in_range} GROUP BY 1"
            ),
            params,
        ).all()
        _count_matches_and_actions(session, sql, params, counts, month.name, in_range)
    name = month.name
    totals = [sum(int(row[index]) for row in rows) for index in range(1, len(known) + 2)]
    counts.add([(name, "", totals[0])], "content_scanned", "submissions")
    for (column, value), total in zip(known, totals[1:], strict=True):
        section, figure = SUBMISSION_FIGURES[column]
        counts.add([(name, value, total)], section, figure)
    for column, values in (("verdict", VERDICTS), ("content_type", CONTENT_TYPES)):
        section, figure = SUBMISSION_FIGURES[column]
        counted = sum(totals[1 + known.index((column, value))] for value in values)
        if totals[0] > counted:
            counts.add([(name, OTHER, totals[0] - counted)], section, figure)
    counts.add_histogram(
        ((name, taken, n) for taken, n, *_ in rows if taken is not None), "upload_to_verdict"
    )
    return counts


def _count_matches_and_actions(
    session: Session,
    sql: _Sql,
    params: dict[str, Any],
    counts: Counts,
    month: str,
    in_range: str,
) -> None:
    """One statement: the rows with matches or actions are read once
    (materialised), their JSON lists opened, each facet one arm of a UNION."""
    statement = f"""
        WITH listed AS MATERIALIZED (
            SELECT s.id, s.matches, s.actions FROM submissions s
            WHERE {in_range} AND ({sql.not_empty("s.matches")} OR {sql.not_empty("s.actions")})
        ), found AS MATERIALIZED (
            SELECT listed.id, m.key AS position, m.value AS value
            FROM listed, {sql.elements("listed.matches", "m")}
            WHERE {sql.unsuppressed("m.value")}
        )
        SELECT 'bank', {sql.field("value", "bank")}, count(*) FROM found GROUP BY 2
        UNION ALL
        SELECT 'signal_type', {sql.field("value", "signal_type")}, count(*) FROM found GROUP BY 2
        UNION ALL
        SELECT 'matched', '', count(DISTINCT id) FROM found
        UNION ALL
        SELECT 'label', label, count(*) FROM (
            SELECT found.id, found.position, l.value AS label
                FROM found, {sql.texts("found.value", "labels", "l")}
            UNION
            SELECT found.id, found.position, l.value
                FROM found, {sql.texts("found.value", "content_labels", "l")}
        ) AS labelled GROUP BY 2
        UNION ALL
        SELECT 'action', {sql.field("a.value", "action")}, count(*)
            FROM listed, {sql.elements("listed.actions", "a")} GROUP BY 2
    """
    by_facet: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    rows: Sequence[Any] = session.execute(_query(statement), params).all()
    for facet, key, count in rows:
        by_facet[str(facet)].append((month, str(key), int(count)))
    counts.add(by_facet["bank"], "matches", "by_bank")
    counts.add(by_facet["signal_type"], "matches", "by_signal_type")
    counts.add(by_facet["label"], "matches", "by_label")
    counts.add(by_facet["matched"], "matches", "matched_submissions")
    counts.add(((m, "", n) for m, _, n in by_facet["bank"]), "matches", "matches")
    counts.add(by_facet["action"], "actions", "actions")


def _count_reviews(session: Session, sql: _Sql, params: dict[str, Any], counts: Counts) -> None:
    in_range = "r.status = 'closed' AND r.closed_at >= :start AND r.closed_at < :end"
    rows = session.execute(
        _query(
            f"SELECT {sql.month('r.closed_at')}, r.decision, r.classification, count(*) "
            f"FROM review_items r WHERE {in_range} GROUP BY 1, 2, 3"
        ),
        params,
    ).all()
    counts.add(((m, decision, n) for m, decision, _, n in rows), "review_decisions", "decisions")
    confirmed = ((m, c or UNCLASSIFIED, n) for m, d, c, n in rows if d == "confirm")
    counts.add(confirmed, "review_decisions", "confirmed_by_classification")
    half = "CASE WHEN r.closed_at >= :middle THEN 'current' ELSE 'previous' END"
    seconds = sql.seconds_between("s.uploaded_at", "r.closed_at")
    counts.add_histogram(
        session.execute(
            _query(
                f"SELECT {half}, {seconds}, count(*) FROM review_items r "
                "JOIN submissions s ON s.id = r.submission_id "
                f"WHERE {in_range} AND r.decision IN ('confirm', 'false_positive') "
                "AND s.uploaded_at IS NOT NULL GROUP BY 1, 2"
            ),
            params,
        ),
        "upload_to_decision",
    )


def _count_reports(session: Session, sql: _Sql, params: dict[str, Any], counts: Counts) -> None:
    finished = "r.finished_at >= :start AND r.finished_at < :end"
    month = sql.month("r.finished_at")
    rows = session.execute(
        _query(
            f"SELECT {month}, r.environment, count(*) FROM cybertip_reports r "
            f"WHERE {finished} GROUP BY 1, 2"
        ),
        params,
    ).all()
    counts.add(
        ((m, "", n) for m, env, n in rows if env == "production"), "cybertip_reports", "filed"
    )
    counts.add(
        ((m, "", n) for m, env, n in rows if env != "production"),
        "cybertip_reports",
        "filed_test_environment",
    )
    production = f"{finished} AND r.environment = 'production'"
    files = session.execute(
        _query(
            f"SELECT {month}, f.classification, count(*) FROM cybertip_files f "
            f"JOIN cybertip_reports r ON r.id = f.report_id WHERE {production} GROUP BY 1, 2"
        ),
        params,
    ).all()
    counts.add(((m, "", n) for m, _, n in files), "cybertip_reports", "files")
    counts.add(
        ((m, c or UNCLASSIFIED, n) for m, c, n in files),
        "cybertip_reports",
        "files_by_classification",
    )
    retracted = session.execute(
        _query(
            f"SELECT {sql.month('r.retracted_at')}, '', count(*) FROM cybertip_reports r "
            "WHERE r.retracted_at >= :start AND r.retracted_at < :end "
            "AND r.environment = 'production' GROUP BY 1"
        ),
        params,
    )
    counts.add(retracted, "cybertip_reports", "retracted")
    half = "CASE WHEN r.finished_at >= :middle THEN 'current' ELSE 'previous' END"
    seconds = sql.seconds_between("s.uploaded_at", "r.finished_at")
    counts.add_histogram(
        session.execute(
            _query(
                f"SELECT {half}, {seconds}, count(*) FROM cybertip_files f "
                "JOIN cybertip_reports r ON r.id = f.report_id "
                "JOIN submissions s ON s.id = f.submission_id "
                f"WHERE {production} AND s.uploaded_at IS NOT NULL GROUP BY 1, 2"
            ),
            params,
        ),
        "upload_to_report",
    )


def _count_evidence_and_lookups(
    session: Session, sql: _Sql, params: dict[str, Any], counts: Counts
) -> None:
    for name, column in (("preserved", "created_at"), ("purged", "purged_at")):
        rows = session.execute(
            _query(
                f"SELECT {sql.month(column)}, '', count(*) FROM evidence_packages "
                f"WHERE {column} >= :start AND {column} < :end GROUP BY 1"
            ),
            params,
        )
        counts.add(rows, "evidence", name)
    held = "created_at < :{0} AND (purged_at IS NULL OR purged_at >= :{0})"
    held_then = session.execute(
        _query(
            f"SELECT sum(CASE WHEN {held.format('end')} THEN 1 ELSE 0 END), "
            f"sum(CASE WHEN {held.format('middle')} THEN 1 ELSE 0 END) FROM evidence_packages"
        ),
        params,
    ).one()
    # Held at the period's end: a state, not a sum of months.
    counts.by_month[("evidence", "held_at_end", "")].update(
        {"current": int(held_then[0] or 0), "previous": int(held_then[1] or 0)}
    )
    lookups = session.execute(
        text(
            f"SELECT {sql.day_month('day')}, '', sum(count) FROM daily_counts "
            "WHERE name = :name AND day >= :first AND day < :last GROUP BY 1"
        ).bindparams(bindparam("first", type_=Date()), bindparam("last", type_=Date())),
        {"name": LOOKUPS, "first": params["start"].date(), "last": params["end"].date()},
    )
    counts.add(lookups, "content_scanned", "lookups")


def _count_statements(session: Session, sql: _Sql, params: dict[str, Any], counts: Counts) -> None:
    """Statements of reasons written in the period, by what each states; and sent."""
    stated = ("category", "automated_detection", "automated_decision")
    said = ", ".join(sql.field("body", name) for name in stated)
    rows = session.execute(
        _query(
            f"SELECT {sql.month('created_at')}, {said}, count(*) FROM statements "
            "WHERE created_at >= :start AND created_at < :end GROUP BY 1, 2, 3, 4"
        ),
        params,
    ).all()
    counts.add(((m, "", n) for m, _, _, _, n in rows), STATEMENTS, "written")
    counts.add(((m, c, n) for m, c, _, _, n in rows), STATEMENTS, "by_category")
    counts.add(((m, d, n) for m, _, d, _, n in rows), STATEMENTS, "by_automated_detection")
    counts.add(((m, d, n) for m, _, _, d, n in rows), STATEMENTS, "by_automated_decision")
    sent = session.execute(
        _query(
            f"SELECT {sql.month('sent_at')}, '', count(*) FROM statements "
            "WHERE sent_at >= :start AND sent_at < :end GROUP BY 1"
        ),
        params,
    )
    counts.add(sent, STATEMENTS, "sent")


def _count_complaints(session: Session, sql: _Sql, params: dict[str, Any], counts: Counts) -> None:
    """Appeals received and decided in the period, by decision, and the
    histogram of seconds from receipt to decision of those decided."""
    received = session.execute(
        _query(
            f"SELECT {sql.month('received_at')}, '', count(*) FROM appeals "
            "WHERE received_at >= :start AND received_at < :end GROUP BY 1"
        ),
        params,
    )
    counts.add(received, COMPLAINTS, "received")
    decided_in = "decided_at >= :start AND decided_at < :end AND decision IS NOT NULL"
    rows = session.execute(
        _query(
            f"SELECT {sql.month('decided_at')}, decision, count(*) FROM appeals "
            f"WHERE {decided_in} GROUP BY 1, 2"
        ),
        params,
    ).all()
    counts.add(((m, "", n) for m, _, n in rows), COMPLAINTS, "decided")
    for decision, name in COMPLAINT_DECISIONS.items():
        counts.add(((m, "", n) for m, d, n in rows if d == decision), COMPLAINTS, name)
    half = "CASE WHEN decided_at >= :middle THEN 'current' ELSE 'previous' END"
    seconds = sql.seconds_between("received_at", "decided_at")
    counts.add_histogram(
        session.execute(
            _query(
                f"SELECT {half}, {seconds}, count(*) FROM appeals WHERE {decided_in} GROUP BY 1, 2"
            ),
            params,
        ),
        TO_DECIDE,
    )


def count_all(database: Database, period: Period) -> Counts:
    """Everything ``period`` and the period before it count, by month."""
    sql = _Sql(database.dialect)
    params = {"start": period.previous().start, "middle": period.start, "end": period.end}
    counts = Counts()
    months = [*period.previous().months(), *period.months()]
    with ThreadPoolExecutor(min(len(months), os.cpu_count() or 1, MAX_THREADS)) as pool:
        parts = pool.map(partial(_count_month, database, sql), months)
        with database.reading(consistent=True) as session:
            _count_reviews(session, sql, params, counts)
            _count_reports(session, sql, params, counts)
            _count_evidence_and_lookups(session, sql, params, counts)
            _count_statements(session, sql, params, counts)
            _count_complaints(session, sql, params, counts)
        for part in parts:
            counts.merge(part)
    return counts
