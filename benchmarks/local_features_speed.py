"""Second stage (ORB local features): query time and bytes per bank image.

    python benchmarks/local_features_speed.py --sizes 1000,10000,100000
    python benchmarks/local_features_speed.py --quick

Runs on one core (numba, OpenCV and faiss limited to one thread).

**Data.**  The 61 photos in ``tests/data/photos`` are split by name:
the *query* photos (every third) are added to the bank for real and queried
through five edits (off-centre 85% crop, caption band, 5 degree rotation
with crop, JPEG q30, 60% inside a drawn screenshot frame).  Of the other
photos, every fourth is held out as an *unrelated* upload (queried as an
85% crop; it matches nothing, so both orientations are searched); the rest
and four edited versions of each (crops and rescales) form a *pool* of real
bank descriptors.

**Synthetic bank images.**  Real banks of 100k benign photos are not at hand,
so the rest of the bank is synthetic: each synthetic image gets 200
descriptors, each one a pool descriptor with a share ``--mix`` of its bits
(chosen at random) taken from another pool descriptor of a different photo.
Every bit still comes from a real ORB descriptor, so per-bit biases and
most bit correlations are real; the mix keeps copies from being exact
duplicates of the pool.  What the search cost depends on is how many
unrelated descriptors lie within the radius of a query descriptor: the
benchmark prints that rate for real unrelated photos and for the synthetic
set side by side (``near_rate``), so the stand-in can be judged.

**Output.**  Per bank size: build seconds, stored bytes per bank image,
bytes per bank image held in memory (index tables, hashes, ids and the
features kept for verification), query p50/p95 ms (wall clock, and CPU time: on a shared machine the
wall clock also counts waiting for a core) through
:meth:`LocalFeatureMatcher.query` with its stages timed inside it (feature
extraction, descriptor vote, verification; summed over the orientations
searched), the share of queries that needed the mirrored search, recall of
the edited copies and false matches, the same for the unrelated uploads
(``miss_*``); then the same descriptor sets searched exactly (every chunk
probed to the radius) by our batch search and by faiss
(``IndexBinaryMultiHash`` exact at the radius, the same with each table
probed at its exact key only as our vote does, and ``IndexBinaryFlat`` up
to 10k images), in the same process.  Two lines per size::

    RESULT images=<n> bytes_per_image=<x> memory_bytes_per_image=<x>
        p50_ms=<x> p95_ms=<x> search_p50_ms=<x> ... miss_p50_ms=<x> ...
    SEARCH images=<n> queries=<q> exact_search_p50_ms=<x> ... faiss_mih_p50_ms=<x> ...
"""

from __future__ import annotations

import argparse
import copy
import io
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageOps

from hashmatch.features import matcher as matcher_module
from hashmatch.features.extract import Features, extract_features, turned_features
from hashmatch.features.search import SEARCH_RADIUS, DescriptorIndex
from hashmatch.features.storage import (
    STORED_KEYPOINTS,
    decode_features,
    encode_features,
)
from hashmatch.features.verify import inlier_count, similarity_fit
from hashmatch.index.hamming import words_from_bytes

T = TypeVar("T")
PHOTOS = Path(__file__).resolve().parents[1] / "tests" / "data" / "photos"
cv2.setNumThreads(1)


def off_centre(image: Image.Image) -> Image.Image:
    w, h = image.size
    return image.crop((int(w * 0.15), int(h * 0.02), int(w * 0.15) + int(w * 0.85), int(h * 0.87)))


def caption(image: Image.Image) -> Image.Image:
    image = image.copy()
    w, h = image.size
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, int(h * 0.88), w, h), fill=(255, 255, 255))
    draw.text((10, int(h * 0.9)), "caption text over a band", fill=(0, 0, 0))
    return image


def rotate5(image: Image.Image) -> Image.Image:
    w, h = image.size
    turned = image.rotate(5, resample=Image.Resampling.BICUBIC)
    return turned.crop((int(w * 0.08), int(h * 0.08), int(w * 0.92), int(h * 0.92)))


def jpeg30(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=30)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def screenshot(image: Image.Image) -> Image.Image:
    w, h = image.size
    frame = Image.new("RGB", (int(w / 0.6), int(h / 0.6)), (240, 240, 240))
    draw = ImageDraw.Draw(frame)
    draw.rectangle((0, 0, frame.width, 40), fill=(40, 60, 120))
    for row in range(12):
        draw.text((8, 60 + row * 22), f"user{row}: a reply", fill=(30, 30, 30))
    frame.paste(image, ((frame.width - w) // 2, (frame.height - h) // 2 + 10))
    return frame


EDITS = {
    "off_centre": off_centre,
    "caption": caption,
    "rotate5": rotate5,
    "jpeg30": jpeg30,
    "screenshot": screenshot,
}


def pool_variants(image: Image.Image) -> list[Image.Image]:
    w, h = image.size
    return [
        image,
        image.crop((0, 0, int(w * 0.8), int(h * 0.8))),
        image.crop((int(w * 0.2), int(h * 0.2), w, h)),
        image.resize((int(w * 0.7), int(h * 0.7))),
        ImageOps.mirror(image),
    ]


def synthetic(
    pool: np.ndarray, sources: np.ndarray, count: int, mix: float, seed: int
) -> np.ndarray:
    """(count, 32) descriptors: pool rows with a share ``mix`` of bits from another photo's."""
    rng = np.random.default_rng(seed)
    out = np.empty((count, 32), np.uint8)
    for start in range(0, count, 1 << 20):
        n = min(1 << 20, count - start)
        first = rng.integers(0, pool.shape[0], n)
        second = rng.integers(0, pool.shape[0], n)
        same = sources[first] == sources[second]
        second[same] = (second[same] + pool.shape[0] // 2) % pool.shape[0]
        mask = np.packbits(rng.random((n, 256)) < mix, axis=1)
        out[start : start + n] = (pool[first] & ~mask) | (pool[second] & mask)
    return out


def near_rate(queries: np.ndarray, bank: np.ndarray, radius: int) -> float:
    """Share of (query, bank) descriptor pairs within ``radius`` bits."""
    q = np.unpackbits(queries, axis=1).astype(np.int16)
    b = np.unpackbits(bank, axis=1).astype(np.int16)
    distances = q.sum(1)[:, None] + b.sum(1)[None, :] - 2 * (q @ b.T)
    return float((distances <= radius).mean())


def fake_features(descriptors: np.ndarray, rng: np.random.Generator) -> Features:
    n = descriptors.shape[0]
    return Features(
        480,
        360,
        (rng.random((n, 2)) * (480, 360)).astype(np.float32),
        rng.integers(0, 8, n).astype(np.uint8),
        (rng.random(n) * 360).astype(np.float32),
        descriptors,
    )


def percentiles(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--radius", type=int, default=SEARCH_RADIUS)
    parser.add_argument("--mix", type=float, default=0.5)
    parser.add_argument("--quick", action="store_true", help="1k images, fewer queries")
    parser.add_argument(
        "--faiss-queries",
        type=int,
        default=20,
        help="queries timed on faiss (the slow side); 0 skips the comparison",
    )
    args = parser.parse_args()
    sizes = [1000] if args.quick else [int(s) for s in args.sizes.split(",")]

    paths = sorted(PHOTOS.glob("*.jpg"))
    photos = [Image.open(p).convert("RGB") for p in paths]
    query_ids = list(range(0, len(photos), 3))[: 6 if args.quick else None]
    others = [i for i in range(len(photos)) if i % 3]
    # Every fourth other photo is held out of the pool: queried as an upload
    # that matches nothing, it shares no descriptors with the synthetic bank.
    unrelated_ids, pool_ids = others[::4], [i for i in others if i not in others[::4]]

    started = time.perf_counter()
    bank_blobs = {i: encode_features(extract_features(photos[i])) for i in query_ids}
    extract_ms = (time.perf_counter() - started) * 1000 / len(query_ids)
    pool_sets, pool_sources = [], []
    for i in pool_ids:
        for variant in pool_variants(photos[i]):
            d = decode_features(encode_features(extract_features(variant))).descriptors
            pool_sets.append(d)
            pool_sources.append(np.full(len(d), i))
    pool = np.concatenate(pool_sets)
    sources = np.concatenate(pool_sources)
    queries = [(i, name, edit(photos[i])) for i in query_ids for name, edit in EDITS.items()]
    # What most uploads are: a miss, with both orientations searched.
    unrelated = [off_centre(photos[i]) for i in unrelated_ids[: 6 if args.quick else None]]
    query_descriptors = np.concatenate(
        [extract_features(image).descriptors for _, _, image in queries[:10]]
    )
    sample = synthetic(pool, sources, 20_000, args.mix, seed=1)
    real_rate = near_rate(query_descriptors, pool[:20_000], args.radius)
    synthetic_rate = near_rate(query_descriptors, sample, args.radius)
    sizes_bytes = [len(b) for b in bank_blobs.values()]
    print(
        f"pool: {pool.shape[0]} real descriptors from {len(pool_ids)} photos; "
        f"bank blob {np.mean(sizes_bytes):.0f} bytes mean, {max(sizes_bytes)} max; "
        f"bank extraction {extract_ms:.1f} ms/image"
    )
    print(
        f"near_rate (share of unrelated descriptor pairs within {args.radius} bits): "
        f"real {real_rate:.2e}, synthetic (mix {args.mix}) {synthetic_rate:.2e}"
    )

    for size in sizes:
        run_size(size, args, bank_blobs, pool, sources, queries, unrelated)


def run_size(
    size: int,
    args: argparse.Namespace,
    bank_blobs: dict[int, bytes],
    pool: np.ndarray,
    sources: np.ndarray,
    queries: list[tuple[int, str, Image.Image]],
    unrelated: list[Image.Image],
) -> None:
    rng = np.random.default_rng(size)
    fakes = size - len(bank_blobs)
    fake_descriptors = synthetic(pool, sources, fakes * STORED_KEYPOINTS, args.mix, seed=size)
    started = time.perf_counter()
    matcher = matcher_module.LocalFeatureMatcher(search_radius=args.radius)
    real = {i: decode_features(blob) for i, blob in bank_blobs.items()}
    slots = list(range(size))
    sets = [f.descriptors for f in real.values()] + list(
        fake_descriptors.reshape(fakes, STORED_KEYPOINTS, 32)
    )
    matcher._index = DescriptorIndex.build(slots, sets)
    for slot, (content_id, features) in enumerate(real.items()):
        matcher._entries[content_id] = matcher_module._Entry(slot, features)
        matcher._content_of_slot[slot] = content_id
    for slot in range(len(real), size):
        features = fake_features(sets[slot], rng)
        matcher._entries[f"synthetic-{slot}"] = matcher_module._Entry(slot, features)
        matcher._content_of_slot[slot] = f"synthetic-{slot}"
    matcher._next_slot = size
    build_s = time.perf_counter() - started
    print(f"{size} images: bank built in {build_s:.1f} s, querying", flush=True)

    clock = StageClock(matcher)
    totals, cpu, found, false_matches = [], [], 0, 0
    for content_id, _, image in queries:
        started, cpu_started = time.perf_counter(), time.process_time()
        matched = dict(matcher.query(image))
        totals.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        clock.next_query()
        found += content_id in matched
        false_matches += sum(1 for cid in matched if cid != content_id)
    hit_stages = clock.take()
    misses = []
    for image in unrelated:
        started = time.perf_counter()
        false_matches += len(matcher.query(image))
        misses.append((time.perf_counter() - started) * 1000)
        clock.next_query()
    miss_stages = clock.take()

    p50, p95 = percentiles(totals)
    line = {
        "images": size,
        "bytes_per_image": round(np.mean([len(b) for b in bank_blobs.values()])),
        "memory_bytes_per_image": round(memory_bytes(matcher) / size),
        "build_s": round(build_s, 1),
        "p50_ms": round(p50, 1),
        "p95_ms": round(p95, 1),
        "cpu_p50_ms": round(percentiles(cpu)[0], 1),
        "cpu_p95_ms": round(percentiles(cpu)[1], 1),
        "extract_p50_ms": round(percentiles(hit_stages.extract)[0], 1),
        "search_p50_ms": round(percentiles(hit_stages.search)[0], 1),
        "search_p95_ms": round(percentiles(hit_stages.search)[1], 1),
        "verify_p50_ms": round(percentiles(hit_stages.verify)[0], 1),
        "verified_p50": round(percentiles(hit_stages.verified)[0], 1),
        "miss_verified_p50": round(percentiles(miss_stages.verified)[0], 1),
        "mirrored_share": round(hit_stages.mirrored / len(queries), 3),
        "recall": round(found / len(queries), 3),
        "false_matches": false_matches,
        "miss_p50_ms": round(percentiles(misses)[0], 1),
        "miss_p95_ms": round(percentiles(misses)[1], 1),
        "miss_search_p50_ms": round(percentiles(miss_stages.search)[0], 1),
    }
    print("RESULT " + " ".join(f"{k}={v}" for k, v in line.items()), flush=True)

    compare = hit_stages.searched[: args.faiss_queries]
    if not compare:
        return  # --faiss-queries 0: no comparison
    all_descriptors = np.concatenate(sets)
    exact = search_times(matcher._index, compare, args.radius)
    faiss_mih = faiss_times(all_descriptors, compare, args.radius, flips=None)
    faiss_chunks = faiss_times(all_descriptors, compare, args.radius, flips=0)
    line = {
        "images": size,
        "queries": len(compare),
        "exact_search_p50_ms": round(exact[0], 1),
        "exact_search_p95_ms": round(exact[1], 1),
        "faiss_mih_p50_ms": round(faiss_mih[0], 1),
        "faiss_mih_p95_ms": round(faiss_mih[1], 1),
        "faiss_chunks_p50_ms": round(faiss_chunks[0], 1),
        "faiss_chunks_p95_ms": round(faiss_chunks[1], 1),
    }
    if size <= 10_000:
        line["faiss_flat_p50_ms"] = round(
            faiss_times(all_descriptors, compare, args.radius, flat=True)[0], 1
        )
    print("SEARCH " + " ".join(f"{k}={v}" for k, v in line.items()), flush=True)


class StageClock:
    """Times the stages inside :meth:`LocalFeatureMatcher.query` by wrapping them.

    The queries run through the real query path; per query, each stage's
    time is the sum over the orientations searched.
    """

    def __init__(self, matcher: matcher_module.LocalFeatureMatcher) -> None:
        self.extract: list[float] = []
        self.search: list[float] = []
        self.verify: list[float] = []
        self.verified: list[int] = []
        self.searched: list[np.ndarray] = []
        self.mirrored = 0
        self._current = {"extract": 0.0, "search": 0.0, "verify": 0.0}
        self._views = 0
        self._verified = 0
        matcher_module.extract_features = self._timed("extract", extract_features)
        matcher_module.turned_features = self._timed("extract", turned_features)
        matcher_module.similarity_fit = self._timed("verify", similarity_fit)
        matcher_module.inlier_count = self._timed("verify", inlier_count)
        votes = matcher._index.votes

        def timed_votes(descriptors: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
            self._views += 1
            self.searched.append(descriptors)
            started = time.perf_counter()
            result = votes(descriptors, radius)
            self._current["search"] += (time.perf_counter() - started) * 1000
            return result

        matcher._index.votes = timed_votes  # type: ignore[method-assign]

    def _timed(self, stage: str, function: Callable[..., T]) -> Callable[..., T]:
        def timed(*args: object) -> T:
            self._verified += stage == "verify"
            started = time.perf_counter()
            result = function(*args)
            self._current[stage] += (time.perf_counter() - started) * 1000
            return result

        return timed

    def next_query(self) -> None:
        self.extract.append(self._current["extract"])
        self.search.append(self._current["search"])
        self.verify.append(self._current["verify"])
        self.verified.append(self._verified)
        self._verified = 0
        self.mirrored += self._views > 1
        self._current = dict.fromkeys(self._current, 0.0)
        self._views = 0

    def take(self) -> StageClock:
        """The times so far (this object, renamed), and a fresh start for the next set."""
        taken = copy.copy(self)
        self.extract, self.search, self.verify, self.searched = [], [], [], []
        self.verified = []
        self.mirrored = 0
        return taken


def memory_bytes(matcher: matcher_module.LocalFeatureMatcher) -> int:
    """Bytes of the arrays a matcher holds: the index and every image's features."""
    ids, hashes, tables = matcher._index._index.main
    total = ids.nbytes + hashes.nbytes + ids.shape[0]  # + one alive flag per row
    if tables is not None:
        total += tables.offsets.nbytes + tables.rows.nbytes
    for entry in matcher._entries.values():
        f = entry.features
        total += f.points.nbytes + f.octaves.nbytes + f.angles.nbytes + f.descriptors.nbytes
    return total


def search_times(
    index: DescriptorIndex, inputs: list[np.ndarray], radius: int
) -> tuple[float, float]:
    """p50/p95 ms of the exact batch search (every chunk probed to radius) on the same inputs."""
    times = []
    for descriptors in inputs:
        started = time.perf_counter()
        index._index.search_batch(words_from_bytes(descriptors), radius, max_probe=2)
        times.append((time.perf_counter() - started) * 1000)
    return percentiles(times)


def faiss_times(
    bank: np.ndarray,
    inputs: list[np.ndarray],
    radius: int,
    flips: int | None = None,
    flat: bool = False,
) -> tuple[float, float]:
    """p50/p95 ms of faiss range searches for each query's descriptors.

    ``flips=None``: multi-hash tables with the fewest bit flips that are
    exact at the radius; ``flips=0``: each table probed at its exact key
    only, as our vote does.
    """
    import faiss

    faiss.omp_set_num_threads(1)
    if flat:
        index = faiss.IndexBinaryFlat(256)
    else:
        chunks = 11
        index = faiss.IndexBinaryMultiHash(256, chunks, 256 // chunks)
        # Exact up to (nflip + 1) * chunks - 1 bits.
        index.nflip = -(-(radius + 1) // chunks) - 1 if flips is None else flips
    index.add(np.ascontiguousarray(bank))
    times = []
    for descriptors in inputs:
        started = time.perf_counter()
        index.range_search(np.ascontiguousarray(descriptors), radius + 1)
        times.append((time.perf_counter() - started) * 1000)
    return percentiles(times)


if __name__ == "__main__":
    main()
