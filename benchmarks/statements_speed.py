"""Statements of reasons (hashmatch.statements): built per second, and sent
per second to the local stand-in for the DSA Transparency Database.

    .venv/bin/python benchmarks/statements_speed.py [--count 20000] [--quick]

Prints, on one core of this machine:

* ``built``: statements built and checked against the API's fields, in
  memory (issue 17's target: at least 1,000 a second);
* ``recorded``: built, checked and written to a fresh SQLite database, 100
  decisions to a transaction (the write a decision's own transaction adds);
* ``sent``: the recorded statements sent by one sender, 100 to a call, to
  the local simulator over loopback HTTP.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

from hashmatch.settings import Settings
from hashmatch.statements import build, fields
from hashmatch.statements.sender import StatementSender
from hashmatch.statements.simulator import TransparencyDatabaseSimulator
from hashmatch.store import Database

TARGET_PER_SECOND = 1000
TOKEN = "benchmark-token"


def restriction(number: int) -> build.Restriction:
    return build.Restriction(
        "verdict",
        number,
        ("photo", "video", "file")[number % 3],
        date(2026, 5, 1),
        date(2026, 5, 2),
        fields.FULLY if number % 2 else fields.PARTIALLY,
        "Upload blocked: 1 match(es) by pdq against lists of known material.",
    )


def built_per_second(count: int) -> float:
    platform = build.PlatformFacts("bench", tuple(fields.EU_MEMBER_STATES), "EN")
    started = time.perf_counter()
    for number in range(count):
        fields.check_statement(build.build(platform, restriction(number)))
    return count / (time.perf_counter() - started)


def recorded_per_second(database: Database, settings: Settings, count: int) -> float:
    started = time.perf_counter()
    for start in range(0, count, 100):
        with database.transaction() as session:
            for number in range(start, min(start + 100, count)):
                build.record(session, settings, restriction(number), submission_id=number)
    return count / (time.perf_counter() - started)


def sent_per_second(database: Database, count: int) -> float:
    with TransparencyDatabaseSimulator(token=TOKEN) as api:
        sender = StatementSender.from_settings(
            database, Settings(dsa_api_url=api.url, dsa_api_token=TOKEN)
        )
        started = time.perf_counter()
        sent = 0
        while counts := sender.run_once():
            sent += counts["sent"]
        elapsed = time.perf_counter() - started
    if sent != count:
        raise SystemExit(f"sent {sent} of {count}")
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000, help="Statements to build.")
    parser.add_argument("--quick", action="store_true", help="2,000 statements, for tests.")
    args = parser.parse_args()
    count = 2_000 if args.quick else args.count
    built = built_per_second(count)
    print(
        f"RESULT stage=built statements={count} per_s={built:.0f} target_per_s={TARGET_PER_SECOND}"
    )
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        database = Database.open(url)
        try:
            settings = Settings(database_url=url, dsa_statements_enabled=True)
            recorded = recorded_per_second(database, settings, count)
            print(f"RESULT stage=recorded statements={count} per_s={recorded:.0f}")
            sent = sent_per_second(database, count)
            print(f"RESULT stage=sent statements={count} per_s={sent:.0f}")
        finally:
            database.close()


if __name__ == "__main__":
    main()
