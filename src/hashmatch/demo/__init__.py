"""The demo: a bank of bundled photos, edited copies of them, and the matches.

Six photos go into a bank that uses local features (in a SQLite database in
the work folder), exactly as ``hashmatch bank add`` puts them there: their
hashes, their stored crops and rotations, and their local features.  Each is
copied twice with an ordinary edit (resizing, recompression, cropping, a
rotation, a border, a caption, ...) into an uploads folder, beside four other
photos that stand for unrelated uploads.  Every upload is then matched as
``hashmatch match`` does: PDQ with the 8 rotations and flips of the upload and
of its copy cleaned of a border or caption band, MD5 and SHA-256, and the
second stage, local features.  All pictures are benign sample photos.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from hashmatch.banks import Banks
from hashmatch.evaluation.transforms import TRANSFORMS
from hashmatch.hashing import BANK_REQUEST, hash_file
from hashmatch.hashlists import Entry
from hashmatch.match_policy import Match
from hashmatch.matching import Matcher
from hashmatch.signals import names
from hashmatch.signals.pdq import PdqSignal
from hashmatch.store import Database

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
    "white border (10%)": TRANSFORMS["border_white_10"].apply,
    "caption band (bottom 12%)": TRANSFORMS["caption_bottom_12"].apply,
    "off-centre crop (85%)": TRANSFORMS["window_85_offset"].apply,
    "rotated 5 degrees": TRANSFORMS["rotate_5"].apply,
}
BANK_SIZE = 6
BANK_NAME = "demo-known"


@dataclass(frozen=True)
class DemoRow:
    """One upload and the closest bank photo matching found for it, if any."""

    query: str
    made_from: str | None
    edit: str | None
    best_match: str | None
    distance: int | None
    transform: str | None
    #: How it was found: "pdq", "pdq of a stored variant (crop90)", "pdq
    #: after clean-up (border)", "local features (87 inliers)".
    found_by: str | None = None

    @property
    def matched(self) -> bool:
        return self.best_match is not None


def bundled_photos() -> list[Path]:
    folder = resources.files("hashmatch.demo") / "photos"
    return sorted(Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".jpg"))


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
    """Build the bank, write the uploads into ``workdir`` and match them."""
    photos = bundled_photos()
    database = Database.open(f"sqlite:///{workdir / 'demo.db'}")
    try:
        banks = Banks(database)
        banks.create(
            BANK_NAME, description="Bundled sample photos", labels=["demo"], local_features=True
        )
        request = replace(BANK_REQUEST, local_features=True)
        for photo in photos[:BANK_SIZE]:
            result = hash_file(photo, request)
            entry = Entry(
                dict(result.signals),
                external_id=photo.name,
                variants=result.variants,
                features=result.features,
            )
            banks.add(BANK_NAME, entry, source="demo")
        matcher = Matcher(database)
        rows = []
        for query, made_from, edit in make_queries(photos, workdir / "uploads"):
            matches = [m for m in matcher.match_file(query)[1] if m.signal_type == names.PDQ]
            best = min(matches, key=_rank, default=None)
            rows.append(
                DemoRow(
                    query.name,
                    made_from,
                    edit,
                    best.external_id if best else None,
                    best.distance if best else None,
                    best.transform if best else None,
                    _found_by(best) if best else None,
                )
            )
        return rows
    finally:
        database.close()


def _rank(match: Match) -> tuple[bool, int]:
    """PDQ's matches first, closest first; then the second stage's."""
    return (match.stage is not None, match.distance)


def _found_by(match: Match) -> str:
    if match.stage is not None:
        return f"local features ({match.inliers} inliers)"
    if match.query == "cleaned":
        return f"pdq after clean-up ({', '.join(sorted(match.cleanup or {}))})"
    if match.variant is not None:
        return f"pdq of a stored variant ({match.variant})"
    return "pdq"
