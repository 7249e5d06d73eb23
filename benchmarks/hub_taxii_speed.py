"""The hub's TAXII server holding N indicators: pages of ``added_after`` /
``next``, SQLite and PostgreSQL.

    python benchmarks/hub_taxii_speed.py                          # 100,000, both engines
    python benchmarks/hub_taxii_speed.py --n 1000000              # the issue's figure
    python benchmarks/hub_taxii_speed.py --engines sqlite --n 20000 --runs 50
    python benchmarks/hub_taxii_speed.py --database-url postgresql://...

For each engine: a fresh database with one member and the default
``hashes`` collection holding ``--n`` MD5 indicators, bulk-inserted as the
intake stores them (each a STIX 2.1 indicator of the real size, carrying a
signature property; the server does not verify on reading, so these are
not signed one by one), then on PostgreSQL ``ANALYZE`` (as autovacuum
would soon after such a load).  Then, through the HTTP app in process (routing,
auth, the query, JSON), ``--runs`` pages of each size from random
``added_after`` points, and one full sweep of the collection with ``next``
(which must return every indicator once).

Target (issue 16): p99 < 100 ms per page.  Besides the table::

    RESULT engine=<e> n=<n> limit=<k> runs=<r> p50_ms=<x> p99_ms=<x> under_100ms=<yes|no>
    SWEEP engine=<e> n=<n> limit=1000 pages=<p> seconds=<s> objects=<n>

PostgreSQL: ``HASHMATCH_BENCH_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``), in a schema of its own, or
``--database-url`` (an empty database, used as it is).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text, update
from starlette.testclient import TestClient
from worker_stall import add_database_arguments, chosen_engines, given_or_fresh, print_latencies

from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.hub.collections import Collections, default_collection_id
from hashmatch.hub.object_intake import member_identity
from hashmatch.hub.taxii_objects import micros, taxii_timestamp
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.hub_models import HubApplication, HubMember
from hashmatch.store.hub_object_models import HubCollection, HubObject

TARGET_MS = 100.0
TAXII = "application/taxii+json;version=2.1"
COLLECTION = default_collection_id("hashes")
BATCH = 5000
STAMP = "2026-11-27T09:00:00.000Z"
#: A detached JWS of the real length (the server serves it; it does not check it).
SIGNATURE = "eyJhbGciOiJFZERTQSIsImtpZCI6I" + "A" * 160 + ".." + "B" * 86


def indicator(number: int, publisher: str) -> dict[str, Any]:
    value = hashlib.md5(str(number).encode()).hexdigest()
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_OID, value)}",
        "created_by_ref": publisher,
        "created": STAMP,
        "modified": STAMP,
        "name": "hashmatch md5 signal",
        "pattern": f"[file:hashes.MD5 = '{value}']",
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": "2026-11-27T09:00:00Z",
        "labels": ["category:csam", "classification:A1"],
        "x_hashmatch_signature": SIGNATURE,
    }


def member(database: Database) -> int:
    now = datetime.now(UTC)
    with database.transaction() as session:
        application = HubApplication(
            organisation="Bench Photos",
            website="https://bench.example.org",
            product="Benchmarks.",
            contact_name="Bench",
            contact_email="bench@example.org",
            attestations={},
            state="approved",
            token_hash="0" * 64,
            submitted_at=now,
        )
        session.add(application)
        session.flush()
        made = HubMember(
            application_id=application.id,
            name="Bench Photos",
            website="https://bench.example.org",
            approved_by="bench",
            approved_at=now,
            reattest_due=now,
            api_key_name="hub-bench",
            dues_paid=True,
        )
        session.add(made)
        session.flush()
        return made.id


def fill(database: Database, n: int) -> list[int]:
    """n indicators in the hashes collection; their date_added values."""
    started = time.perf_counter()
    Collections(database).ensure_defaults()
    member_id = member(database)
    publisher = member_identity(member_id)
    first = micros(datetime.now(UTC))
    added = [first + number * 7 for number in range(n)]  # 7 µs apart, strictly increasing
    for start in range(0, n, BATCH):
        rows = [
            {
                "collection_id": COLLECTION,
                "stix_id": (obj := indicator(number, publisher))["id"],
                "type": "indicator",
                "modified": STAMP,
                "modified_us": micros(datetime(2026, 11, 27, 9, tzinfo=UTC)),
                "date_added": added[number],
                "publisher_id": member_id,
                "object": obj,
                "revoked": False,
                "is_latest": True,
            }
            for number in range(start, min(start + BATCH, n))
        ]
        with database.transaction() as session:
            session.execute(insert(HubObject), rows)
    with database.transaction() as session:
        session.execute(
            update(HubCollection).where(HubCollection.id == COLLECTION).values(last_added=added[-1])
        )
    if database.dialect == "postgresql":
        # What autovacuum does soon after a bulk load; before it, PostgreSQL's
        # empty-table estimates pick a bitmap scan that reads every later row.
        with database.transaction() as session:
            session.execute(text("ANALYZE hub_objects"))
    print(f"# {n:,} indicators stored in {time.perf_counter() - started:.1f} s", flush=True)
    return added


def timed_pages(http: TestClient, key: str, added: list[int], limit: int, runs: int) -> list[float]:
    headers = {"Authorization": f"Bearer {key}", "Accept": TAXII}
    chooser = random.Random(limit)
    path = f"/taxii2/hub/collections/{COLLECTION}/objects/"
    values = []
    for _ in range(runs):
        after = taxii_timestamp(added[chooser.randrange(0, max(1, len(added) - limit))])
        began = time.perf_counter()
        answer = http.get(path, headers=headers, params={"added_after": after, "limit": limit})
        values.append((time.perf_counter() - began) * 1000)
        if answer.status_code != 200 or len(answer.json()["objects"]) != limit:
            raise SystemExit(f"a page that is not {limit} objects: {answer.status_code}")
    return values


def sweep(http: TestClient, key: str) -> tuple[int, int, float]:
    """Every object once with limit=1000 and next: (pages, objects, seconds)."""
    headers = {"Authorization": f"Bearer {key}", "Accept": TAXII}
    path = f"/taxii2/hub/collections/{COLLECTION}/objects/"
    params: dict[str, Any] = {"limit": 1000}
    pages = objects = 0
    seen: set[str] = set()
    began = time.perf_counter()
    while True:
        body = http.get(path, headers=headers, params=params).json()
        pages += 1
        for obj in body.get("objects", []):
            seen.add(obj["id"])
            objects += 1
        if not body["more"]:
            break
        params["next"] = body["next"]
    if len(seen) != objects:
        raise SystemExit("the sweep repeated an object")
    return pages, objects, time.perf_counter() - began


def run_engine(engine: str, args: argparse.Namespace) -> None:
    with (
        tempfile.TemporaryDirectory() as folder,
        given_or_fresh(engine, args.database_url, Path(folder)) as url,
    ):
        database = Database.open(url)
        engine = database.dialect
        added = fill(database, args.n)
        key = ApiKeys(database).create("bench", ["admin"])[0]
        database.close()
        settings = Settings(
            data_dir=Path(folder) / "data",
            database_url=url,
            hub_enabled=True,
            deliver_in_serve=False,
        )
        with TestClient(create_app(settings)) as http:
            logging.getLogger("hashmatch.access").setLevel(logging.WARNING)  # a line per request
            timed_pages(http, key, added, 100, 5)  # warm the caches
            results = {
                limit: timed_pages(http, key, added, limit, args.runs) for limit in (100, 1000)
            }
            pages, objects, seconds = sweep(http, key)
    print(f"\n{engine}: {args.n:,} indicators, pages from random added_after points")
    print_latencies(
        results,
        column="limit",
        width=">6",
        high=99,
        target_ms=TARGET_MS,
        result=f"engine={engine} n={args.n}",
    )
    print(
        f"SWEEP engine={engine} n={args.n} limit=1000 pages={pages} seconds={seconds:.1f} "
        f"objects={objects}",
        flush=True,
    )
    if objects != args.n:
        raise SystemExit(f"the sweep returned {objects} objects, not {args.n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="Indicators the hub holds.")
    parser.add_argument("--runs", type=int, default=200, help="Timed pages of each size.")
    add_database_arguments(parser)
    args = parser.parse_args()
    for engine in chosen_engines(args):
        run_engine(engine, args)


if __name__ == "__main__":
    main()
