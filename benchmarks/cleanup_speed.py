"""Query clean-up (hashmatch.media.cleanup): time per image and recall.

    .venv/bin/python benchmarks/cleanup_speed.py [--side 1024] [--repeat 20]

On the shared sample photos (tests/data/photos) and scikit-image's
sample images, scaled to ``--side`` pixels on the long side (a typical
upload), it prints:

* clean-up time per image, p50/p95, beside our PDQ's and the reference
  ``pdqhash``'s time on the same image, in this process, on one core;
* for the re-share edits of issue 18 (10% white, black and colour border; a
  caption band over the bottom 12%), how many copies clean-up makes match
  their original (PDQ distance <= 31) and how many would without it;
* false matches: cleaned copies within 31 bits of any *other* image of the
  set, with the closest such distance, and originals that clean-up cuts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from hashmatch.media.cleanup import clean_image
from hashmatch.pdq import hasher

PHOTOS = Path(__file__).resolve().parents[1] / "tests" / "data" / "photos"
THRESHOLD = 31


def sample_images(side: int) -> Iterator[tuple[str, np.ndarray]]:
    """(name, RGB pixels) of every benign sample image, scaled to ``side``."""
    for path in sorted(PHOTOS.glob("*.jpg")):
        with Image.open(path) as image:
            yield path.stem, _scaled(image.convert("RGB"), side)
    from skimage import data

    for name in data.__all__:
        if name in ("download_all", "lbp_frontal_face_cascade_filename", "data_dir"):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                array = getattr(data, name)()
        except Exception:  # noqa: BLE001 - images that need a download are skipped
            continue
        if not isinstance(array, np.ndarray) or array.dtype != np.uint8:
            continue
        shaped = array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))
        if shaped and min(array.shape[:2]) >= 64:
            yield f"skimage-{name}", _scaled(Image.fromarray(array).convert("RGB"), side)


def _scaled(image: Image.Image, side: int) -> np.ndarray:
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return np.asarray(image.resize(size, Image.Resampling.BILINEAR))


def bordered(rgb: np.ndarray, colour: tuple[int, int, int], share: float = 0.1) -> np.ndarray:
    """The image in a border ``share`` of its height/width wide on each side."""
    height, width = rgb.shape[:2]
    pad_y, pad_x = round(height * share), round(width * share)
    out = np.empty((height + 2 * pad_y, width + 2 * pad_x, 3), np.uint8)
    out[:] = colour
    out[pad_y : pad_y + height, pad_x : pad_x + width] = rgb
    return out


def captioned(
    rgb: np.ndarray, share: float = 0.12, text: str = "when the code works"
) -> np.ndarray:
    """A flat white band with black text over the bottom ``share`` of the image."""
    image = Image.fromarray(rgb.copy())
    height = image.height
    band = round(height * share)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height - band, image.width, height), fill=(255, 255, 255))
    font = ImageFont.load_default(size=max(8, band // 2))
    draw.text((image.width // 10, height - band + band // 5), text, fill=(0, 0, 0), font=font)
    return np.asarray(image)


def jpeg(rgb: np.ndarray, quality: int = 85) -> np.ndarray:
    """As re-shared: through a JPEG round trip."""
    import io

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as image:
        return np.asarray(image.convert("RGB"))


EDITS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "border 10% white": lambda rgb: bordered(rgb, (255, 255, 255)),
    "border 10% black": lambda rgb: bordered(rgb, (0, 0, 0)),
    "border 10% colour": lambda rgb: bordered(rgb, (40, 110, 200)),
    "caption bottom 12%": captioned,
}


def _ms(action: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", type=int, default=1024, help="long side of the test images")
    parser.add_argument("--repeat", type=int, default=20, help="timings per image")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    import pdqhash  # the reference library (a dev dependency)

    images = list(sample_images(args.side))
    edited = {name: {edit: jpeg(make(rgb)) for edit, make in EDITS.items()} for name, rgb in images}
    cleanup_ms: list[float] = []
    pdq_ms: list[float] = []
    reference_ms: list[float] = []
    for name, rgb in images:
        for query in (rgb, *edited[name].values()):
            cleanup_ms += _ms(lambda q=query: clean_image(q), args.repeat)
        pdq_ms += _ms(lambda rgb=rgb: hasher.pdq_from_rgb(rgb), max(1, args.repeat // 4))
        reference_ms += _ms(lambda rgb=rgb: pdqhash.compute(rgb), max(1, args.repeat // 4))
    print(f"{len(images)} images, long side {args.side} px, one core")
    for label, times in (
        ("clean-up", cleanup_ms),
        ("PDQ (hashmatch)", pdq_ms),
        ("PDQ (pdqhash)", reference_ms),
    ):
        p50 = statistics.median(times)
        p95 = statistics.quantiles(times, n=20)[-1]
        print(f"  {label:<16} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms")

    originals = {name: hasher.pdq_from_rgb(rgb).hash.hex for name, rgb in images}
    # Images of the set that match each other as they are (two shots of one
    # scene) are the same content, not distractors.
    same = {
        name: {o for o, h in originals.items() if _distance(h, value) <= THRESHOLD}
        for name, value in originals.items()
    }
    twins = sorted(name for name, group in same.items() if len(group) > 1)
    print(f"near-duplicates in the set (not counted as distractors): {twins}")
    cut_originals = [name for name, rgb in images if clean_image(rgb) is not None]
    print(f"originals cut by clean-up: {len(cut_originals)} {cut_originals}")
    print(f"{'edit':<20} {'PDQ alone':>10} {'+ clean-up':>11} {'false':>6} {'closest other':>14}")
    for edit in EDITS:
        alone = cleaned_hits = false = 0
        closest = 256
        for name, _ in images:
            query = edited[name][edit]
            plain = hasher.pdq_from_rgb(query).hash.hex
            found = _distance(plain, originals[name]) <= THRESHOLD
            alone += found
            cleanup = clean_image(query)
            if cleanup is not None:
                value = hasher.pdq_from_rgb(cleanup.pixels).hash.hex
                found = found or _distance(value, originals[name]) <= THRESHOLD
                others = [
                    _distance(value, h) for other, h in originals.items() if other not in same[name]
                ]
                closest = min(closest, *others)
                false += sum(d <= THRESHOLD for d in others)
            cleaned_hits += found
        count = len(images)
        print(
            f"{edit:<20} {alone / count:>10.2f} {cleaned_hits / count:>11.2f} "
            f"{false:>6} {closest:>14}"
        )


if __name__ == "__main__":
    main()
