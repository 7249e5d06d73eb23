"""PDQ throughput, decode included, on one core: hashmatch against the references.

    python benchmarks/pdq_speed.py            # 24 images x 5 rounds
    python benchmarks/pdq_speed.py --quick    # a smoke run

Makes 1024x768 JPEGs from the benign sample photos, then hashes them from
their files with each engine, round-robin over several rounds (so a noisy
machine slows every engine alike), and reports the median images/s:

* ``hashmatch_exact``: hashmatch's default, bit-identical to the reference;
* ``hashmatch_fast``: ``--fast`` (luma-only JPEG decode, one-step blur);
* ``pdqhash``: the reference C++ binding, fed as its README shows
  (Pillow decode, ``.convert("RGB")``, ``numpy.asarray``);
* ``threatexchange``: python-threatexchange's ``pdq_from_file``.

It then measures fast mode's drift from the reference on the reference
images of tests/data.  Besides the table it prints machine-readable lines::

    RESULT engine=<name> images_per_s=<x> ratio_vs_pdqhash=<x>
    RESULT drift max_bits=<x> mean_bits=<x>
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image
from rich.console import Console
from rich.table import Table
from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_file

from hashmatch.media import open_image
from hashmatch.signals.pdq import PdqSignal

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "tests" / "data" / "photos"
REFERENCE_CSV = ROOT / "tests" / "data" / "expected_pdqhash.csv"
PDQ = PdqSignal()


def make_jpegs(folder: Path, count: int) -> list[Path]:
    """1024x768 JPEGs (quality 90) upscaled from the sample photos."""
    sources = sorted(PHOTOS.glob("*.jpg"))[:count]
    paths = []
    for source in sources:
        target = folder / source.name
        with Image.open(source) as image:
            image.convert("RGB").resize((1024, 768), Image.Resampling.LANCZOS).save(
                target, quality=90
            )
        paths.append(target)
    return paths


def hashmatch_exact(path: Path) -> str:
    with open_image(path) as opened:
        return PDQ.compute(opened).hash.hex


def hashmatch_fast(path: Path) -> str:
    with open_image(path) as opened:
        return PDQ.compute(opened, fast=True).hash.hex


def reference_pdqhash(path: Path) -> str:
    with Image.open(path) as image:
        bits, _quality = pdqhash.compute(np.asarray(image.convert("RGB")))
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def threatexchange(path: Path) -> str:
    return pdq_from_file(path)[0]


ENGINES: dict[str, Callable[[Path], str]] = {
    "hashmatch_exact": hashmatch_exact,
    "hashmatch_fast": hashmatch_fast,
    "pdqhash": reference_pdqhash,
    "threatexchange": threatexchange,
}


def measure(paths: list[Path], rounds: int) -> dict[str, float]:
    """Median images/s per engine over ``rounds`` round-robin passes."""
    for engine in ENGINES.values():  # warm-up: JIT, caches, page cache
        engine(paths[0])
    samples: dict[str, list[float]] = {name: [] for name in ENGINES}
    names = list(ENGINES)
    for round_ in range(rounds):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            engine = ENGINES[name]
            started = time.perf_counter()
            for path in paths:
                engine(path)
            samples[name].append(len(paths) / (time.perf_counter() - started))
    return {name: statistics.median(values) for name, values in samples.items()}


def fast_mode_drift() -> list[int]:
    """Bits between fast mode and the reference hash, per reference image."""
    import csv

    drifts = []
    with REFERENCE_CSV.open() as stream:
        for row in csv.DictReader(stream):
            with open_image(REFERENCE_CSV.parent / row["path"]) as opened:
                fast = PDQ.compute(opened, fast=True).hash.hex
            drifts.append(PDQ.distance(fast, row["pdq"]))
    return drifts


def check_agreement(paths: list[Path]) -> None:
    """Exact mode must give the reference's hash on the benchmark images too."""
    for path in paths:
        if hashmatch_exact(path) != reference_pdqhash(path):
            sys.exit(f"hashmatch_exact differs from pdqhash on {path.name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=24, help="number of 1024x768 JPEGs")
    parser.add_argument("--rounds", type=int, default=5, help="round-robin passes per engine")
    parser.add_argument("--quick", action="store_true", help="4 images, 1 round (smoke test)")
    parser.add_argument(
        "--cpu", type=int, default=None, help="pin to this CPU (default: the first allowed)"
    )
    args = parser.parse_args()
    if args.quick:
        args.images, args.rounds = 4, 1
    if hasattr(os, "sched_setaffinity"):
        cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})

    with tempfile.TemporaryDirectory(prefix="pdq-speed-") as folder:
        paths = make_jpegs(Path(folder), args.images)
        check_agreement(paths)
        rates = measure(paths, args.rounds)
    drifts = fast_mode_drift()

    baseline = rates["pdqhash"]
    table = Table(title=f"PDQ, 1024x768 JPEG, decode included, one core ({len(paths)} images)")
    for column in ("engine", "images/s", "ms/image", "vs pdqhash"):
        table.add_column(column, justify="right" if column != "engine" else "left")
    for name, rate in rates.items():
        table.add_row(name, f"{rate:.1f}", f"{1000 / rate:.2f}", f"{rate / baseline:.2f}x")
    console = Console()
    console.print(table)
    console.print(
        f"fast-mode drift on {len(drifts)} reference images: "
        f"max {max(drifts)} bits, mean {statistics.fmean(drifts):.2f} bits",
        highlight=False,
    )
    for name, rate in rates.items():
        print(
            f"RESULT engine={name} images_per_s={rate:.1f} ratio_vs_pdqhash={rate / baseline:.2f}"
        )
    print(f"RESULT drift max_bits={max(drifts)} mean_bits={statistics.fmean(drifts):.2f}")


if __name__ == "__main__":
    main()
