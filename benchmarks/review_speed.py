"""Review queue latency with many open items: claim_next and decide, SQLite and PostgreSQL.

    python benchmarks/review_speed.py                       # 100k open items, both engines
    python benchmarks/review_speed.py --items 2000 --ops 20 --engines sqlite

For each engine: a fresh database with a bank ``known`` of 1,000 random PDQ
hashes, a webhook, and ``--history`` + ``--items`` submissions each with a
review item (bulk inserts of what a submission by hash writes: its signals, a
match in ``known``, the rule's actions; one item in ten with a higher
priority, one in five in a second queue), spread over the last 30 days: the
first ``--history`` confirmed by the reviewer below (one in ten skipped
first), the other ``--items`` open.  Then that reviewer,
as the API's routes call the core, ``--ops`` times: ``claim_next`` on the
queue ``default`` (the pick, the claim and the item read back), then
``decide`` with a confirmation (opinions, a report request, the event and
its delivery, the audit entry, the item read back).  Each call is timed on
its own, and so is the time its SQL statements took (``sql``: from sending
each to its result, commits left out); the rest is Python's.

Target (issue 13): p99 < 50 ms for both calls with 100k open items.  Besides the table::

    RESULT engine=<e> items=<n> op=<claim_next|decide> ops=<n> p50_ms=<x> p95_ms=<x>
        p99_ms=<x> sql_p50_ms=<x> under_50ms=<yes|no>

(each RESULT is printed on one line).

PostgreSQL: ``HASHMATCH_BENCH_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``), in a schema of its own.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, Table, event, insert, select, text
from worker_stall import database_url, percentile, random_hashes

from hashmatch.banks import Banks
from hashmatch.hashlists import Entry
from hashmatch.review import Review, Reviewer, Verdict
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.models import Content, utcnow
from hashmatch.store.review_models import ReviewDecision
from hashmatch.store.workflow import ReviewItem, Submission, Webhook

TARGET_MS = 50.0
BANK_SIZE = 1000
#: Rows per INSERT statement while filling.
BATCH = 5000
RULE = "review-any-match"
SUBMISSIONS = cast(Table, Submission.__table__)
REVIEW_ITEMS = cast(Table, ReviewItem.__table__)
REVIEW_DECISIONS = cast(Table, ReviewDecision.__table__)
#: The one reviewer at work, with ``--history`` decisions behind them.
REVIEWER = Reviewer("user:bench", role="reviewer")


def submission_row(number: int, signal: str, content_id: int, at: datetime) -> dict[str, Any]:
    """What a submission by hash that matched ``known`` stores."""
    match = {
        "bank": "known",
        "content_id": content_id,
        "signal_type": "pdq",
        "distance": number % 17,
        "transform": None,
        "labels": ["A1"],
        "content_labels": [],
        "external_id": f"x-{content_id}",
        "source": None,
        "source_metadata": {},
        "suppressed": False,
    }
    return {
        "id": number,
        "content_ref": f"upload-{number}",
        "user_ref": f"user-{number % 5000}",
        "content_url": f"https://cdn.example.net/u/{number}.jpg",
        "metadata": {"app": "bench", "surface": "feed" if number % 2 else "chat"},
        "content_type": "photo",
        "signals": {"pdq": [signal]},
        "matches": [match],
        "verdict": "review",
        "actions": [{"rule": RULE, "action": "review", "queue": "default", "status": "queued"}],
        "actor": "key:platform",
        "created_at": at,
    }


def item_row(number: int, at: datetime, decided: bool) -> dict[str, Any]:
    """An open item, or one ``REVIEWER`` confirmed an hour after it was queued."""
    return {
        "id": number,
        "submission_id": number,
        "queue": "trust-safety" if number % 5 == 0 else "default",
        "priority": -1 if number % 10 == 0 else 0,
        "status": "closed" if decided else "open",
        "rule": RULE,
        "reason": "",
        "follow_ups": {"confirm": [{"action": "report"}, {"action": "webhook", "webhook": "hook"}]},
        "annotations": [],
        "note": "",
        "created_at": at,
        "due_at": at + timedelta(days=1),
        "closed_at": at + timedelta(hours=1) if decided else None,
        "decision": "confirm" if decided else None,
        "classification": "A1" if decided else None,
        "decided_by": REVIEWER.name if decided else None,
    }


def history_rows(number: int, at: datetime) -> list[dict[str, Any]]:
    """A decided item's history: its confirmation, after a skip one time in ten."""
    said = {"actor": REVIEWER.name, "annotations": [], "note": "", "details": {}}
    rows = [{"item_id": number, "decision": "confirm", "classification": "A1", **said}]
    if number % 10 == 0:
        rows.insert(0, {"item_id": number, "decision": "skip", "classification": None, **said})
    for minutes, row in enumerate(rows, start=59):
        row["created_at"] = at + timedelta(minutes=minutes)
    return rows


def batches(count: int) -> Iterator[range]:
    for start in range(1, count + 1, BATCH):
        yield range(start, min(start + BATCH, count + 1))


def fill(database: Database, items: int, history: int) -> None:
    """The bank, a webhook, and ``history + items`` submissions with an item
    each: the first ``history`` decided, the rest open."""
    banks = Banks(database)
    banks.create("known", labels=["A1"])
    banks.import_entries("known", [Entry({"pdq": value}) for value in random_hashes(1, BANK_SIZE)])
    with database.reading() as session:
        content_ids = list(session.scalars(select(Content.id).order_by(Content.id)))
    with database.transaction() as session:
        session.add(Webhook(name="hook", url="https://hooks.example.net/review", secret="s"))
    total = history + items
    signals = random_hashes(2, total)
    now = utcnow()
    started = time.perf_counter()
    for numbers in batches(total):
        # Oldest first: ids grow with age, as they do in a running system.
        moments = {n: now - timedelta(days=30) * (1 - n / total) for n in numbers}
        with database.transaction() as session:
            session.execute(
                insert(SUBMISSIONS),
                [
                    submission_row(n, signals[n - 1], content_ids[n % len(content_ids)], moments[n])
                    for n in numbers
                ],
            )
            session.execute(
                insert(REVIEW_ITEMS), [item_row(n, moments[n], n <= history) for n in numbers]
            )
            decided = [row for n in numbers if n <= history for row in history_rows(n, moments[n])]
            if decided:
                session.execute(insert(REVIEW_DECISIONS), decided)
    if database.dialect == "postgresql":
        with database.transaction() as session:
            for table in ("submissions", "review_items"):
                session.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :last)"),
                    {"last": total},
                )
        with database.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE submissions, review_items, review_decisions")
    print(
        f"# {items:,} open review items after {history:,} decided "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )


class StatementClock:
    """The time the database spent on statements, from sending each to its
    result (commits left out), to tell it from the time spent in Python."""

    def __init__(self, engine: Engine) -> None:
        self.total_ms = 0.0
        self._began = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *_: Any) -> None:
        self._began = time.perf_counter()

    def _after(self, *_: Any) -> None:
        self.total_ms += (time.perf_counter() - self._began) * 1000


#: Per operation, each call's (milliseconds, milliseconds in statements).
Timings = dict[str, list[tuple[float, float]]]


def measure(review: Review, clock: StatementClock, ops: int) -> Timings:
    """Claim then confirm, ``ops`` times, each call timed."""
    verdict = Verdict("confirm", classification="A1", annotations=("viral",))
    timings: Timings = {"claim_next": [], "decide": []}

    def timed(op: str, call: Callable[[], Any]) -> Any:
        began, before = time.perf_counter(), clock.total_ms
        result = call()
        timings[op].append(((time.perf_counter() - began) * 1000, clock.total_ms - before))
        return result

    for _ in range(ops):
        item = timed("claim_next", partial(review.items.claim_next, REVIEWER, "default"))
        if item is None:
            raise SystemExit("the queue ran dry: use more --items than --ops")
        timed("decide", partial(review.decisions.decide, item["id"], REVIEWER, verdict))
    return timings


def run_engine(engine: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder, database_url(engine, Path(folder)) as url:
        database = Database.open(url)
        fill(database, args.items, args.history)
        settings = Settings(data_dir=Path(folder) / "data", database_url=url)
        review = Review(database, settings, Banks(database))
        clock = StatementClock(database.engine)
        measure(review, clock, args.warmup)
        timings = measure(review, clock, args.ops)
        database.close()
    print(f"\n{engine}: {args.items:,} open items, {args.ops} operations each")
    print(
        f"{'operation':<12} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'sql p50':>8}"
        f"  < {TARGET_MS:.0f} ms"
    )
    for op, pairs in timings.items():
        values = [total for total, _ in pairs]
        p50, p95, p99 = (percentile(values, share) for share in (50, 95, 99))
        sql = percentile([statements for _, statements in pairs], 50)
        under = "yes" if p99 < TARGET_MS else "no"
        print(f"{op:<12} {p50:>8.2f} {p95:>8.2f} {p99:>8.2f} {sql:>8.2f}  {under}")
        print(
            f"RESULT engine={engine} items={args.items} op={op} ops={len(values)} "
            f"p50_ms={p50:.2f} p95_ms={p95:.2f} p99_ms={p99:.2f} sql_p50_ms={sql:.2f} "
            f"under_50ms={under}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000, help="Open review items.")
    parser.add_argument(
        "--history", type=int, default=50_000, help="Items the reviewer decided before."
    )
    parser.add_argument("--ops", type=int, default=500, help="Timed claims and decisions.")
    parser.add_argument("--warmup", type=int, default=20, help="Untimed rounds first.")
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    for engine in args.engines.split(","):
        run_engine(engine.strip(), args)


if __name__ == "__main__":
    main()
