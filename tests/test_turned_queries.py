"""A near miss at an angle is verified again with the query turned upright.

ORB's descriptors follow a rotation only roughly: on pictures full of one
repeated shape (a lattice of diamonds, a wallpaper's tiles) a copy rotated
by 10 degrees has its right fit found, at the right angle, but explaining
too little to be accepted.  The picture here is such a lattice, some cells
coloured at random, the rest alike.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from hashmatch.features import LocalFeatureMatcher, QueryFeatures, extract_features
from hashmatch.features.extract import turned_features, working_gray
from hashmatch.features.matcher import MIN_INLIERS, NEAR_MISS_AGREEING
from hashmatch.features.storage import decode_features, encode_features
from hashmatch.features.verify import similarity_fit
from hashmatch.media.variants import rotated_and_cropped

CELL = 40
#: The fill's border: no keypoint closer to it (half ORB's patch).
MARGIN = 15


def diamond_lattice(seed: int, width: int = 800, height: int = 600) -> Image.Image:
    """Outlined diamonds edge to edge; one in seven filled with a random colour."""
    rng = np.random.default_rng(seed)
    picture = Image.new("RGB", (width, height), (235, 235, 240))
    draw = ImageDraw.Draw(picture)
    for row in range(-1, height * 2 // CELL + 2):
        for column in range(-1, width // CELL + 2):
            x, y = column * CELL + (CELL // 2) * (row % 2), row * CELL // 2
            diamond = [
                (x, y - CELL // 4),
                (x + CELL // 2, y),
                (x, y + CELL // 4),
                (x - CELL // 2, y),
            ]
            coloured = rng.random() < 0.15
            fill = tuple(int(v) for v in rng.integers(40, 220, 3)) if coloured else (250, 250, 252)
            draw.polygon(diamond, fill=fill, outline=(20, 20, 20))
    return picture


def banked(picture: Image.Image) -> LocalFeatureMatcher:
    matcher = LocalFeatureMatcher()
    matcher.add("lattice", picture)
    return matcher


def turned_10(picture: Image.Image) -> Image.Image:
    return Image.fromarray(rotated_and_cropped(picture, 10))


@pytest.mark.parametrize("seed", [2, 3])
def test_a_rotated_copy_that_falls_short_is_found_turned_upright(seed: int) -> None:
    picture = diamond_lattice(seed)
    stored = decode_features(encode_features(extract_features(picture)))
    query = QueryFeatures(turned_10(picture))
    fit = similarity_fit(query.plain, stored)
    # The right fit (rotated_and_cropped turns counter-clockwise: -10 degrees
    # with y pointing down), rejected: too few inliers, or too small a share.
    assert fit.inliers < MIN_INLIERS
    assert fit.agreeing >= NEAR_MISS_AGREEING
    assert fit.degrees == pytest.approx(-10, abs=0.5)
    found = banked(picture).query(query)
    assert [content_id for content_id, _ in found] == ["lattice"]
    assert found[0][1] >= MIN_INLIERS
    assert query.turns == 1


def test_the_same_lattice_with_other_colours_is_not_found_turned_or_not() -> None:
    matcher = banked(diamond_lattice(3))
    for seed in (4, 5, 6):
        assert matcher.query(turned_10(diamond_lattice(seed))) == []


def test_copies_found_as_they_are_and_misses_with_no_near_miss_are_not_turned() -> None:
    picture = diamond_lattice(3)
    matcher = banked(picture)
    plain = QueryFeatures(picture.crop((40, 30, 760, 570)))
    assert [content_id for content_id, _ in matcher.query(plain)] == ["lattice"]
    unrelated = QueryFeatures(Image.effect_noise((640, 480), 40).convert("RGB"))
    assert matcher.query(unrelated) == []
    assert plain.turns == unrelated.turns == 0


def test_turned_features_stand_upright_and_keep_off_the_fill() -> None:
    picture = diamond_lattice(2)
    gray = working_gray(turned_10(picture))
    turned = turned_features(gray, -10)
    height, width = gray.shape
    # Back to the rotated copy's frame: every keypoint lies inside it, clear of its edge.
    angle = np.radians(-10)
    turn_back = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = np.array([turned.width / 2, turned.height / 2])
    back = (turned.points - centre) @ turn_back.T + np.array([width / 2, height / 2])
    assert len(turned) > 0
    assert back.min() >= MARGIN - 1
    assert (back[:, 0] <= width - MARGIN + 1).all()
    assert (back[:, 1] <= height - MARGIN + 1).all()
    # And the copy now stands as its bank image does.
    stored = decode_features(encode_features(extract_features(picture)))
    fit = similarity_fit(turned, stored)
    assert fit.inliers >= MIN_INLIERS
    assert fit.degrees == pytest.approx(0, abs=0.5)
