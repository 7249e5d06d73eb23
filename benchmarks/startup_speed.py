"""Whole-process times of the ``hashmatch`` command, start-up included.

    python benchmarks/startup_speed.py            # 240 pictures, 5 rounds
    python benchmarks/startup_speed.py --quick    # 24 pictures, 1 round

Each figure is the wall time of a fresh process, as a user waits for it:

* ``version``, ``help``: ``hashmatch --version`` and ``hashmatch --help``
  (target: under 0.3 s);
* ``hash_one``: ``hashmatch hash one.jpg``, numba's cache warm (target:
  under 1 s);
* ``hash_folder``: ``hashmatch hash --jobs 1`` on a folder of 1024x768 JPEGs,
  against ``pdqhash_script``: a Python script that hashes the same files
  with ``pdqhash`` (Pillow decode, ``.convert("RGB")``, ``numpy.asarray``, as
  its README shows) and prints a line per file (target: 3x as fast).

The pictures are generated here (seeded waves, shapes and grain: benign).
Commands run round-robin over the rounds, so a busy machine slows each
alike, and the median is reported.  Besides the table it prints::

    RESULT command=<name> seconds=<median> target_seconds=<t>
    RESULT command=hash_folder files=<n> seconds=<s> pdqhash_seconds=<s> ratio_vs_pdqhash=<x>
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

WIDTH, HEIGHT = 1024, 768
PDQHASH_SCRIPT = """\
import sys
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image

for path in sorted(Path(sys.argv[1]).iterdir()):
    with Image.open(path) as image:
        hash_bits, quality = pdqhash.compute(np.asarray(image.convert("RGB")))
    print(path, "".join(map(str, hash_bits)), quality)
"""
TARGETS = {"version": 0.3, "help": 0.3, "hash_one": 1.0}


def make_pictures(folder: Path, count: int, seed: int = 20261126) -> list[Path]:
    """``count`` 1024x768 JPEGs (quality 90): waves, a few shapes, grain."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    paths = []
    for number in range(count):
        fx, fy, fxy = rng.uniform(0.004, 0.04, 3)
        phase = rng.uniform(0, 2 * np.pi, 3)
        channels = [
            128 + 100 * np.sin(x * fx + phase[0]) * np.cos(y * fy),
            128 + 100 * np.cos((x + y) * fxy + phase[1]),
            128 + 60 * np.sin(y * fx + phase[2]) + 40 * np.cos(x * fy),
        ]
        pixels = np.stack(channels, axis=-1) + rng.normal(0, 4, (HEIGHT, WIDTH, 3))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(4):
            x0, y0 = int(rng.integers(0, WIDTH - 200)), int(rng.integers(0, HEIGHT - 200))
            size = int(rng.integers(40, 200))
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            draw.ellipse((x0, y0, x0 + size, y0 + size), fill=colour)
        path = folder / f"picture-{number:03d}.jpg"
        image.save(path, quality=90)
        paths.append(path)
    return paths


def hashmatch_command() -> list[str]:
    """The installed ``hashmatch`` script beside this Python, as a user runs it."""
    script = Path(sys.executable).with_name("hashmatch")
    return [str(script)] if script.exists() else [sys.executable, "-m", "hashmatch.cli"]


def wall_seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=240, help="pictures in the folder")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="24 pictures, 1 round")
    args = parser.parse_args()
    files, rounds = (24, 1) if args.quick else (args.files, args.rounds)
    hashmatch = hashmatch_command()
    work = Path(tempfile.mkdtemp(prefix="hashmatch-startup-"))
    try:
        folder = work / "pictures"
        folder.mkdir()
        pictures = make_pictures(folder, files)
        script = work / "pdqhash_script.py"
        script.write_text(PDQHASH_SCRIPT)
        commands = {
            "version": [*hashmatch, "--version"],
            "help": [*hashmatch, "--help"],
            "hash_one": [*hashmatch, "hash", str(pictures[0])],
            "hash_folder": [*hashmatch, "hash", "--jobs", "1", str(folder)],
            "pdqhash_script": [sys.executable, str(script), str(folder)],
        }
        wall_seconds(commands["hash_one"])  # numba's cache is warm from here on
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, command in commands.items():
                times[name].append(wall_seconds(command))
    finally:
        shutil.rmtree(work)
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{'command':<16}{'median s':>10}{'target':>10}")
    for name, seconds in median.items():
        target = TARGETS.get(name)
        print(f"{name:<16}{seconds:>10.3f}{'' if target is None else f'< {target}':>10}")
    ratio = median["pdqhash_script"] / median["hash_folder"]
    print(f"hash_folder is {ratio:.2f}x as fast as pdqhash_script on {files} files (target: 3x)")
    for name, target in TARGETS.items():
        print(f"RESULT command={name} seconds={median[name]:.3f} target_seconds={target}")
    print(
        f"RESULT command=hash_folder files={files} seconds={median['hash_folder']:.3f} "
        f"pdqhash_seconds={median['pdqhash_script']:.3f} ratio_vs_pdqhash={ratio:.2f}"
    )


if __name__ == "__main__":
    main()
