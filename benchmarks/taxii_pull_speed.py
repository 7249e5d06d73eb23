"""A member's incremental pull of new signed indicators into a bank, over TAXII.

    python benchmarks/taxii_pull_speed.py                # 100,000 indicators, SQLite
    python benchmarks/taxii_pull_speed.py --n 5000       # a smoke run
    python benchmarks/taxii_pull_speed.py --database-url postgresql://...

Serves N signed PDQ Indicators from one member on the TAXII simulator
(``hashmatch.exchange.taxii_simulator``: the objects are built and signed
before the clock starts), then times one ``taxii`` exchange fetch of them
all into an empty bank: pages of 1,000, each verified against the member
directory, parsed, written with its checkpoint.  Target (issue 16): the
pull of 100,000 new indicators < 60 s.  Prints::

    RESULT indicators=<n> seconds=<s> per_s=<x> ratio_vs_target=<target s / s> load=<1-min load>
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from hashmatch.banks import Banks
from hashmatch.exchange import Exchanges, Fetcher
from hashmatch.exchange.taxii_simulator import COLLECTION, TaxiiSimulator
from hashmatch.hub.keys import generate_signing_key, parse_private_key
from hashmatch.hub.patterns import PatternSignal
from hashmatch.hub.signing import sign
from hashmatch.hub.stix import build_indicator, identity_id
from hashmatch.media.download import UrlPolicy
from hashmatch.store import Database

TARGET_SECONDS = 60.0
CREDENTIALS = "bench:taxii-bench-password"
ENV = "HASHMATCH_BENCH_TAXII"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        database = Database.open(url)
        pem, public = generate_signing_key()
        key, publisher = parse_private_key(pem), identity_id("bench-member")
        directory = Path(folder) / "members.json"
        directory.write_text(
            json.dumps(
                {"members": [{"id": 1, "identity": publisher, "keys": [{"public_key": public}]}]}
            )
        )
        created = datetime.now(UTC)
        os.environ[ENV] = CREDENTIALS
        with TaxiiSimulator(CREDENTIALS) as taxii:
            for n in range(args.n):
                value = f"{n:016x}" * 4
                taxii.add(
                    sign(
                        build_indicator(
                            PatternSignal("pdq", value), publisher=publisher, created=created
                        ),
                        key,
                    )
                )
            Banks(database).create("hub")
            Exchanges(database).create(
                "hub",
                "taxii",
                bank="hub",
                options={
                    "url": taxii.api_root,
                    "collection": COLLECTION,
                    "directory_url": str(directory),
                    "verify_signatures": "required",
                    "max_seconds": "3600",
                },
                credentials_env=ENV,
            )
            fetcher = Fetcher(database, UrlPolicy(allow_private=True))
            started = time.perf_counter()
            result = fetcher.fetch("hub")
            seconds = time.perf_counter() - started
        database.close()
    if not result.succeeded or result.counts["added"] != args.n:
        raise SystemExit(f"the pull did not add every indicator: {result.to_json()}")
    print(
        f"RESULT indicators={args.n} seconds={seconds:.1f} per_s={args.n / seconds:.0f} "
        f"ratio_vs_target={TARGET_SECONDS * args.n / 100_000 / seconds:.2f} "
        f"load={os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
