"""Second stage end to end: recall of edited copies through LocalFeatureMatcher.query.

    .venv/bin/python benchmarks/local_features_recall.py [--radius 32]

All 61 photos in ``tests/data/photos`` are banked; each is queried under
the edits of ``tests/test_local_features.py`` (crops, caption, border,
rotations, half size, JPEG, mirror, screenshot, sticker).  The descriptor
index is built with the layout a 100k-image bank gets (11 chunks of 23
bits, probed through its tables), so the vote loses what it loses there.
scikit-image's sample images, as they are and cropped, are queried as
unrelated uploads.  Prints recall with the lowest and median inlier count
per edit, then false matches (a query matching any photo but its own).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import skimage.data
from PIL import Image

from hashmatch.features import LocalFeatureMatcher
from hashmatch.features.search import SEARCH_RADIUS, DescriptorIndex
from hashmatch.index import live, mih

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_local_features import EDITS, PHOTOS, crop_off_centre, load

SAMPLES = (
    "astronaut",
    "camera",
    "chelsea",
    "coffee",
    "coins",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "page",
    "retina",
    "rocket",
)


def large_bank_layout(count: int) -> np.ndarray:
    """The chunks of a 20M-descriptor index (100k images), whatever the count."""
    return np.array([(c * 23, 23) for c in range(11)], dtype=np.int64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--radius", type=int, default=SEARCH_RADIUS)
    args = parser.parse_args()
    bank = LocalFeatureMatcher(search_radius=args.radius)
    photos = {path.stem: load(path) for path in PHOTOS}
    for name, image in photos.items():
        bank.add(name, image)
    live.MIN_TABLE_SIZE = 0
    mih.chunk_layout = large_bank_layout
    entries = list(bank._entries.values())
    bank._index = DescriptorIndex.build(
        [e.slot for e in entries], [e.features.descriptors for e in entries]
    )

    false_matches = 0
    print("| edit | recall | lowest / median inliers |\n|---|---|---|")
    for edit_name, edit in EDITS.items():
        inliers = []
        for name, image in photos.items():
            found = dict(bank.query(edit(image)))
            false_matches += sum(1 for other in found if other != name)
            inliers.append(found.get(name, 0))
        recall = np.mean([count > 0 for count in inliers])
        print(f"| {edit_name} | {recall:.2f} | {min(inliers)} / {int(np.median(inliers))} |")
    unrelated = 0
    for sample in SAMPLES:  # those shipped inside scikit-image (nothing downloaded)
        image = Image.fromarray(getattr(skimage.data, sample)()).convert("RGB")
        for query in (image, crop_off_centre(image)):
            unrelated += 1
            false_matches += len(bank.query(query))
    print(f"false matches: {false_matches} (edited copies and {unrelated} unrelated images)")


if __name__ == "__main__":
    main()
