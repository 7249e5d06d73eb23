"""What a file's name, or the type it came with, says it is: an image, a video, or neither.

    declared_kind("holiday.jpg")                      # "image"
    declared_kind("upload", "video/mp4")              # "video"
    declared_kind("https://cdn.example/a.png?s=1")    # "image"
    declared_kind("drawing.svg")                      # None: not a format decoded here

Only image formats hashmatch decodes count as images.  A file that says it
is an image or a video and cannot be decoded as one is a damaged file, not
a file with exact hashes only.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import urlsplit

from PIL import Image

# Registers HEIF/AVIF with Pillow, so that their extensions count too.
import hashmatch.media.image  # noqa: F401

Kind = Literal["image", "video"]

#: Video extensions that Python's MIME table lacks or gives another type.
EXTRA_VIDEO_SUFFIXES = frozenset({".y4m", ".ts", ".mts", ".m2ts", ".3gp", ".3g2", ".ivf"})


def _image_suffixes() -> frozenset[str]:
    Image.init()
    return frozenset(
        suffix for suffix, name in Image.registered_extensions().items() if name in Image.OPEN
    )


IMAGE_SUFFIXES = _image_suffixes()


def declared_kind(name: str, content_type: str = "") -> Kind | None:
    """What the file says it is: by the content type if that names a kind, else by the name."""
    return _kind_of_type(content_type) or _kind_of_name(name)


def _kind_of_type(content_type: str) -> Kind | None:
    mime = content_type.split(";")[0].strip().lower()
    major = mime.partition("/")[0]
    if major == "video":
        return "video"
    if major == "image":
        suffixes = mimetypes.guess_all_extensions(mime)
        if not suffixes or IMAGE_SUFFIXES.intersection(suffixes):
            return "image"
    return None


def _kind_of_name(name: str) -> Kind | None:
    path = urlsplit(name).path if "://" in name else name
    suffix = PurePosixPath(path).suffix.lower()
    if not suffix:
        return None
    if suffix in EXTRA_VIDEO_SUFFIXES:
        return "video"
    # Before the images: Pillow identifies MPEG video streams (.mpg) too.
    guessed = mimetypes.guess_type(f"file{suffix}")[0] or ""
    if guessed.startswith("video/"):
        return "video"
    return "image" if suffix in IMAGE_SUFFIXES else None
