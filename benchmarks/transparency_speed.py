"""Transparency report for a year of submissions, SQLite and PostgreSQL.

    python benchmarks/transparency_speed.py                        # 10M submissions, both engines
    python benchmarks/transparency_speed.py --submissions 20000 --engines sqlite

For each engine: a fresh database filled in SQL (a recursive CTE on SQLite,
``generate_series`` on PostgreSQL) with ``--submissions`` submissions spread
evenly over 2026, uploaded 0-599 s before they were submitted; one in a
hundred matched (a PDQ match in bank ``known``, a block action) and reviewed
(confirmed, classification A1..B2 in turn, 5-25 minutes after the upload),
one in a thousand reported to CyberTipline's production environment (a day
later) with its evidence package; lookups counted for every day.  Then
``transparency()`` for the year 2026 (and 2025 beside it), timed ``--runs``
times.

Target (issue 14): < 10 s for a year of 10M submissions.  Besides the table::

    RESULT engine=<e> submissions=<n> fill_s=<x> report_s=<best> under_10s=<yes|no>

PostgreSQL: ``HASHMATCH_BENCH_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``), in a schema of its own.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from worker_stall import database_url

from hashmatch.reporting.transparency import transparency
from hashmatch.reporting.transparency.periods import parse_period
from hashmatch.store import Database

TARGET_SECONDS = 10.0
YEAR_SECONDS = 365 * 86400
#: json.dumps puts a space after each colon: text() would read ":1" as a parameter.
MATCH = json.dumps(
    [
        {
            "bank": "known",
            "content_id": 1,
            "signal_type": "pdq",
            "distance": 3,
            "labels": ["csam"],
            "content_labels": [],
            "suppressed": False,
        }
    ]
)
BLOCK = json.dumps([{"rule": "known", "action": "block", "status": "applied"}])

#: Per engine: the numbers 0..n-1 as a table ``n(i)``, a moment ``i * step``
#: seconds into 2026, an offset of it, and a JSON literal.
SQLITE = {
    "numbers": "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last})",
    "moment": "strftime('%Y-%m-%d %H:%M:%S', '2026-01-01', '+' || ({seconds}) || ' seconds') || '.000000'",  # noqa: E501
    "later": "strftime('%Y-%m-%d %H:%M:%S', {moment}, ({seconds}) || ' seconds') || '.000000'",
    "json": "'{}'",
    "day": "date('2026-01-01', '+' || i || ' days')",
}
POSTGRES = {
    "numbers": "WITH n(i) AS (SELECT generate_series(0, {last}))",
    "moment": "timestamptz '2026-01-01 00:00:00+00' + ({seconds}) * interval '1 second'",
    "later": "{moment} + ({seconds}) * interval '1 second'",
    "json": "'{}'::json",
    "day": "date '2026-01-01' + i",
}


def fill(database: Database, count: int) -> None:
    sql = POSTGRES if database.dialect == "postgresql" else SQLITE
    step = YEAR_SECONDS / count

    def literal_of(literal: str) -> str:
        return sql["json"].replace("{}", literal, 1)

    created = sql["moment"].format(seconds=f"CAST(i * {step} AS INTEGER)")
    uploaded = sql["later"].format(moment=created, seconds="-(i % 600)")
    matched = "i % 100 = 0"
    empty = literal_of("[]")
    statements = [
        sql["numbers"].format(last=count - 1)
        + " INSERT INTO submissions (content_ref, uploaded_at, metadata, content_type, signals,"
        " matches, verdict, actions, actor, created_at)"
        f" SELECT 'upload-' || i, {uploaded}, {literal_of('{}')},"
        " CASE i % 3 WHEN 0 THEN 'photo' WHEN 1 THEN 'video' ELSE 'file' END, "
        f"{literal_of('{}')}, CASE WHEN {matched} THEN {literal_of(MATCH)} ELSE {empty} END,"
        f" CASE WHEN {matched} THEN 'block' ELSE 'allow' END,"
        f" CASE WHEN {matched} THEN {literal_of(BLOCK)} ELSE {empty} END, 'bench', {created}"
        " FROM n",
    ]
    submissions = "SELECT id, uploaded_at, created_at FROM submissions WHERE id % 100 = 1"
    closed = sql["later"].format(moment="s.uploaded_at", seconds="300 + (s.id % 1200)")
    statements.append(
        "INSERT INTO review_items (submission_id, queue, priority, status, rule, created_at,"
        " closed_at, reason, follow_ups, annotations, note, decision, classification, decided_by)"
        f" SELECT s.id, 'default', 0, 'closed', 'known', s.created_at, {closed}, '',"
        f" {literal_of('{}')}, {literal_of('[]')}, '', 'confirm',"
        " CASE s.id % 4 WHEN 0 THEN 'A1' WHEN 1 THEN 'A2' WHEN 2 THEN 'B1' ELSE 'B2' END,"
        f" 'user:bench' FROM ({submissions}) AS s"
    )
    reported = "SELECT id, uploaded_at, created_at FROM submissions WHERE id % 1000 = 1"
    finished = sql["later"].format(moment="s.created_at", seconds="86400")
    statements += [
        "INSERT INTO cybertip_reports (id, status, environment, details, created_by, created_at,"
        " updated_at, finished_at, attempts)"
        f" SELECT s.id, 'finished', 'production', {literal_of('{}')}, 'bench', s.created_at,"
        f" {finished}, {finished}, 1 FROM ({reported}) AS s",
        "INSERT INTO cybertip_files (report_id, item_key, submission_id, filename, size, md5,"
        " sha256, classification, annotations, viewed_by_esp, status)"
        " SELECT s.id, 'submission:' || s.id, s.id, 'upload.jpg', 1000, 'x', 'y', 'A1',"
        f" {literal_of('[]')}, false, 'described' FROM ({reported}) AS s",
        "INSERT INTO evidence_packages (report_id, store, status, created_at, retain_until,"
        f" manifest) SELECT s.id, 'bench', 'kept', {finished}, {finished}, {literal_of('[]')}"
        f" FROM ({reported}) AS s",
        sql["numbers"].format(last=364)
        + f" INSERT INTO daily_counts (day, name, count) SELECT {sql['day']}, 'lookups', 1000 + i"
        " FROM n",
    ]
    with database.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    database.refresh_statistics()
    if database.dialect == "postgresql":
        with database.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")


def bench(engine: str, count: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder, database_url(engine, Path(folder)) as url:
        database = Database.open(url)
        try:
            started = time.perf_counter()
            fill(database, count)
            fill_seconds = time.perf_counter() - started
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                report = transparency(database, parse_period("2026"))
                times.append(time.perf_counter() - started)
        finally:
            database.close()
    scanned = report["figures"]["content_scanned"]["submissions"]["value"]
    filed = report["figures"]["cybertip_reports"]["filed"]["value"]
    print(
        f"{engine:10} {count:>11,} submissions  fill {fill_seconds:7.1f} s  "
        f"report {min(times):6.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)})  "
        f"counted {scanned:,}, {filed:,} reports"
    )
    under = "yes" if min(times) < TARGET_SECONDS else "no"
    print(
        f"RESULT engine={engine} submissions={count} fill_s={fill_seconds:.1f} "
        f"report_s={min(times):.3f} under_10s={under}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=2, help="Times the report is made.")
    parser.add_argument("--engines", default="sqlite,postgresql")
    arguments = parser.parse_args()
    for engine in arguments.engines.split(","):
        bench(engine, arguments.submissions, arguments.runs)


if __name__ == "__main__":
    main()
