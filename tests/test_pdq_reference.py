"""PDQ hashes of the reference images equal those of the reference library."""

from __future__ import annotations

import pytest

from hashmatch.media import open_image
from hashmatch.signals.pdq import PdqSignal
from tests.conftest import REFERENCE_IMAGES, ReferenceImage

PDQ = PdqSignal()


def test_every_colour_mode_is_covered() -> None:
    modes = {image.mode for image in REFERENCE_IMAGES}
    assert {"1", "L", "LA", "P", "RGB", "RGBA", "CMYK"} <= modes


@pytest.mark.parametrize("reference", REFERENCE_IMAGES, ids=lambda image: image.id)
def test_hash_and_quality_identical(reference: ReferenceImage) -> None:
    with open_image(reference.path) as opened:
        result = PDQ.compute(opened)
    assert (result.hash.hex, result.quality) == (reference.pdq, reference.quality)


@pytest.mark.parametrize("reference", REFERENCE_IMAGES, ids=lambda image: image.id)
def test_dihedral_hashes_identical(reference: ReferenceImage) -> None:
    with open_image(reference.path) as opened:
        result = PDQ.compute_dihedral(opened)
    assert tuple(value.hex for value in result.hashes) == reference.dihedral
    assert result.quality == reference.quality


def test_rotated_files_are_found_through_dihedral_hashes() -> None:
    """The dih/ folder holds the 8 transforms of one photo as separate files."""
    by_name = {image.path.name: image for image in REFERENCE_IMAGES}
    original = by_name["bridge-1-original.jpg"]
    for position, name in enumerate(
        [
            "bridge-1-original.jpg",
            "bridge-2-rotate-90.jpg",
            "bridge-3-rotate-180.jpg",
            "bridge-4-rotate-270.jpg",
            "bridge-5-flipx.jpg",
            "bridge-6-flipy.jpg",
            "bridge-7-flip-plus-1.jpg",
            "bridge-8-flip-minus-1.jpg",
        ]
    ):
        distance = PDQ.distance(by_name[name].pdq, original.dihedral[position])
        assert distance <= 10, (name, distance)
