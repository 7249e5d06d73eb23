"""The history page of a platform user with 10,000 records, SQLite and PostgreSQL.

    python benchmarks/user_history_speed.py                     # both engines
    python benchmarks/user_history_speed.py --records 2000 --runs 10 --engines sqlite
    python benchmarks/user_history_speed.py --database-url postgresql://...

For each engine: a fresh database, ``--others`` submissions by other users
(the table a busy platform has), and one user whose history holds
``--records`` entries, bulk-inserted as the workflow writes them: of every
ten, four submissions (half of them with a match), two matches, two review
decisions, one statement of reasons, and an appeal or a CyberTipline report
in turn, spread over the last year.  Then, as ``GET
/v1/platform-users/{ref}/history`` calls the library, ``--runs`` times each:
the first page (50 entries, with the whole history's counts) and a deep page
(50 entries from a cursor nine tenths of the way down).

Target (issue 17): < 200 ms.  Besides the table::

    RESULT engine=<e> records=<n> page=<first|deep> runs=<n> p50_ms=<x> p95_ms=<x>
        under_200ms=<yes|no>

(each RESULT is printed on one line).

PostgreSQL: ``HASHMATCH_BENCH_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``), in a schema of its own, or
``--database-url`` (an empty database, used as it is).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, insert, text
from worker_stall import add_database_arguments, chosen_engines, given_or_fresh, print_latencies

from hashmatch.platform_users import user_history
from hashmatch.store import Database
from hashmatch.store.models import utcnow
from hashmatch.store.reporting_models import CybertipReport
from hashmatch.store.review_models import Appeal, ReviewDecision
from hashmatch.store.statement_models import Statement
from hashmatch.store.workflow import ReviewItem, Submission

TARGET_MS = 200.0
USER = "bench-user"
PAGE = 50
#: Rows per INSERT statement while filling.
BATCH = 2000
TABLES = {
    model.__tablename__: cast(Table, model.__table__)
    for model in (Submission, ReviewItem, ReviewDecision, Appeal, Statement, CybertipReport)
}
MATCH = {
    "bank": "known",
    "content_id": 1,
    "signal_type": "pdq",
    "distance": 4,
    "transform": None,
    "labels": ["A1"],
    "content_labels": [],
    "external_id": None,
    "source": None,
    "source_metadata": {},
    "suppressed": False,
}


def submission(number: int, user: str, at: datetime, matched: bool) -> dict[str, Any]:
    return {
        "id": number,
        "content_ref": f"upload-{number}",
        "user_ref": user,
        "metadata": {},
        "content_type": "photo",
        "signals": {"pdq": [f"{number:064x}"]},
        "matches": [MATCH] if matched else [],
        "verdict": "review" if matched else "allow",
        "actions": [],
        "actor": "key:platform",
        "created_at": at,
    }


def user_rows(records: int, first_id: int, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """The user's rows, table by table: ``records`` history entries."""
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    groups = records // 10
    for group in range(groups):
        at = now - timedelta(days=365) * (1 - group / groups)
        base = first_id + group * 4
        for offset in range(4):
            rows["submissions"].append(submission(base + offset, USER, at, offset < 2))
        for offset in range(2):
            sub = base + offset
            rows["review_items"].append(
                {
                    "id": sub,
                    "submission_id": sub,
                    "queue": "default",
                    "status": "closed",
                    "rule": "r",
                    "reason": "",
                    "follow_ups": {},
                    "annotations": [],
                    "note": "",
                    "created_at": at,
                    "decision": "confirm",
                }
            )
            rows["review_decisions"].append(
                {
                    "item_id": sub,
                    "decision": "confirm",
                    "classification": "A1",
                    "actor": "user:bench",
                    "annotations": [],
                    "note": "",
                    "details": {},
                    "created_at": at + timedelta(minutes=5),
                }
            )
        rows["statements"].append(
            {
                "decision_kind": "review",
                "decision_id": base,
                "submission_id": base,
                "puid": f"bench-{base}",
                "body": {},
                "status": "sent",
                "created_at": at + timedelta(minutes=6),
            }
        )
        if group % 2:
            rows["appeals"].append(
                {
                    "submission_id": base,
                    "review_item_id": base,
                    "content_ref": f"upload-{base}",
                    "text": "",
                    "received_at": at,
                    "created_at": at + timedelta(minutes=7),
                    "due_at": at + timedelta(days=3),
                    "status": "decided",
                    "decision": "uphold",
                    "note": "",
                    "outcome": {},
                }
            )
        else:
            rows["cybertip_reports"].append(
                {
                    "status": "finished",
                    "environment": "test",
                    "ncmec_report_id": str(100000 + group),
                    "user_ref": USER,
                    "details": {},
                    "created_by": "rule:bench",
                    "created_at": at + timedelta(minutes=8),
                }
            )
    return rows


def chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def fill(database: Database, records: int, others: int) -> None:
    now = utcnow()
    started = time.perf_counter()
    with database.transaction() as session:
        for numbers in chunks([{"n": n} for n in range(1, others + 1)]):
            session.execute(
                insert(TABLES["submissions"]),
                [
                    submission(row["n"], f"user-{row['n'] % 5000}", now, row["n"] % 3 == 0)
                    for row in numbers
                ],
            )
        for name, rows in user_rows(records, others + 1, now).items():
            for chunk in chunks(rows):
                session.execute(insert(TABLES[name]), chunk)
    if database.dialect == "postgresql":
        with database.transaction() as session:
            for table in ("submissions", "review_items"):
                session.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :last)"),
                    {"last": others + records},
                )
        with database.engine.begin() as connection:
            connection.exec_driver_sql(f"ANALYZE {', '.join(TABLES)}")
    print(
        f"# {records:,} records of one user among {others:,} other submissions, "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )


def timed(database: Database, runs: int, cursor: str | None) -> list[float]:
    values = []
    for _ in range(runs):
        began = time.perf_counter()
        page = user_history(database, USER, limit=PAGE, cursor=cursor)
        values.append((time.perf_counter() - began) * 1000)
        if len(page.entries) != PAGE:
            raise SystemExit(f"a page of {len(page.entries)} entries, not {PAGE}")
    return values


def deep_cursor(database: Database, records: int) -> str:
    """The cursor nine tenths of the way down, found by paging 500 at a time."""
    cursor, seen = None, 0
    while seen < records * 9 // 10:
        page = user_history(database, USER, limit=min(500, records * 9 // 10 - seen), cursor=cursor)
        seen += len(page.entries)
        cursor = page.next_cursor
        if cursor is None:
            raise SystemExit("the history ended early")
    return cursor


def run_engine(engine: str, args: argparse.Namespace) -> None:
    with (
        tempfile.TemporaryDirectory() as folder,
        given_or_fresh(engine, args.database_url, Path(folder)) as url,
    ):
        database = Database.open(url)
        engine = database.dialect
        fill(database, args.records, args.others)
        total = sum(user_history(database, USER, limit=1).counts.values())
        print(f"# the user's history holds {total:,} entries", flush=True)
        timed(database, 3, None)  # warm the caches
        pages = {
            "first": timed(database, args.runs, None),
            "deep": timed(database, args.runs, deep_cursor(database, total)),
        }
        database.close()
    print(f"\n{engine}: one user with {total:,} records, pages of {PAGE}")
    print_latencies(
        pages,
        column="page",
        width="<8",
        high=95,
        target_ms=TARGET_MS,
        result=f"engine={engine} records={total}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=10_000, help="The user's history entries.")
    parser.add_argument("--others", type=int, default=50_000, help="Other users' submissions.")
    parser.add_argument("--runs", type=int, default=50, help="Timed reads of each page.")
    add_database_arguments(parser)
    args = parser.parse_args()
    for engine in chosen_engines(args):
        run_engine(engine, args)


if __name__ == "__main__":
    main()
