"""The second stage alone on the evaluation sets: recall at several inlier
thresholds, and how many inliers the closest wrong picture reaches.

    python benchmarks/eval_sets.py /tmp/eval-sets
    python benchmarks/local_features_margin.py /tmp/eval-sets [--every 3] [--jobs 2]

Every bank picture is banked as a bank stores it (its first 200 keypoints);
every ``--every``-th bank picture is edited by each transform and queried,
and every distractor is queried, as it is and mirrored.  For each query the
best-voted bank pictures (up to :data:`CANDIDATES_CHECKED`, at least
``MIN_VOTES`` votes) are verified as the matcher verifies them: its own
picture's inliers (counted when it is among the matcher's candidates) and
the most inliers of any other.  "turned" is the share of queries that
needed a turned extraction (a near miss at an angle).
``hashmatch eval`` gives the end-to-end figures with PDQ; this shows the
margin between the threshold (``MIN_INLIERS``) and the wrong pictures.
"""

from __future__ import annotations

import argparse
import multiprocessing
from collections import defaultdict
from pathlib import Path
from typing import Any

from PIL import Image

from hashmatch.evaluation.transforms import TRANSFORMS
from hashmatch.features import decode_features, encode_features, extract_features
from hashmatch.features.matcher import CANDIDATES, MIN_INLIERS, LocalFeatureMatcher, QueryFeatures

#: Wrong pictures verified per query orientation (more than the matcher's
#: candidates, to see how close the next ones come).
CANDIDATES_CHECKED = 30
THRESHOLDS = (16, 20, MIN_INLIERS, 28, 32)
WEAK = (
    "window_85_offset,caption_bottom_12,crop_each_15,rotate_5,rotate_10,"
    "sticker,watermark,screenshot,resize_50"
)

_matcher = LocalFeatureMatcher()


def _load(path: str) -> Image.Image:
    with Image.open(path) as opened:
        return opened.convert("RGB")


def _stored(path: str) -> tuple[str, bytes]:
    return path, encode_features(extract_features(_load(path)))


def _bank(blobs: list[tuple[str, bytes]]) -> None:
    for path, blob in blobs:
        _matcher.add_stored(path, blob)


def _verify(views: QueryFeatures, mirrored: bool, own: str | None) -> tuple[int, int]:
    """(own inliers when a candidate, most inliers of a wrong picture), in
    the matcher's own verification (near misses at an angle turned upright)."""
    found = _matcher.candidates_of(views.view(mirrored), CANDIDATES_CHECKED)
    counts = _matcher.inliers(views, mirrored, [features for _, features in found])
    own_inliers = wrong = 0
    for rank, ((path, _), inliers) in enumerate(zip(found, counts, strict=True)):
        if path == own:
            own_inliers = inliers if rank < CANDIDATES else 0
        else:
            wrong = max(wrong, inliers)
    return own_inliers, wrong


def _query(item: tuple[str, str]) -> dict[str, Any]:
    path, transform = item
    picture = _load(path)
    own = None
    if transform != "distractor":
        picture, own = TRANSFORMS[transform].apply(picture), path
    views = QueryFeatures(picture)
    plain, mirrored = _verify(views, False, own), _verify(views, True, own)
    return {
        "transform": transform,
        "own": max(plain[0], mirrored[0]),
        "wrong": max(plain[1], mirrored[1]),
        "turned": views.turns > 0,
    }


def _table(rows: list[dict[str, Any]]) -> str:
    by_transform: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_transform[row["transform"]].append(row)
    head = ["transform", "queries", *(f"recall at {t}" for t in THRESHOLDS), "most wrong", "turned"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for transform, found in by_transform.items():
        recalls = [sum(r["own"] >= t for r in found) / len(found) for t in THRESHOLDS]
        shown = ["" if transform == "distractor" else f"{r:.3f}" for r in recalls]
        wrong = max(r["wrong"] for r in found)
        turned = sum(r["turned"] for r in found) / len(found)
        lines.append(
            f"| {transform} | {len(found)} | " + " | ".join(shown) + f" | {wrong} | {turned:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", type=Path, help="The folder eval_sets.py wrote.")
    parser.add_argument("--every", type=int, default=3, help="Query every Nth bank picture.")
    parser.add_argument("--transforms", default=WEAK, help="Comma-separated transform names.")
    parser.add_argument("--jobs", type=int, default=2)
    arguments = parser.parse_args()
    bank = sorted(str(p) for p in (arguments.sets / "bank").rglob("*") if p.is_file())
    distractors = sorted(str(p) for p in (arguments.sets / "distractors").rglob("*") if p.is_file())
    items = [(p, t) for t in arguments.transforms.split(",") for p in bank[:: arguments.every]]
    items += [(p, "distractor") for p in distractors]
    context = multiprocessing.get_context("spawn")  # OpenCV's threads do not survive fork
    with context.Pool(arguments.jobs) as pool:
        blobs = pool.map(_stored, bank, chunksize=8)
    with context.Pool(arguments.jobs, initializer=_bank, initargs=(blobs,)) as pool:
        rows = list(pool.imap_unordered(_query, items, chunksize=4))
    print(f"{len(bank)} bank pictures, {len(items)} queries; threshold {MIN_INLIERS} inliers")
    print(_table(rows))
    sizes = [len(decode_features(blob)) for _, blob in blobs]
    print(f"bank pictures without features (too little texture): {sizes.count(0)}")


if __name__ == "__main__":
    main()
