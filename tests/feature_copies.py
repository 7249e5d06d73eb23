"""Re-shared copies PDQ misses, made from the benign photos in tests/data,
and bank entries that carry local features, for the second-stage tests."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw

from hashmatch.hashing import BANK_REQUEST, HashRequest, hash_file
from hashmatch.hashlists import Entry
from tests.conftest import DATA

PHOTOS = DATA / "photos"
#: Banked photos, textured enough for local features.
BANKED = [
    PHOTOS / "outdoors-castle.jpg",
    PHOTOS / "indoors-kitchen.jpg",
    PHOTOS / "nature-water-and-rocks.jpg",
]
#: An unrelated photo (a distractor).
OTHER = PHOTOS / "outdoors-graffiti.jpg"
FEATURES_REQUEST = HashRequest(
    crop_variants=BANK_REQUEST.crop_variants, image_variants=True, local_features=True
)


@cache
def entry_with_features(path: Path) -> Entry:
    """A bank add by file, as the adding paths make it for a bank that uses
    local features (hashed once per test session)."""
    result = hash_file(path, FEATURES_REQUEST)
    assert result.ok, result.error
    assert result.features is not None
    return Entry(dict(result.signals), variants=result.variants, features=result.features)


def fresh(entry: Entry) -> Entry:
    """A copy an add may not share with another test's."""
    return Entry(dict(entry.signals), variants=entry.variants, features=entry.features)


def off_centre_crop(image: Image.Image) -> Image.Image:
    """An 85% window at the right and the top: no stored variant is like it."""
    width, height = image.size
    return image.crop((round(width * 0.15), 0, width, round(height * 0.85)))


def caption_over_picture(image: Image.Image) -> Image.Image:
    """A darkened band with three lines of text over the lower part, the
    picture showing through (not a plain band, which clean-up removes)."""
    copy = image.convert("RGB")
    width, height = copy.size
    band = (0, round(height * 0.55), width, round(height * 0.9))
    shade = Image.new("RGB", (band[2] - band[0], band[3] - band[1]), (0, 0, 0))
    copy.paste(Image.blend(copy.crop(band), shade, 0.7), band[:2])
    draw = ImageDraw.Draw(copy)
    for row in range(3):
        top = band[1] + 8 + row * (band[3] - band[1]) // 3
        draw.text((12, top), "WHEN YOU SEE IT " * 3, fill=(255, 255, 255))
    return copy


def rotated(image: Image.Image) -> Image.Image:
    """Turned 7 degrees, corners filled black."""
    return image.convert("RGB").rotate(7, resample=Image.Resampling.BILINEAR)


EDITS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "off-centre crop": off_centre_crop,
    "caption over the picture": caption_over_picture,
    "rotated 7 degrees": rotated,
}


def saved(image: Image.Image, path: Path) -> Path:
    image.convert("RGB").save(path, quality=90)
    return path
