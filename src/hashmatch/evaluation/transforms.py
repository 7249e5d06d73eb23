"""The edits people make when they re-share a picture, each a pure function
from one PIL image to another under a stable name.

    from hashmatch.evaluation.transforms import TRANSFORMS
    edited = TRANSFORMS["crop_each_5"].apply(picture)

The set follows issue 18: compression and scaling that PDQ already survives
(a control: a matcher must not get worse at them), crops centred, on one
side and off-centre, borders and caption bands added, small rotations
(cropped back to an upright rectangle, as phone editors do), overlays over
the middle, and the photo shown inside a screenshot of an app.  Every
parameter is fixed so that two runs, on two machines, edit alike.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from hashmatch.errors import EvaluationError
from hashmatch.media.variants import rotated_and_cropped

RGB = tuple[int, int, int]

#: The colour of the "colour" border: a teal no photo edge is likely to be.
BORDER_COLOUR: RGB = (32, 128, 144)
#: What the caption band and the watermark say.
CAPTION = "when you see it"
WATERMARK = "SAMPLE"


@dataclass(frozen=True)
class Transform:
    """One named edit."""

    name: str
    description: str
    apply: Callable[[Image.Image], Image.Image]


def jpeg(picture: Image.Image, quality: int) -> Image.Image:
    """Encoded as JPEG at ``quality`` and decoded again."""
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def resized(picture: Image.Image, share: float) -> Image.Image:
    size = (max(round(picture.width * share), 1), max(round(picture.height * share), 1))
    return picture.resize(size, Image.Resampling.BILINEAR)


def blurred(picture: Image.Image, radius: float) -> Image.Image:
    return picture.filter(ImageFilter.GaussianBlur(radius))


def mirrored(picture: Image.Image) -> Image.Image:
    return ImageOps.mirror(picture)


def turned(picture: Image.Image, quarter_turns: int) -> Image.Image:
    """Rotated by 90° counter-clockwise ``quarter_turns`` times."""
    transposes = {
        1: Image.Transpose.ROTATE_90,
        2: Image.Transpose.ROTATE_180,
        3: Image.Transpose.ROTATE_270,
    }
    return picture.transpose(transposes[quarter_turns])


def window(picture: Image.Image, keep: float, x: float, y: float) -> Image.Image:
    """The ``keep`` share of width and height, its top-left corner at the
    fractions ``x`` and ``y`` of the width and height left over (0.5, 0.5 is
    a centred crop)."""
    width, height = max(round(picture.width * keep), 1), max(round(picture.height * keep), 1)
    left = round((picture.width - width) * x)
    top = round((picture.height - height) * y)
    return picture.crop((left, top, left + width, top + height))


def cut_right(picture: Image.Image, share: float) -> Image.Image:
    """The right ``share`` of the width cut off."""
    return picture.crop((0, 0, picture.width - round(picture.width * share), picture.height))


def bordered(picture: Image.Image, share: float, colour: RGB) -> Image.Image:
    """A border ``share`` of the width (left, right) and height (top,
    bottom) wide on every side."""
    across, down = round(picture.width * share), round(picture.height * share)
    return ImageOps.expand(picture.convert("RGB"), border=(across, down, across, down), fill=colour)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(size, 8))


def captioned(picture: Image.Image, share: float) -> Image.Image:
    """A white band with black text over the bottom ``share`` of the picture
    (the picture keeps its size: the band hides what was there)."""
    edited = picture.convert("RGB")
    band = max(round(edited.height * share), 1)
    draw = ImageDraw.Draw(edited)
    draw.rectangle((0, edited.height - band, edited.width, edited.height), fill=(255, 255, 255))
    draw.text(
        (edited.width / 2, edited.height - band / 2),
        CAPTION,
        fill=(0, 0, 0),
        font=_font(round(band * 0.6)),
        anchor="mm",
    )
    return edited


def rotated(picture: Image.Image, degrees: float) -> Image.Image:
    """Rotated counter-clockwise and cropped to the largest upright
    rectangle inside (no fill colour shows)."""
    return Image.fromarray(rotated_and_cropped(picture.convert("RGB"), degrees))


def stickered(picture: Image.Image) -> Image.Image:
    """A yellow round sticker with a dark ring, a third of the short side
    across, over the middle."""
    edited = picture.convert("RGB")
    radius = min(edited.size) / 6
    centre_x, centre_y = edited.width / 2, edited.height / 2
    box = (centre_x - radius, centre_y - radius, centre_x + radius, centre_y + radius)
    draw = ImageDraw.Draw(edited)
    draw.ellipse(box, fill=(250, 210, 40), outline=(60, 40, 20), width=max(round(radius / 10), 1))
    eye = radius / 6
    for dx in (-radius / 3, radius / 3):
        draw.ellipse(
            (centre_x + dx - eye, centre_y - radius / 3 - eye, centre_x + dx + eye, centre_y),
            fill=(60, 40, 20),
        )
    return edited


def watermarked(picture: Image.Image) -> Image.Image:
    """Large half-transparent white text across the middle."""
    base = picture.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = round(base.width / len(WATERMARK) * 1.3)
    draw.text(
        (base.width / 2, base.height / 2),
        WATERMARK,
        fill=(255, 255, 255, 128),
        font=_font(size),
        anchor="mm",
        stroke_width=max(size // 30, 1),
        stroke_fill=(0, 0, 0, 96),
    )
    return Image.alpha_composite(base, layer).convert("RGB")


def in_screenshot(picture: Image.Image, share: float) -> Image.Image:
    """A screenshot of an app showing the photo: a canvas the photo's size
    with a title bar, a side panel and lines of text, the photo scaled to
    ``share`` of the width in the content area."""
    canvas = Image.new("RGB", picture.size, (245, 245, 247))
    draw = ImageDraw.Draw(canvas)
    width, height = canvas.size
    bar = max(round(height * 0.08), 1)
    draw.rectangle((0, 0, width, bar), fill=(40, 44, 52))
    draw.text(
        (bar, bar / 2),
        "Photos - shared with you",
        fill=(230, 230, 230),
        anchor="lm",
        font=_font(round(bar * 0.45)),
    )
    panel = round(width * 0.2)
    draw.rectangle((0, bar, panel, height), fill=(225, 228, 232))
    line = max(round(height * 0.04), 2)
    for row in range(bar + line, height - line, 2 * line):
        draw.rectangle((line, row, panel - line, row + line // 2), fill=(170, 175, 185))
    photo = resized(picture.convert("RGB"), share)
    left = panel + (width - panel - photo.width) // 2
    top = bar + max((height - bar - photo.height) // 2, 0)
    canvas.paste(photo, (max(left, 0), top))
    return canvas


def _all() -> dict[str, Transform]:
    listed = [
        Transform("jpeg_q40", "JPEG at quality 40", partial(jpeg, quality=40)),
        Transform("jpeg_q30", "JPEG at quality 30", partial(jpeg, quality=30)),
        Transform("resize_50", "half the width and height", partial(resized, share=0.5)),
        Transform("blur", "Gaussian blur, radius 2 px", partial(blurred, radius=2.0)),
        Transform("mirror", "mirrored left to right", mirrored),
        Transform("rotate_90", "a quarter turn", partial(turned, quarter_turns=1)),
        Transform("rotate_180", "a half turn", partial(turned, quarter_turns=2)),
        Transform("rotate_270", "three quarter turns", partial(turned, quarter_turns=3)),
        Transform("crop_each_5", "5% cut off each side", partial(window, keep=0.9, x=0.5, y=0.5)),
        Transform("crop_each_15", "15% cut off each side", partial(window, keep=0.7, x=0.5, y=0.5)),
        Transform("crop_side_10", "10% cut off the right side", partial(cut_right, share=0.1)),
        Transform(
            "window_85_offset",
            "an 85% window off the centre (at 1/5 across, 4/5 down the slack)",
            partial(window, keep=0.85, x=0.2, y=0.8),
        ),
        Transform(
            "border_white_10",
            "white border, 10% of the size on each side",
            partial(bordered, share=0.1, colour=(255, 255, 255)),
        ),
        Transform(
            "border_black_10",
            "black border, 10% of the size on each side",
            partial(bordered, share=0.1, colour=(0, 0, 0)),
        ),
        Transform(
            "border_colour_10",
            "teal border, 10% of the size on each side",
            partial(bordered, share=0.1, colour=BORDER_COLOUR),
        ),
        Transform(
            "caption_bottom_12",
            "white caption band with text over the bottom 12%",
            partial(captioned, share=0.12),
        ),
        *(
            Transform(
                f"rotate_{degrees}",
                f"rotated {degrees}° and cropped upright",
                partial(rotated, degrees=degrees),
            )
            for degrees in (1, 3, 5, 10)
        ),
        Transform("sticker", "a round sticker over the middle", stickered),
        Transform("watermark", "half-transparent text across the middle", watermarked),
        Transform(
            "screenshot",
            "the photo at 60% inside an app's screenshot",
            partial(in_screenshot, share=0.6),
        ),
    ]
    return {transform.name: transform for transform in listed}


#: Every transform by name, in the order the table lists them.
TRANSFORMS: dict[str, Transform] = _all()


def chosen(names: list[str] | None) -> list[Transform]:
    """The transforms named (all when ``names`` is None or empty)."""
    if not names:
        return list(TRANSFORMS.values())
    unknown = [name for name in names if name not in TRANSFORMS]
    if unknown:
        raise EvaluationError(
            f"unknown transform(s): {', '.join(unknown)} (known: {', '.join(TRANSFORMS)})"
        )
    return [TRANSFORMS[name] for name in dict.fromkeys(names)]
