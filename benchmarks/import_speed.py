"""Importing a large PDQ hash list into a bank (SQLite by default).

    python benchmarks/import_speed.py --n 1000000
    python benchmarks/import_speed.py --n 100000 --database-url postgresql://...

Writes N random PDQ hashes as a plain list, then times ``hashmatch bank
import`` (parse, validate, one all-or-nothing transaction) and a second,
idempotent import of the same file.  Ends with::

    RESULT import n=<N> engine=<sqlite|postgresql> seconds=<x> hashes_per_s=<x> reimport_seconds=<x>
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from hashmatch.banks import Banks
from hashmatch.hashlists import read_file
from hashmatch.store import Database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="import-speed-") as folder:
        hashes = np.random.default_rng(1).integers(0, 256, size=(args.n, 32), dtype=np.uint8)
        path = Path(folder) / "list.txt"
        path.write_text("\n".join(row.tobytes().hex() for row in hashes) + "\n")
        database = Database.open(args.database_url or f"sqlite:///{folder}/bench.db")
        banks = Banks(database)
        name = f"bench-{int(time.time())}"
        banks.create(name)
        started = time.perf_counter()
        result = banks.import_entries(name, read_file(path))
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = banks.import_entries(name, read_file(path))
        reimport = time.perf_counter() - started
        banks.delete(name)
        database.close()
    if result.added != args.n or again.added != 0:
        raise SystemExit(f"added {result.added} then {again.added}: expected {args.n} then 0")
    print(
        f"imported {args.n:,} PDQ hashes in {seconds:.1f} s; "
        f"re-import (all skipped) {reimport:.1f} s"
    )
    print(
        f"RESULT import n={args.n} engine={database.dialect} seconds={seconds:.2f} "
        f"hashes_per_s={args.n / seconds:.0f} reimport_seconds={reimport:.2f}"
    )


if __name__ == "__main__":
    main()
