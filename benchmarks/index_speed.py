"""Exact PDQ range search (distance <= 31): hashmatch against faiss and threatexchange.

    python benchmarks/index_speed.py --n 1000000
    python benchmarks/index_speed.py --n 10000000 --data clustered --engines hashmatch,faiss_flat
    python benchmarks/index_speed.py --quick

Builds an index of N 256-bit hashes, either uniformly random or clustered
(N/100 random centres with 100 neighbours each at distances 0..40, as real
banks are), then runs 1,000 single queries on one thread: half with a
planted neighbour at distance 0..31, half random.  For each engine it prints
build seconds, resident memory added per hash (hashes included), query
p50/p99 and recall against a brute-force scan.  Besides the table, one line
per engine::

    RESULT engine=<name> n=<N> data=<random|clustered> build_s=<x> bytes_per_hash=<x>
        p50_us=<x> p99_us=<x> recall=<x>      (on one line)

and, for hashmatch, how long its snapshot takes to write and to map back in
(what a restart costs instead of a rebuild)::

    RESULT snapshot n=<N> save_s=<x> load_s=<x> first_query_ms=<x>
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
from rich.console import Console
from rich.table import Table

from hashmatch.index import HammingIndex, snapshot
from hashmatch.index.hamming import hex_from_words, scan

THRESHOLD = 31
QUERIES = 1000


def rss_bytes() -> int:
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@numba.njit(cache=True)
def _flip_bits(rows: np.ndarray, distances: np.ndarray, seed: int) -> None:
    """Flip ``distances[i]`` distinct random bits of ``rows[i]``."""
    np.random.seed(seed)
    for i in range(rows.shape[0]):
        flipped = 0
        chosen = np.zeros(256, dtype=np.bool_)
        while flipped < distances[i]:
            bit = np.random.randint(0, 256)
            if not chosen[bit]:
                chosen[bit] = True
                rows[i, bit // 64] ^= np.uint64(1) << np.uint64(63 - bit % 64)
                flipped += 1


def make_data(n: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "random":
        return rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64)
    centres = rng.integers(0, 2**64, size=(max(n // 100, 1), 4), dtype=np.uint64)
    hashes = np.repeat(centres, 100, axis=0)[:n].copy()
    _flip_bits(hashes, rng.integers(0, 41, size=n), int(rng.integers(0, 2**31)))
    return hashes


def make_queries(hashes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    planted = hashes[rng.integers(0, hashes.shape[0], size=QUERIES // 2)].copy()
    _flip_bits(planted, rng.integers(0, THRESHOLD + 1, size=planted.shape[0]), 7)
    random = rng.integers(0, 2**64, size=(QUERIES - planted.shape[0], 4), dtype=np.uint64)
    return np.concatenate((planted, random))


def ground_truth(hashes: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    alive = np.ones(hashes.shape[0], np.uint8)
    return [set(scan(hashes, alive, query, THRESHOLD)[0].tolist()) for query in queries]


@dataclass
class Engine:
    """build(hashes) returns a query function: (query index) -> set of row ids."""

    name: str
    build: Callable[[np.ndarray, np.ndarray], Callable[[int], set[int]]]


def warm_up_hashmatch() -> None:
    """Compile hashmatch's kernels before anything is timed."""
    small = np.random.default_rng(0).integers(0, 2**64, size=(50_000, 4), dtype=np.uint64)
    HammingIndex(np.arange(50_000), small).search(small[0], THRESHOLD)


class HashmatchQuery:
    """Query function over a built hashmatch index (kept for the snapshot figures)."""

    def __init__(self, index: HammingIndex, queries: np.ndarray) -> None:
        self.index = index
        self.queries = queries

    def __call__(self, i: int) -> set[int]:
        return set(self.index.search(self.queries[i], THRESHOLD)[0].tolist())


def build_hashmatch(hashes: np.ndarray, queries: np.ndarray) -> Callable[[int], set[int]]:
    return HashmatchQuery(HammingIndex(np.arange(hashes.shape[0]), hashes), queries)


def measure_snapshot(index: HammingIndex, queries: np.ndarray) -> dict[str, float]:
    """Save the built hashmatch index, then map it back in and query it once."""
    with tempfile.TemporaryDirectory(prefix="index-snapshot-") as folder:
        target = Path(folder) / "pdq"
        started = time.perf_counter()
        snapshot.save(target, index, snapshot.SnapshotInfo("bench", 0, len(index)))
        save_s = time.perf_counter() - started
        started = time.perf_counter()
        loaded = snapshot.load(target)
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        loaded.search(queries[0], THRESHOLD)
        first_ms = (time.perf_counter() - started) * 1000
    return {"save_s": save_s, "load_s": load_s, "first_query_ms": first_ms}


def build_faiss(hashes: np.ndarray, queries: np.ndarray) -> Callable[[int], set[int]]:
    import faiss

    faiss.omp_set_num_threads(1)
    index = faiss.IndexBinaryFlat(256)
    index.add(np.ascontiguousarray(hashes).astype(">u8").view(np.uint8).reshape(-1, 32))
    encoded = np.ascontiguousarray(queries).astype(">u8").view(np.uint8).reshape(-1, 32)

    def query(i: int) -> set[int]:
        _, _, labels = index.range_search(encoded[i : i + 1], THRESHOLD + 1)
        return set(labels.tolist())

    return query


def build_te_pdqindex(hashes: np.ndarray, queries: np.ndarray) -> Callable[[int], set[int]]:
    import faiss
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex

    faiss.omp_set_num_threads(1)
    index = PDQIndex(list(zip(hex_from_words(hashes), range(hashes.shape[0]), strict=True)))
    texts = hex_from_words(queries)

    def query(i: int) -> set[int]:
        return {match.metadata for match in index.query(texts[i])}

    return query


ENGINES = {
    "hashmatch": Engine("hashmatch", build_hashmatch),
    "faiss_flat": Engine("faiss_flat", build_faiss),
    "te_pdqindex": Engine("te_pdqindex", build_te_pdqindex),
}


LAST_QUERY: dict[str, Callable[[int], set[int]]] = {}


def run(
    engine: Engine, hashes: np.ndarray, queries: np.ndarray, truth: list[set[int]]
) -> dict[str, float]:
    gc.collect()
    before = rss_bytes()
    started = time.perf_counter()
    query = engine.build(hashes, queries)
    LAST_QUERY[engine.name] = query
    build_s = time.perf_counter() - started
    added = rss_bytes() - before
    # hashmatch keeps its own (sorted) copy of the hashes; the others copy them too.
    latencies = np.empty(len(queries))
    hits = expected = 0
    for i in range(len(queries)):
        started = time.perf_counter()
        found = query(i)
        latencies[i] = time.perf_counter() - started
        hits += len(found & truth[i])
        expected += len(truth[i])
    return {
        "build_s": build_s,
        "bytes_per_hash": added / hashes.shape[0],
        "p50_us": float(np.percentile(latencies, 50) * 1e6),
        "p99_us": float(np.percentile(latencies, 99) * 1e6),
        "recall": hits / expected if expected else 1.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="hashes in the index")
    parser.add_argument("--data", choices=["random", "clustered"], default="random")
    parser.add_argument("--engines", default="hashmatch,faiss_flat,te_pdqindex")
    parser.add_argument("--quick", action="store_true", help="n=50000, hashmatch and faiss")
    args = parser.parse_args()
    if args.quick:
        args.n, args.engines = 50_000, "hashmatch,faiss_flat"
    names = [name.strip() for name in args.engines.split(",")]
    unknown = set(names) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engines: {', '.join(sorted(unknown))}")

    if "hashmatch" in names:
        warm_up_hashmatch()
    rng = np.random.default_rng(2026)
    hashes = make_data(args.n, args.data, rng)
    queries = make_queries(hashes, rng)
    truth = ground_truth(hashes, queries)
    results = {}
    snapshot_figures = None
    for name in names:
        results[name] = run(ENGINES[name], hashes, queries, truth)
        built = LAST_QUERY.pop(name)
        if isinstance(built, HashmatchQuery):
            snapshot_figures = measure_snapshot(built.index, queries)
        del built

    table = Table(title=f"PDQ range search <= {THRESHOLD}, n={args.n:,}, {args.data}, one thread")
    for column in (
        "engine",
        "build s",
        "bytes/hash",
        "p50 µs",
        "p99 µs",
        "recall",
        "p50 vs hashmatch",
    ):
        table.add_column(column, justify="left" if column == "engine" else "right")
    reference = results.get("hashmatch", next(iter(results.values())))["p50_us"]
    for name, r in results.items():
        table.add_row(
            name,
            f"{r['build_s']:.2f}",
            f"{r['bytes_per_hash']:.0f}",
            f"{r['p50_us']:.0f}",
            f"{r['p99_us']:.0f}",
            f"{r['recall']:.4f}",
            f"{r['p50_us'] / reference:.1f}x",
        )
    Console().print(table)
    if snapshot_figures is not None:
        print(
            f"hashmatch snapshot: written in {snapshot_figures['save_s']:.1f} s, "
            f"mapped back in {snapshot_figures['load_s']:.2f} s, "
            f"first query {snapshot_figures['first_query_ms']:.1f} ms"
        )
    for name, r in results.items():
        print(
            f"RESULT engine={name} n={args.n} data={args.data} build_s={r['build_s']:.2f} "
            f"bytes_per_hash={r['bytes_per_hash']:.0f} p50_us={r['p50_us']:.0f} "
            f"p99_us={r['p99_us']:.0f} recall={r['recall']:.4f}"
        )

    if snapshot_figures is not None:
        print(
            f"RESULT snapshot n={args.n} save_s={snapshot_figures['save_s']:.2f} "
            f"load_s={snapshot_figures['load_s']:.2f} "
            f"first_query_ms={snapshot_figures['first_query_ms']:.1f}"
        )


if __name__ == "__main__":
    main()
