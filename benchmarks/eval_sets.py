"""Assemble the bank and distractor folders for ``hashmatch eval`` from
benign pictures on a Debian machine, the same every time.

    sudo apt-get install -y desktop-base gnome-backgrounds plasma-workspace-wallpapers \\
        mate-backgrounds sway-backgrounds lomiri-wallpapers-16.04 \\
        lomiri-wallpapers-20.04 ukui-wallpapers
    python benchmarks/eval_sets.py /tmp/eval-sets
    hashmatch eval --bank-images /tmp/eval-sets/bank \\
        --distractors /tmp/eval-sets/distractors --out /tmp/eval-out

Bank (one source per subfolder): the KDE Plasma wallpapers, the GNOME,
Lomiri and UKUI backgrounds and the 61 shared sample photos
(tests/data/photos, the ``scratch`` package's).  Distractors: the MATE,
sway and desktop-base backgrounds, the PDQ reference images (tests/data/
pdq-reference) and generated scenes (hashmatch.evaluation.scenes).  No
distractor comes from a package the bank uses.

A picture at least 1,024 px wide or high (most wallpapers) is cut into a
grid of non-overlapping tiles (at most 4 per side, each at least 512 px),
each tile a picture of its own: tiles show distinct regions, but share
their wallpaper's style.  A wallpaper that repeats one pattern (a lattice
of dots or diamonds, a tiled wood texture: its edges line up again at a
shift, see :func:`pattern_peak`; ``--peaks`` prints it for every large
wallpaper) is taken whole: its tiles would be one pattern at different
shifts, not distinct pictures, and local features cannot tell such tiles
apart (a 10% crop of one of GNOME's ``licorice``
tiles verified as another tile with 27 inliers).
Every picture is scaled to at most 1024 px on its long side, as platforms
scale uploads.  A picture too flat for PDQ (quality under the least that is
matched) or within 40 bits of one already taken, in any rotation or flip
(the same wallpaper at another size, the reference set's edits of one
photo), is left out: it would be a duplicate, not a distractor.  So is a
tile that the local-feature stage matches, as it is or mirrored, with a
tile of its wallpaper already taken (as a bank stores it): the two halves of
a symmetric wallpaper (Lomiri's ``the-mouse``) are one picture mirrored,
which no matcher should tell apart.  Each check looks at a picture as the
evaluation reads it, decoded from the JPEG file written (two of Flow's
hexagon tiles verified with 21 inliers before the JPEG and 27 after).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from hashmatch.evaluation.scenes import scene
from hashmatch.evaluation.transforms import jpeg
from hashmatch.features.extract import Features, extract_features
from hashmatch.features.matcher import MIN_INLIERS
from hashmatch.features.storage import decode_features, encode_features
from hashmatch.features.verify import inlier_count
from hashmatch.pdq import MIN_MATCH_QUALITY, hasher

#: The project's own copies of the sample photos and the PDQ reference images.
DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
BACKGROUNDS = Path("/usr/share/backgrounds")
RASTER = (".jpg", ".jpeg", ".png", ".webp")
LONG_SIDE = 1024
TILE_MIN = 512
GRID_MAX = 4
#: Pictures closer than this to one taken already are duplicates.
DUPLICATE_BITS = 40
JPEG_QUALITY = 92
#: A wallpaper repeats a pattern when its edges, shifted by at least
#: PATTERN_SHIFT pixels (of 1,024), correlate with themselves this well.
#: Measured on the bank's wallpapers (``--peaks``): a tiled wood texture 1.0,
#: dots, lattices and Truchet tiles 0.52-0.79, parallel planks and cables
#: 0.55-0.61, the others 0.38 or less.
PATTERN_PEAK = 0.5
PATTERN_SHIFT = 32


def _rasters(folder: Path, pattern: str = "**/*") -> list[Path]:
    return sorted(p for p in folder.glob(pattern) if p.suffix.lower() in RASTER and p.is_file())


def _largest_per_folder(paths: list[Path]) -> list[Path]:
    """A Plasma wallpaper comes in many sizes, one file each: the largest."""
    by_folder: dict[Path, Path] = {}
    for path in paths:
        best = by_folder.get(path.parent)
        if best is None or path.stat().st_size > best.stat().st_size:
            by_folder[path.parent] = path
    return [by_folder[folder] for folder in sorted(by_folder)]


def _light_versions(paths: list[Path]) -> list[Path]:
    """GNOME ships most wallpapers twice, ``NAME-l`` and ``NAME-d``: the same
    artwork recoloured for the light and dark styles (one picture, which a
    matcher should find as one).  PDQ's 40-bit check caught most pairs, not
    ``pixels`` (84 bits apart); the local-feature stage found its tiles, so
    keep the light version of each pair."""
    names = {path.stem for path in paths}
    return [p for p in paths if not (p.stem.endswith("-d") and f"{p.stem[:-2]}-l" in names)]


def bank_sources() -> dict[str, list[Path]]:
    # images_dark/ holds a recolour of the same wallpaper: not another picture.
    plasma = _largest_per_folder(_rasters(Path("/usr/share/wallpapers"), "*/contents/images/*"))
    return {
        "kde-plasma": plasma,
        "gnome": _light_versions(_rasters(BACKGROUNDS / "gnome")),
        "lomiri-ukui": _rasters(BACKGROUNDS, "*"),
        "scratch-photos": _rasters(DATA / "photos"),
    }


def distractor_sources() -> dict[str, list[Path]]:
    return {
        "mate": _rasters(BACKGROUNDS / "mate"),
        "sway": _rasters(BACKGROUNDS / "sway"),
        "desktop-base": _rasters(Path("/usr/share/desktop-base")),
        "pdq-reference": _rasters(DATA / "pdq-reference"),
    }


def pictures(path: Path) -> Iterator[Image.Image]:
    """The picture, or its grid of tiles when it is a large wallpaper that
    does not repeat a pattern; each scaled to at most LONG_SIDE."""
    picture = _opened(path)
    columns, rows = _grid(picture)
    if columns * rows <= 1 or pattern_peak(_scaled(picture)) >= PATTERN_PEAK:
        yield _scaled(picture)
        return
    width, height = picture.width // columns, picture.height // rows
    for row in range(rows):
        for column in range(columns):
            box = (column * width, row * height, (column + 1) * width, (row + 1) * height)
            yield _scaled(picture.crop(box))


def _opened(path: Path) -> Image.Image:
    with Image.open(path) as opened:
        return opened.convert("RGBA").convert("RGB")


def _grid(picture: Image.Image) -> tuple[int, int]:
    """Tiles across and down a picture would be cut into."""
    return min(GRID_MAX, picture.width // TILE_MIN), min(GRID_MAX, picture.height // TILE_MIN)


def pattern_peak(picture: Image.Image) -> float:
    """How well the picture's edges (a Laplacian) line up with themselves
    again at a shift of PATTERN_SHIFT pixels or more: the highest local
    peak of their autocorrelation, normalised by the overlap, beyond the
    central one (1.0: a pattern tiled exactly; 0: no repeat)."""
    gray = np.asarray(picture.convert("L"), np.float32)
    edges = cv2.Laplacian(cv2.GaussianBlur(gray, (0, 0), 1.0), cv2.CV_32F)
    edges -= edges.mean()
    height, width = gray.shape
    spectrum = np.fft.rfft2(edges, s=(2 * height, 2 * width))
    correlation = np.fft.fftshift(np.fft.irfft2(spectrum * np.conj(spectrum)))
    # Shifts up to half the picture each way, each normalised by its overlap.
    half_h, half_w = height // 2, width // 2
    correlation = correlation[
        height - half_h : height + half_h + 1, width - half_w : width + half_w + 1
    ]
    dy, dx = np.mgrid[-half_h : half_h + 1, -half_w : half_w + 1]
    correlation = correlation / ((height - np.abs(dy)) * (width - np.abs(dx)))
    if correlation[half_h, half_w] <= 0:
        return 0.0  # no edges at all
    correlation = (correlation / correlation[half_h, half_w]).astype(np.float32)
    far = np.hypot(dx, dy) >= PATTERN_SHIFT
    peaks = far & (correlation >= cv2.dilate(np.where(far, correlation, 0), np.ones((3, 3))))
    # A peak next to the excluded disc is the central peak's slope, not a repeat.
    peaks &= np.hypot(dx, dy) >= PATTERN_SHIFT + 2
    return float(correlation[peaks].max()) if peaks.any() else 0.0


def _scaled(picture: Image.Image) -> Image.Image:
    picture = picture.copy()
    picture.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
    return picture


class Taken:
    """The PDQ hashes of the pictures taken so far, to leave out flat ones
    and duplicates."""

    def __init__(self) -> None:
        self.rows = np.zeros((0, 32), dtype=np.uint8)

    def take(self, picture: Image.Image) -> bool:
        turned = hasher.pdq_dihedral_from_rgb(np.asarray(picture))
        if turned.quality < MIN_MATCH_QUALITY:
            return False
        bits = np.stack([np.frombuffer(bytes.fromhex(h.hex), np.uint8) for h in turned.hashes])
        if len(self.rows):
            xor = np.bitwise_xor(bits[:, None, :], self.rows[None, :, :])
            if int(np.unpackbits(xor, axis=2).sum(axis=2).min()) <= DUPLICATE_BITS:
                return False
        self.rows = np.concatenate([self.rows, bits[:1]])
        return True


def _repeats(tile: list[Features], taken: list[Features]) -> bool:
    """Whether a tile (its features as it is and mirrored) verifies, by local
    features, as a copy of a tile of its wallpaper already taken (``taken``
    holds their features as a bank stores them: what the matcher compares)."""
    return any(inlier_count(side, other) >= MIN_INLIERS for side in tile for other in taken)


def write_set(folder: Path, sources: dict[str, list[Path]], taken: Taken) -> int:
    count = 0
    for source, paths in sources.items():
        # Numbered: Plasma names every wallpaper's files by their size alone.
        for index, path in enumerate(paths):
            try:
                found = list(pictures(path))
            except OSError as error:
                print(f"skipped {path}: {error}", file=sys.stderr)
                continue
            tiles: list[Features] = []
            for number, picture in enumerate(found):
                read = jpeg(picture, JPEG_QUALITY)  # as the evaluation reads the file
                features = extract_features(read)
                mirrored = extract_features(ImageOps.mirror(read))
                if len(found) > 1 and _repeats([features, mirrored], tiles):
                    continue
                if taken.take(read):
                    tiles.append(decode_features(encode_features(features)))  # as banked
                    target = folder / source / f"{index:04d}-{path.stem}-{number}.jpg"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    picture.save(target, quality=JPEG_QUALITY)  # the same bytes
                    count += 1
    return count


def write_scenes(folder: Path, count: int, taken: Taken) -> int:
    written = seed = 0
    while written < count:
        picture = scene(seed)
        if taken.take(picture):
            target = folder / "generated-scenes" / f"scene-{seed:05d}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            picture.save(target, quality=JPEG_QUALITY)
            written += 1
        seed += 1
    return written


def print_peaks() -> None:
    for paths in bank_sources().values():
        for path in paths:
            picture = _opened(path)
            columns, rows = _grid(picture)
            if columns * rows > 1:
                print(f"{pattern_peak(_scaled(picture)):.2f} {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="Folder to write bank/ and distractors/ into.")
    parser.add_argument(
        "--distractors", type=int, default=1100, help="Distractors in all (scenes fill up)."
    )
    parser.add_argument(
        "--peaks",
        action="store_true",
        help="Only print each large bank wallpaper's pattern peak (taken whole at "
        f"{PATTERN_PEAK} or more).",
    )
    arguments = parser.parse_args()
    if arguments.peaks:
        print_peaks()
        return
    taken = Taken()
    banked = write_set(arguments.out / "bank", bank_sources(), taken)
    found = write_set(arguments.out / "distractors", distractor_sources(), taken)
    scenes = write_scenes(
        arguments.out / "distractors", max(arguments.distractors - found, 0), taken
    )
    print(f"bank: {banked} pictures; distractors: {found} found + {scenes} generated scenes")


if __name__ == "__main__":
    main()
