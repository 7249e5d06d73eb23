"""Query clean-up: uniform borders and plain caption bands cut off a query
image, and the cleaned image's extra PDQ hash matching through /v1/match."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw, ImageFont

from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.hashing import HashRequest, hash_file
from hashmatch.media.cleanup import MAX_SIDE_SHARE, SAMPLES, clean_image
from hashmatch.pdq import hasher
from hashmatch.settings import Settings
from hashmatch.signals.pdq import PdqSignal
from hashmatch.store import Database
from tests.conftest import DATA

PHOTOS = sorted((DATA / "photos").glob("*.jpg"))
PHOTO = DATA / "photos" / "nature-beach-malibu.jpg"
OTHER = DATA / "photos" / "indoors-kitchen.jpg"
THRESHOLD = PdqSignal.default_threshold
COLOURS = {"white": (255, 255, 255), "black": (0, 0, 0), "blue": (40, 110, 200)}


def photo(path: Path = PHOTO, side: int = 640) -> np.ndarray:
    with Image.open(path) as image:
        image = image.convert("RGB")
        image.thumbnail((side, side))
        return np.asarray(image)


def skimage_photos() -> list[tuple[str, np.ndarray]]:
    from skimage import data

    found = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "page", "moon"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = getattr(data, name)()
        found.append((name, np.asarray(Image.fromarray(array).convert("RGB"))))
    return found


def bordered(rgb: np.ndarray, widths: tuple[int, int, int, int], colour: Any) -> np.ndarray:
    top, right, bottom, left = widths
    height, width = rgb.shape[:2]
    out = np.empty((height + top + bottom, width + left + right, 3), np.uint8)
    out[:] = colour
    out[top : top + height, left : left + width] = rgb
    return out


def with_caption(
    rgb: np.ndarray, edge: str, band: int, colour: Any = (255, 255, 255)
) -> np.ndarray:
    """The picture with a flat band of ``band`` rows added at ``edge``, text on it."""
    height, width = rgb.shape[:2]
    canvas = Image.new("RGB", (width, height + band), colour)
    canvas.paste(Image.fromarray(rgb), (0, band if edge == "top" else 0))
    top = 0 if edge == "top" else height
    ink = (0, 0, 0) if sum(colour) > 300 else (255, 255, 255)
    font = ImageFont.load_default(size=max(8, band // 2))
    ImageDraw.Draw(canvas).text((width // 12, top + band // 5), "me on monday", ink, font=font)
    return np.asarray(canvas)


def jpeg(rgb: np.ndarray, tmp_path: Path, name: str = "copy.jpg", quality: int = 85) -> Path:
    path = tmp_path / name
    Image.fromarray(rgb).save(path, quality=quality)
    return path


def reread(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def pdq(rgb: np.ndarray) -> str:
    return hasher.pdq_from_rgb(rgb).hash.hex


def distance(a: str, b: str) -> int:
    return PdqSignal().distance(a, b)


# -- borders ----------------------------------------------------------------------------


@pytest.mark.parametrize("colour", sorted(COLOURS))
@pytest.mark.parametrize("share", [0.03, 0.1, 0.25])
def test_a_uniform_border_is_cut_to_within_a_sample_step(
    colour: str, share: float, tmp_path: Path
) -> None:
    rgb = photo()
    height, width = rgb.shape[:2]
    widths = (
        round(height * share),
        round(width * share),
        round(height * share),
        round(width * share),
    )
    copy = reread(jpeg(bordered(rgb, widths, COLOURS[colour]), tmp_path))
    cleaned = clean_image(copy)
    assert cleaned is not None
    assert cleaned.border is not None
    assert cleaned.caption is None
    step = max(1, max(copy.shape[:2]) // SAMPLES)
    for cut, true in zip(cleaned.border, widths, strict=True):
        assert true - step <= cut <= true + 1
    assert distance(pdq(cleaned.pixels), pdq(rgb)) <= THRESHOLD
    assert distance(pdq(copy), pdq(rgb)) > THRESHOLD  # without clean-up it is missed


def test_a_border_on_some_sides_only_is_cut_there_only(tmp_path: Path) -> None:
    rgb = photo(DATA / "photos" / "outdoors-castle.jpg")
    copy = reread(jpeg(bordered(rgb, (60, 0, 60, 0), (0, 0, 0)), tmp_path))  # letterbox
    cleaned = clean_image(copy)
    assert cleaned is not None
    assert cleaned.border is not None
    top, right, bottom, left = cleaned.border
    assert (right, left) == (0, 0)
    assert 50 <= top <= 61
    assert 50 <= bottom <= 61


@pytest.mark.parametrize("gamma", [2.5, 4.0])
def test_a_dark_photo_keeps_its_own_edges(gamma: float, tmp_path: Path) -> None:
    rgb = photo(DATA / "photos" / "outdoors-castle.jpg")
    dark = (255 * (rgb / 255.0) ** gamma).astype(np.uint8)
    dark_copy = reread(jpeg(dark, tmp_path))
    cleaned = clean_image(dark_copy)
    assert cleaned is None or max(cleaned.border or (0,)) <= 0.02 * max(dark.shape)
    framed = reread(jpeg(bordered(dark, (48, 64, 48, 64), (0, 0, 0)), tmp_path, "framed.jpg"))
    cut = clean_image(framed)
    if cut is not None:  # never more than the frame: the photo's own dark edges stay
        assert cut.border is not None
        assert all(c <= w + 1 for c, w in zip(cut.border, (48, 64, 48, 64), strict=True))


def test_a_flat_sky_that_fades_into_the_picture_is_not_cut() -> None:
    height, width = 300, 400
    rows = np.linspace(0, 1, height)[:, None]
    sky = np.zeros((height, width, 3), np.uint8)
    sky[:] = (120, 170, 230)
    ground = np.random.default_rng(1).integers(0, 255, (height, width, 3), dtype=np.uint8)
    # a soft horizon: the ground takes over row by row, a few columns at a time
    weight = np.clip((rows - 0.3) * 4 + np.linspace(-0.3, 0.3, width)[None, :], 0, 1)[..., None]
    picture = (sky * (1 - weight) + ground * weight).astype(np.uint8)
    assert clean_image(picture) is None


@pytest.mark.parametrize("path", PHOTOS, ids=lambda path: path.stem)
def test_ordinary_photos_lose_little_or_nothing(path: Path) -> None:
    rgb = photo(path)
    cleaned = clean_image(rgb)
    if cleaned is not None:  # e.g. a flat floor in a drawing: never past the limits
        height, width = rgb.shape[:2]
        kept_h, kept_w = cleaned.pixels.shape[:2]
        assert kept_h >= (1 - 2 * MAX_SIDE_SHARE) * height
        assert kept_w >= (1 - 2 * MAX_SIDE_SHARE) * width
        assert kept_h * kept_w >= 0.4 * height * width


def test_scikit_image_samples_bordered_and_plain() -> None:
    for name, rgb in skimage_photos():
        cleaned = clean_image(rgb)
        if cleaned is not None:
            assert cleaned.pixels.size >= 0.4 * rgb.size, name
        framed = clean_image(bordered(rgb, (40, 40, 40, 40), (255, 255, 255)))
        if name != "page":  # a scanned page is white to its edges: its margin joins the frame
            assert framed is not None, name
            assert framed.border is not None, name
            assert distance(pdq(framed.pixels), pdq(rgb)) <= THRESHOLD, name


# -- captions -----------------------------------------------------------------------


@pytest.mark.parametrize("edge", ["top", "bottom"])
@pytest.mark.parametrize("colour", [(255, 255, 255), (0, 0, 0), (250, 220, 40)])
def test_a_caption_band_is_cut(edge: str, colour: Any, tmp_path: Path) -> None:
    rgb = photo()
    band = round(rgb.shape[0] * 0.15)
    copy = reread(jpeg(with_caption(rgb, edge, band, colour), tmp_path))
    cleaned = clean_image(copy)
    assert cleaned is not None
    assert cleaned.caption == edge
    assert cleaned.to_json() == {"caption": edge}
    assert band - 8 <= cleaned.caption_rows <= band + 1
    assert distance(pdq(cleaned.pixels), pdq(rgb)) <= THRESHOLD


def test_a_flat_band_without_text_is_a_border_not_a_caption() -> None:
    rgb = photo()
    cleaned = clean_image(bordered(rgb, (0, 0, 50, 0), (255, 255, 255)))
    assert cleaned is not None
    assert cleaned.caption is None
    assert cleaned.border is not None
    assert cleaned.border[:2] == (0, 0)
    assert cleaned.border[3] == 0
    assert 50 <= cleaned.border[2] <= 51


# -- shapes and modes ---------------------------------------------------------------


@pytest.mark.parametrize("size", [(1, 1), (5, 3), (15, 40), (16, 16)])
def test_tiny_images_are_left_alone(size: tuple[int, int]) -> None:
    assert clean_image(np.full((*size, 3), 255, np.uint8)) is None


def test_flat_and_noise_images_are_left_alone() -> None:
    assert clean_image(np.full((300, 200, 3), 7, np.uint8)) is None
    noise = np.random.default_rng(0).integers(0, 255, (301, 199, 3), dtype=np.uint8)
    assert clean_image(noise) is None


def test_grey_and_four_channel_arrays_keep_their_shape() -> None:
    grey = bordered(photo(), (20, 20, 20, 20), (255, 255, 255))[:, :, 0]
    cleaned = clean_image(grey)
    assert cleaned is not None
    assert cleaned.pixels.ndim == 2
    framed = bordered(photo(), (20, 20, 20, 20), (0, 0, 0))
    rgba = np.dstack([framed, np.full(framed.shape[:2], 255, np.uint8)])
    cleaned = clean_image(rgba)
    assert cleaned is not None
    assert cleaned.pixels.shape[2] == 4


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "RGB"])
def test_files_of_any_mode_get_a_cleaned_hash(mode: str, tmp_path: Path) -> None:
    rgb = bordered(photo(), (31, 43, 31, 43), (255, 255, 255))
    path = tmp_path / "bordered.png"
    Image.fromarray(rgb).convert(mode).save(path)
    result = hash_file(path, HashRequest(dihedral=True, query_cleanup=True))
    assert result.ok, result.error
    assert result.cleaned["pdq"].removed["border"][0] in range(28, 33)
    plain = hash_file(path, HashRequest(dihedral=True))
    assert plain.signals == result.signals
    assert plain.dihedral == result.dihedral
    assert not plain.cleaned
    untouched = hash_file(PHOTO, HashRequest(query_cleanup=True))
    assert not untouched.cleaned
    assert "pdq_cleaned" not in untouched.to_json()


# -- through /v1/match ------------------------------------------------------------------


def _client(database_url: str, tmp_path: Path, cleanup: bool) -> Iterator[tuple[TestClient, Any]]:
    database = Database.open(database_url)
    keys = ApiKeys(database)
    headers = {
        s: {"Authorization": f"Bearer {keys.create(s, [s])[0]}"} for s in ("curate", "match")
    }
    database.close()
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, match_query_cleanup=cleanup
    )
    application = create_app(settings)
    with TestClient(application, raise_server_exceptions=False) as client:
        application.state.service.wait_until_loaded(60)
        assert (
            client.post("/c/banks", json={"name": "KNOWN"}, headers=headers["curate"]).status_code
            == 201
        )
        added = client.post(
            "/c/bank/KNOWN/content",
            files={"photo": ("beach.jpg", PHOTO.read_bytes(), "image/jpeg")},
            headers=headers["curate"],
        )
        assert added.status_code == 200, added.text
        yield client, headers


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Any]]:
    yield from _client(database_url, tmp_path, cleanup=True)


def _match(client: TestClient, headers: Any, path: Path) -> dict[str, Any]:
    found = client.post(
        "/v1/match",
        files={"file": (path.name, path.read_bytes(), "image/jpeg")},
        headers=headers["match"],
    )
    assert found.status_code == 200, found.text
    return dict(found.json())


def test_bordered_and_captioned_copies_match_through_the_cleaned_query(
    api: tuple[TestClient, Any], tmp_path: Path
) -> None:
    client, headers = api
    rgb = reread(PHOTO)
    height, width = rgb.shape[:2]
    border = (height // 10, width // 10, height // 10, width // 10)
    framed = jpeg(bordered(rgb, border, (0, 0, 0)), tmp_path, "framed.jpg")
    record = _match(client, headers, framed)
    [match] = record["matches"]
    assert match["query"] == "cleaned"
    assert set(match["cleanup"]) == {"border"}
    assert record["pdq_cleaned"]["cleanup"] == match["cleanup"]
    captioned = jpeg(with_caption(rgb, "bottom", height // 7), tmp_path, "captioned.jpg")
    [match] = _match(client, headers, captioned)["matches"]
    assert (match["query"], match["cleanup"]) == ("cleaned", {"caption": "bottom"})
    # the original matches as itself: its own hash wins, no "query" is reported
    [match] = _match(client, headers, PHOTO)["matches"]
    assert "query" not in match
    assert match["distance"] == 0
    # unrelated photos, framed and captioned, still match nothing
    other = reread(OTHER)
    for name, picture in (
        ("other-framed.jpg", bordered(other, (40, 50, 40, 50), (255, 255, 255))),
        ("other-captioned.jpg", with_caption(other, "top", other.shape[0] // 7)),
    ):
        assert _match(client, headers, jpeg(picture, tmp_path, name))["matches"] == []


def test_the_setting_turns_the_cleaned_query_off(database_url: str, tmp_path: Path) -> None:
    for client, headers in _client(database_url, tmp_path, cleanup=False):
        rgb = reread(PHOTO)
        framed = jpeg(bordered(rgb, (60, 80, 60, 80), (255, 255, 255)), tmp_path, "framed.jpg")
        record = _match(client, headers, framed)
        assert record["matches"] == []
        assert "pdq_cleaned" not in record


def test_hma_upload_lookups_find_a_bordered_copy(
    api: tuple[TestClient, Any], tmp_path: Path
) -> None:
    client, headers = api
    framed = jpeg(bordered(reread(PHOTO), (50, 70, 50, 70), (255, 255, 255)), tmp_path)
    found = client.post(
        "/m/lookup", files={"photo": ("framed.jpg", framed.read_bytes())}, headers=headers["match"]
    )
    assert found.status_code == 200, found.text
    [hit] = found.json()["pdq"]["KNOWN"]
    assert int(hit["distance"]) <= THRESHOLD
    other = jpeg(bordered(reread(OTHER), (50, 70, 50, 70), (255, 255, 255)), tmp_path, "o.jpg")
    missed = client.post(
        "/m/lookup", files={"photo": ("o.jpg", other.read_bytes())}, headers=headers["match"]
    )
    assert missed.json()["pdq"] == {}


def test_the_original_query_wins_where_both_match(
    api: tuple[TestClient, Any], tmp_path: Path
) -> None:
    client, _ = api
    matcher = client.app.state.service.matcher()  # type: ignore[attr-defined]
    own = hash_file(PHOTO, HashRequest(dihedral=True))
    framed = hash_file(
        jpeg(bordered(reread(PHOTO), (36, 48, 36, 48), (0, 0, 0)), tmp_path),
        HashRequest(dihedral=True, query_cleanup=True),
    )
    both = replace(own, cleaned=framed.cleaned)  # its own hash and a cleaned one match
    [match] = matcher.match_result(both)
    assert match.query is None
    assert match.distance == 0
    only_cleaned = replace(framed, cleaned=framed.cleaned)
    [match] = matcher.match_result(only_cleaned)
    assert match.query == "cleaned"
    assert match.cleanup == framed.cleaned["pdq"].removed
