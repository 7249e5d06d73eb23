"""Generated abstract pictures at photo sizes: a gradient sky, textured
ground, shapes in the light, for distractor sets that anyone can rebuild.

    picture = scene(seed=7)   # the same pixels for the same seed, everywhere

They are benign by construction and unlike any photo's content, so a match
between one and a bank photo is a false match beyond doubt.  numpy's
seeded generator makes each scene a function of its seed alone.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

#: Sizes a phone or camera gives (width, height), landscape and portrait.
SIZES = ((1024, 768), (1200, 800), (800, 1066), (960, 960), (1280, 720))


def scene(seed: int) -> Image.Image:
    """One RGB picture: a two-colour gradient, a band of noise texture, then
    20 to 60 shapes of random colour, size and place, softened a little."""
    rng = np.random.default_rng(seed)
    width, height = SIZES[int(rng.integers(len(SIZES)))]
    picture = Image.fromarray(_gradient(rng, width, height))
    draw = ImageDraw.Draw(picture, "RGBA")
    for _ in range(int(rng.integers(20, 61))):
        _shape(draw, rng, width, height)
    return picture.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.5))))


def _gradient(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    top, bottom = rng.integers(0, 256, size=(2, 3))
    angle = rng.uniform(0, np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    along = xs / width * np.cos(angle) + ys / height * np.sin(angle)
    along = (along - along.min()) / max(float(np.ptp(along)), 1e-6)
    pixels = top + (bottom - top) * along[..., None]
    texture = rng.normal(0, rng.uniform(2, 18), size=(height // 8 + 1, width // 8 + 1, 1))
    pixels += np.kron(texture, np.ones((8, 8, 1)))[:height, :width]
    clipped: np.ndarray = np.clip(pixels, 0, 255).astype(np.uint8)
    return clipped


def _shape(draw: ImageDraw.ImageDraw, rng: np.random.Generator, width: int, height: int) -> None:
    colour = (*(int(c) for c in rng.integers(0, 256, size=3)), int(rng.integers(90, 256)))
    size = rng.uniform(0.03, 0.3) * min(width, height)
    x, y = rng.uniform(0, width), rng.uniform(0, height)
    kind = int(rng.integers(3))
    if kind == 0:
        draw.ellipse((x - size, y - size * rng.uniform(0.4, 1), x + size, y + size), fill=colour)
    elif kind == 1:
        draw.rectangle((x, y, x + size * rng.uniform(0.5, 2), y + size), fill=colour)
    else:
        corners = rng.uniform(-size, size, size=(int(rng.integers(3, 7)), 2)) + np.array([x, y])
        draw.polygon([(float(cx), float(cy)) for cx, cy in corners], fill=colour)
