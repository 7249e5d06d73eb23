"""Second stage (ORB local features): query time and bytes per bank image.

    python benchmarks/local_features_speed.py --sizes 1000,10000,100000
    python benchmarks/local_features_speed.py --quick

Runs on one core (numba, OpenCV and faiss limited to one thread).

**Data.**  The 61 photos in ``tests/data/photos`` are split by name:
the *query* photos (every third) are added to the bank for real and queried
through five edits (off-centre 85% crop, caption band, 5 degree rotation
with crop, JPEG q30, 60% inside a drawn screenshot frame).  The other photos
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
index memory per image, query p50/p95 ms split into feature extraction
(both orientations), descriptor search and verification, recall of the
edited copies and false matches; then the same descriptor searches done by
faiss (``IndexBinaryMultiHash`` exact at the same radius, and
``IndexBinaryFlat`` up to 10k images), in the same process.  One line per
size::

    RESULT images=<n> bytes_per_image=<x> index_bytes_per_image=<x>
        p50_ms=<x> p95_ms=<x> search_p50_ms=<x> ... faiss_mih_p50_ms=<x> ...
"""

from __future__ import annotations

import argparse
import io
import os
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageOps

from hashmatch.features import matcher as matcher_module
from hashmatch.features.extract import Features, extract_features
from hashmatch.features.search import SEARCH_RADIUS, DescriptorIndex
from hashmatch.features.storage import (
    STORED_KEYPOINTS,
    decode_features,
    encode_features,
)
from hashmatch.features.verify import inlier_count

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
        "--faiss-queries", type=int, default=20, help="queries timed on faiss (the slow side)"
    )
    args = parser.parse_args()
    sizes = [1000] if args.quick else [int(s) for s in args.sizes.split(",")]

    paths = sorted(PHOTOS.glob("*.jpg"))
    photos = [Image.open(p).convert("RGB") for p in paths]
    query_ids = list(range(0, len(photos), 3))[: 6 if args.quick else None]
    pool_ids = [i for i in range(len(photos)) if i % 3]

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
        run_size(size, args, bank_blobs, pool, sources, queries)


def run_size(
    size: int,
    args: argparse.Namespace,
    bank_blobs: dict[int, bytes],
    pool: np.ndarray,
    sources: np.ndarray,
    queries: list[tuple[int, str, Image.Image]],
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
    total_descriptors = sum(len(s) for s in sets)
    index_bytes = total_descriptors * (32 + 8) + total_descriptors * 4 * 12

    totals, extracts, searches, verifies = [], [], [], []
    found, false_matches = 0, 0
    search_inputs = []
    for content_id, _, image in queries:
        t0 = time.perf_counter()
        array = np.asarray(image)
        views = [extract_features(array), extract_features(np.ascontiguousarray(array[:, ::-1]))]
        t1 = time.perf_counter()
        votes = [matcher._index.votes(v.descriptors, args.radius) for v in views]
        t2 = time.perf_counter()
        best: dict[object, int] = {}
        for view, (vote_slots, counts) in zip(views, votes, strict=True):
            chosen = vote_slots[counts >= matcher_module.MIN_VOTES][: matcher.candidates]
            for slot in chosen:
                cid = matcher._content_of_slot[int(slot)]
                inliers = inlier_count(view, matcher._entries[cid].features)
                if inliers >= matcher.min_inliers:
                    best[cid] = max(inliers, best.get(cid, 0))
        t3 = time.perf_counter()
        totals.append((t3 - t0) * 1000)
        extracts.append((t1 - t0) * 1000)
        searches.append((t2 - t1) * 1000)
        verifies.append((t3 - t2) * 1000)
        found += content_id in best
        false_matches += sum(1 for cid in best if cid != content_id)
        search_inputs.append(np.concatenate([v.descriptors for v in views]))

    all_descriptors = np.concatenate(sets)
    faiss_inputs = search_inputs[: args.faiss_queries]
    faiss_mih = faiss_times(all_descriptors, faiss_inputs, args.radius, flat=False)
    faiss_flat = (
        faiss_times(all_descriptors, faiss_inputs, args.radius, flat=True)
        if size <= 10_000
        else None
    )
    p50, p95 = percentiles(totals)
    line = {
        "images": size,
        "bytes_per_image": round(np.mean([len(b) for b in bank_blobs.values()])),
        "index_bytes_per_image": round(index_bytes / size),
        "build_s": round(build_s, 1),
        "p50_ms": round(p50, 1),
        "p95_ms": round(p95, 1),
        "extract_p50_ms": round(percentiles(extracts)[0], 1),
        "search_p50_ms": round(percentiles(searches)[0], 1),
        "search_p95_ms": round(percentiles(searches)[1], 1),
        "verify_p50_ms": round(percentiles(verifies)[0], 1),
        "recall": round(found / len(queries), 3),
        "false_matches": false_matches,
        "faiss_mih_p50_ms": round(faiss_mih[0], 1),
        "faiss_mih_p95_ms": round(faiss_mih[1], 1),
    }
    if faiss_flat is not None:
        line["faiss_flat_p50_ms"] = round(faiss_flat[0], 1)
    print("RESULT " + " ".join(f"{k}={v}" for k, v in line.items()), flush=True)


def faiss_times(
    bank: np.ndarray, inputs: list[np.ndarray], radius: int, flat: bool
) -> tuple[float, float]:
    """p50/p95 ms of faiss range searches for each query's descriptors."""
    import faiss

    faiss.omp_set_num_threads(1)
    if flat:
        index = faiss.IndexBinaryFlat(256)
    else:
        chunks = 11
        index = faiss.IndexBinaryMultiHash(256, chunks, 256 // chunks)
        # Exact up to (nflip + 1) * chunks - 1 bits: the fewest flips for ``radius``.
        index.nflip = -(-(radius + 1) // chunks) - 1
    index.add(np.ascontiguousarray(bank))
    times = []
    for descriptors in inputs:
        started = time.perf_counter()
        index.range_search(np.ascontiguousarray(descriptors), radius + 1)
        times.append((time.perf_counter() - started) * 1000)
    return percentiles(times)


if __name__ == "__main__":
    main()
