"""Bank and distractor images from two folders, each image tagged with its
source: the first folder under the given one that holds it.

    bank = collect(Path("sets/bank"))            # sets/bank/<source>/.../x.jpg
    distractors = without_sources(collect(Path("sets/distractors")), bank)

A distractor from the bank's own source (another wallpaper of the same
artist, another frame of the same shoot) is not an unrelated picture: a
match with it says little about false matches.  So distractors whose
source the bank also draws on are left out, and the split is by source,
never by file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hashmatch.errors import EvaluationError

#: File name endings read as pictures (what Pillow and pillow-heif decode).
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif"}
)


@dataclass(frozen=True)
class SourceImage:
    """One picture: ``key`` is its path under the set's folder (stable across
    runs and machines), ``source`` the first folder of that path ("" for a
    file directly in the set's folder)."""

    key: str
    source: str
    path: Path


def collect(folder: Path) -> list[SourceImage]:
    """Every picture under ``folder``, sorted by key; an error naming the
    folder when it is missing, unreadable or holds no picture."""
    if not folder.is_dir():
        raise EvaluationError(f"{folder}: not a folder")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise EvaluationError(f"{folder}: cannot read this folder")
    found: list[SourceImage] = []
    try:
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                key = path.relative_to(folder).as_posix()
                source = key.split("/", 1)[0] if "/" in key else ""
                found.append(SourceImage(key, source, path))
    except OSError as error:
        raise EvaluationError(f"{folder}: cannot read: {error.strerror or error}") from None
    if not found:
        suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
        raise EvaluationError(f"{folder}: no pictures in this folder ({suffixes})")
    return found


def without_sources(images: list[SourceImage], bank: list[SourceImage]) -> list[SourceImage]:
    """``images`` less those whose source the bank also draws on."""
    taken = {image.source for image in bank}
    return [image for image in images if image.source not in taken]
