"""The demo: a few bundled photos, edited copies of them, and the matches found.

Six photos stand for a bank of known images.  Each is copied twice with an
ordinary edit (resizing, recompression, cropping, a rotation, ...) and four
other photos stand for unrelated uploads.  Every copy and unrelated photo is
compared with the bank's PDQ hashes, including their 8 rotations and flips.
All pictures are benign sample photos.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from hashmatch.media import open_image
from hashmatch.pdq import DIHEDRAL_TRANSFORMS, Hash256
from hashmatch.signals.pdq import PdqSignal

PDQ_THRESHOLD = PdqSignal.default_threshold

Edit = Callable[[Image.Image], Image.Image]


def _crop_5_percent(image: Image.Image) -> Image.Image:
    width, height = image.size
    dx, dy = width // 20, height // 20
    return image.crop((dx, dy, width - dx, height - dy))


#: Ordinary edits a re-uploaded picture goes through.
EDITS: dict[str, Edit] = {
    "resized to 50%": lambda im: im.resize(
        (im.width // 2, im.height // 2), Image.Resampling.LANCZOS
    ),
    "recompressed (JPEG q=30)": lambda im: im,  # saved at quality 30 below
    "cropped 5% each side": _crop_5_percent,
    "brightened 20%": lambda im: ImageEnhance.Brightness(im).enhance(1.2),
    "converted to grayscale": lambda im: ImageOps.grayscale(im).convert("RGB"),
    "rotated 90 degrees": lambda im: im.transpose(Image.Transpose.ROTATE_90),
    "mirrored": ImageOps.mirror,
    "blurred": lambda im: im.filter(ImageFilter.GaussianBlur(2)),
}
BANK_SIZE = 6


@dataclass(frozen=True)
class DemoRow:
    """One query picture and what matching found for it."""

    query: str
    made_from: str | None
    edit: str | None
    best_match: str
    distance: int
    transform: str

    @property
    def matched(self) -> bool:
        return self.distance <= PDQ_THRESHOLD


def bundled_photos() -> list[Path]:
    folder = resources.files("hashmatch.demo") / "photos"
    return sorted(Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".jpg"))


def _hash(path: Path) -> tuple[Hash256, ...]:
    with open_image(path) as opened:
        return PdqSignal().compute_dihedral(opened).hashes


def make_queries(photos: list[Path], workdir: Path) -> list[tuple[Path, str | None, str | None]]:
    """Write the edited copies; return (query file, original name, edit) triples."""
    workdir.mkdir(parents=True, exist_ok=True)
    queries: list[tuple[Path, str | None, str | None]] = []
    edits = list(EDITS.items())
    for index, photo in enumerate(photos[:BANK_SIZE]):
        for round_ in range(2):
            label, edit = edits[(2 * index + round_) % len(edits)]
            with Image.open(photo) as original:
                edited = edit(original.convert("RGB"))
            quality = 30 if "q=30" in label else 90
            target = workdir / f"{photo.stem}--{round_ + 1}.jpg"
            edited.save(target, quality=quality)
            queries.append((target, photo.name, label))
    queries.extend((photo, None, None) for photo in photos[BANK_SIZE:])
    return queries


def run_demo(workdir: Path) -> list[DemoRow]:
    """Build the bank, write the queries into ``workdir`` and match them."""
    photos = bundled_photos()
    bank = {photo.name: _hash(photo) for photo in photos[:BANK_SIZE]}
    rows = []
    for query, made_from, edit in make_queries(photos, workdir):
        query_hash = _hash(query)[0]
        name, distance, transform = min(
            (
                (bank_name, query_hash.distance(variant), DIHEDRAL_TRANSFORMS[position])
                for bank_name, variants in bank.items()
                for position, variant in enumerate(variants)
            ),
            key=lambda found: found[1],
        )
        rows.append(DemoRow(query.name, made_from, edit, name, distance, transform))
    return rows
