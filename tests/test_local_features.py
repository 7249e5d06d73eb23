"""The second stage: ORB local features, their storage, search and verification."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from hashmatch.features import (
    Features,
    LocalFeatureMatcher,
    QueryFeatures,
    decode_features,
    encode_features,
)
from hashmatch.features import extract as extract_module
from hashmatch.features import matcher as matcher_module
from hashmatch.features import verify as verify_module
from hashmatch.features.extract import WORKING_SIZE, extract_features
from hashmatch.features.matcher import VOTE_KEYPOINTS
from hashmatch.features.search import DescriptorIndex
from hashmatch.features.storage import STORED_KEYPOINTS, FeatureBlobError
from hashmatch.index import live as live_module

PHOTOS = sorted((Path(__file__).parent / "data" / "photos").glob("*.jpg"))
#: Bank photos the edits are asserted on; the others are distractors.
BANK = PHOTOS[1::8]
DISTRACTORS = [p for p in PHOTOS if p not in BANK]


def load(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def crop_off_centre(image: Image.Image) -> Image.Image:
    w, h = image.size
    return image.crop((int(w * 0.15), int(h * 0.02), int(w * 0.15) + int(w * 0.85), int(h * 0.87)))


def crop_each_side(image: Image.Image) -> Image.Image:
    w, h = image.size
    return image.crop((int(w * 0.05), int(h * 0.05), int(w * 0.95), int(h * 0.95)))


def caption_band(image: Image.Image) -> Image.Image:
    image = image.copy()
    w, h = image.size
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, int(h * 0.88), w, h), fill=(255, 255, 255))
    draw.text((10, int(h * 0.9)), "when you see it", fill=(0, 0, 0))
    return image


def dark_border(image: Image.Image) -> Image.Image:
    return ImageOps.expand(image, border=image.width // 10, fill=(8, 8, 8))


def rotated(degrees: float) -> Callable[[Image.Image], Image.Image]:
    def rotate(image: Image.Image) -> Image.Image:
        w, h = image.size
        turned = image.rotate(degrees, resample=Image.Resampling.BICUBIC)
        return turned.crop((int(w * 0.08), int(h * 0.08), int(w * 0.92), int(h * 0.92)))

    return rotate


def half_size(image: Image.Image) -> Image.Image:
    return image.resize((image.width // 2, image.height // 2), Image.Resampling.BILINEAR)


def jpeg_q30(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=30)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def in_screenshot(image: Image.Image) -> Image.Image:
    """The picture at 60% of a drawn app screen: title bar, text, buttons."""
    w, h = image.size
    frame = Image.new("RGB", (int(w / 0.6), int(h / 0.6)), (240, 240, 240))
    draw = ImageDraw.Draw(frame)
    draw.rectangle((0, 0, frame.width, 40), fill=(40, 60, 120))
    for i in range(6):
        draw.text((10 + i * 70, 14), f"Menu {i}", fill=(255, 255, 255))
    for row in range(12):
        draw.text((8, 60 + row * 22), f"user{row}: reply text #{row}", fill=(30, 30, 30))
    for b in range(4):
        box = (frame.width - 120, 60 + b * 50, frame.width - 20, 95 + b * 50)
        draw.rounded_rectangle(box, 6, outline=(90, 90, 90), fill=(220, 225, 235))
    frame.paste(image, ((frame.width - w) // 2, (frame.height - h) // 2 + 10))
    return frame


def sticker_and_text(image: Image.Image) -> Image.Image:
    image = image.copy()
    w, h = image.size
    draw = ImageDraw.Draw(image)
    box = (int(w * 0.35), int(h * 0.3), int(w * 0.65), int(h * 0.7))
    draw.ellipse(box, fill=(250, 200, 0), outline=(0, 0, 0), width=3)
    draw.text((int(w * 0.4), int(h * 0.48)), "WOW!!", fill=(0, 0, 0))
    for i in range(5):
        draw.text(
            (int(w * 0.05), int(h * 0.1) + i * 14), "watermark @someone", fill=(255, 255, 255)
        )
    return image


EDITS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "crop_off_centre_85": crop_off_centre,
    "crop_5_each_side": crop_each_side,
    "caption_band": caption_band,
    "dark_border": dark_border,
    "rotate_3": rotated(3),
    "rotate_10": rotated(10),
    "half_size": half_size,
    "jpeg_q30": jpeg_q30,
    "mirror": ImageOps.mirror,
    "screenshot_60": in_screenshot,
    "sticker_and_text": sticker_and_text,
}
#: Bank photos (of 8) each edit must match.  Measured on all 61 photos:
#: half size 0.89, rotations 0.97, the rest 0.98-1.00 (see the docs).
MUST_MATCH = {"half_size": 6, "rotate_3": 7, "rotate_10": 7}


@pytest.fixture(scope="module")
def matcher() -> LocalFeatureMatcher:
    bank = LocalFeatureMatcher()
    for path in BANK:
        bank.add(path.stem, load(path))
    return bank


def textureless() -> list[Image.Image]:
    flat = Image.new("RGB", (640, 480), (120, 130, 140))
    ramp = np.tile(np.linspace(0, 255, 640, dtype=np.uint8), (480, 1))
    return [flat, Image.fromarray(ramp), jpeg_q30(flat)]


def sensor_noise(seed: int) -> Image.Image:
    """A flat grey with noise of one level: FAST at threshold 1 cannot tell
    it from fine texture, so it has features, but they are its own."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(np.clip(120 + rng.normal(0, 1.0, (480, 640)), 0, 255).astype(np.uint8))


# -- extraction ----------------------------------------------------------------


def test_photos_give_spread_features_and_textureless_images_none() -> None:
    features = extract_features(load(BANK[0]))
    assert 200 <= len(features) <= extract_module.MAX_KEYPOINTS
    assert features.descriptors.shape == (len(features), 32)
    for image in textureless():
        assert len(extract_features(image)) == 0


def _overlay_share(points: np.ndarray, width: int, height: int) -> float:
    return float(((points[:, 0] < width / 2) & (points[:, 1] < height / 2)).mean())


@pytest.mark.parametrize("name", ["indoors-clothing-store", "nature-hill"])
def test_dense_overlay_takes_fewer_stored_keypoints_than_plain_orb(name: str) -> None:
    """Text over a quarter of the picture: the grid keeps more of the picture's corners."""
    image = load(PHOTOS[0].parent / f"{name}.jpg")
    quarter = image.crop((0, 0, image.width // 2, image.height // 2))
    draw = ImageDraw.Draw(quarter)
    for row in range(0, quarter.height, 10):
        draw.text((0, row), "#@% WATERMARK #@% " * 3, fill=(255, 255, 255))
    image.paste(quarter, (0, 0))
    ours = extract_features(image).head(STORED_KEYPOINTS)
    gray = extract_module.working_gray(image)
    plain = cv2.ORB.create(nfeatures=STORED_KEYPOINTS).detect(gray, None)
    plain_points = np.array([kp.pt for kp in plain])
    plain_share = _overlay_share(plain_points, gray.shape[1], gray.shape[0])
    assert _overlay_share(ours.points, ours.width, ours.height) <= plain_share - 0.2


def test_large_images_are_worked_at_the_working_size() -> None:
    image = load(BANK[0]).resize((2048, 1536))
    features = extract_features(image)
    assert (features.width, features.height) == (WORKING_SIZE, 768)


def test_non_8_bit_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="8-bit"):
        extract_features(np.zeros((100, 100), np.float32))


# -- storage -------------------------------------------------------------------


def test_storage_round_trips_within_8_kb() -> None:
    for path in PHOTOS[:12]:
        features = extract_features(load(path))
        blob = encode_features(features)
        assert len(blob) <= 8 * 1024
        back = decode_features(blob)
        kept = features.head(STORED_KEYPOINTS)
        assert (back.width, back.height) == (features.width, features.height)
        assert np.array_equal(back.descriptors, kept.descriptors)
        assert np.array_equal(back.octaves, kept.octaves)
        assert np.abs(back.points - kept.points).max() <= 1 / 32
        turn = np.abs(back.angles - kept.angles) % 360
        assert np.minimum(turn, 360 - turn).max() <= 360 / 512 + 1e-3


def test_empty_features_round_trip() -> None:
    back = decode_features(encode_features(extract_features(textureless()[0])))
    assert len(back) == 0


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"HML", "too short"),
        (b"XXXX" + bytes(8), "bad magic"),
        (b"HMLF\x02" + bytes(7), "version 2"),
        (b"HMLF\x01\x00\x05\x00" + bytes(4), "expected 202"),
    ],
)
def test_bad_blobs_are_refused_clearly(blob: bytes, message: str) -> None:
    with pytest.raises(FeatureBlobError, match=message):
        decode_features(blob)


# -- matching ------------------------------------------------------------------


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_edited_copies_match_their_bank_image(matcher: LocalFeatureMatcher, edit: str) -> None:
    matched = 0
    for path in BANK:
        found = dict(matcher.query(EDITS[edit](load(path))))
        assert set(found) <= {path.stem}, f"{edit} of {path.name} matched another image"
        matched += path.stem in found and found[path.stem] >= matcher.min_inliers
    assert matched >= MUST_MATCH.get(edit, len(BANK))


def test_unrelated_photos_never_match(matcher: LocalFeatureMatcher) -> None:
    for path in DISTRACTORS:
        image = load(path)
        assert matcher.query(image) == []
        assert matcher.query(crop_off_centre(image)) == []


def test_textureless_bank_images_never_match() -> None:
    bank = LocalFeatureMatcher()
    for number, image in enumerate(textureless()):
        bank.add(f"flat-{number}", image)
    bank.add("noise", sensor_noise(3))
    assert len(bank) == 4
    for image in textureless():
        assert bank.query(image) == []
    # Noise matches only the very same pixels: not another draw, nor a re-encoding.
    assert bank.query(sensor_noise(3)) == [("noise", 200)]
    assert bank.query(sensor_noise(4)) == []
    assert bank.query(jpeg_q30(sensor_noise(3))) == []


def test_stored_blob_matches_like_the_image(matcher: LocalFeatureMatcher) -> None:
    reloaded = LocalFeatureMatcher()
    reloaded.add_stored("copy", encode_features(extract_features(load(BANK[2]))))
    assert [cid for cid, _ in reloaded.query(caption_band(load(BANK[2])))] == ["copy"]


def test_removal_stops_matches_and_re_adding_restores_them() -> None:
    bank = LocalFeatureMatcher()
    image = load(BANK[3])
    blob = bank.add("a", image)
    bank.add("b", load(BANK[4]))
    assert [cid for cid, _ in bank.query(image)] == ["a"]
    assert bank.remove("a") is True
    assert bank.remove("a") is False
    assert bank.query(image) == []
    assert [cid for cid, _ in bank.query(load(BANK[4]))] == ["b"]
    bank.add_stored("a", blob)
    assert [cid for cid, _ in bank.query(image)] == ["a"]


def test_re_adding_an_id_replaces_its_features() -> None:
    bank = LocalFeatureMatcher()
    bank.add("x", load(BANK[3]))
    bank.add("x", load(BANK[4]))
    assert len(bank) == 1
    assert bank.query(load(BANK[3])) == []
    assert [cid for cid, _ in bank.query(load(BANK[4]))] == ["x"]


def test_min_inliers_must_be_positive() -> None:
    with pytest.raises(ValueError, match="min_inliers"):
        LocalFeatureMatcher(min_inliers=0)


# -- concurrency ---------------------------------------------------------------


def test_removal_between_search_and_verification_is_not_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Interleaving pinned: the image is removed after the vote, before verification."""
    bank = LocalFeatureMatcher()
    image = load(BANK[5])
    bank.add("gone", image)
    votes = DescriptorIndex.votes

    def vote_then_remove(
        self: DescriptorIndex, descriptors: np.ndarray, radius: int = 16
    ) -> tuple[np.ndarray, np.ndarray]:
        result = votes(self, descriptors, radius)
        if bank.remove("gone"):  # first call: the search did find it
            assert len(result[0]) == 1
        return result

    monkeypatch.setattr(DescriptorIndex, "votes", vote_then_remove)
    assert bank.query(image) == []


def test_replacement_between_search_and_verification_uses_the_new_slot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Re-added under the same id after the vote: the stale slot is skipped."""
    bank = LocalFeatureMatcher()
    first, second = load(BANK[5]), load(BANK[6])
    bank.add("id", first)
    votes = DescriptorIndex.votes
    calls = []

    def vote_then_replace(
        self: DescriptorIndex, descriptors: np.ndarray, radius: int = 16
    ) -> tuple[np.ndarray, np.ndarray]:
        result = votes(self, descriptors, radius)
        if not calls:
            bank.add("id", second)
        calls.append(1)
        return result

    monkeypatch.setattr(DescriptorIndex, "votes", vote_then_replace)
    assert bank.query(first) == []


def test_queries_stay_correct_while_others_add_and_remove() -> None:
    """Bounded stress: a stable image always matches; churned ones never leak."""
    bank = LocalFeatureMatcher()
    stable = load(BANK[0])
    bank.add("stable", stable)
    blobs = [encode_features(extract_features(load(p))) for p in BANK[1:5]]
    probe = crop_off_centre(stable)
    errors: list[BaseException] = []
    done = threading.Event()

    def churn() -> None:
        try:
            for round_ in range(15):
                for number, blob in enumerate(blobs):
                    bank.add_stored(f"churn-{number}", blob)
                for number in range(len(blobs)):
                    bank.remove(f"churn-{number}")
                bank.add_stored(f"churn-{round_ % 2}", blobs[0])
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)
        finally:
            done.set()

    thread = threading.Thread(target=churn)
    thread.start()
    queries = 0
    while not done.is_set() or queries < 3:
        assert [cid for cid, _ in bank.query(probe)] == ["stable"]
        queries += 1
    thread.join()
    assert not errors
    assert len(bank) == 2  # "stable" and the last churned id


# -- search cost ---------------------------------------------------------------


def _count_extractions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []

    def counted(image: np.ndarray) -> extract_module.Features:
        calls.append(1)
        return extract_features(image)

    monkeypatch.setattr(matcher_module, "extract_features", counted)
    return calls


def test_a_plain_match_skips_the_mirrored_search(
    matcher: LocalFeatureMatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_extractions(monkeypatch)
    assert [cid for cid, _ in matcher.query(caption_band(load(BANK[1])))] == [BANK[1].stem]
    assert len(calls) == 1


def test_mirrored_copies_are_searched_when_the_plain_one_misses(
    matcher: LocalFeatureMatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_extractions(monkeypatch)
    mirrored = ImageOps.mirror(crop_off_centre(load(BANK[2])))
    assert [cid for cid, _ in matcher.query(mirrored)] == [BANK[2].stem]
    assert len(calls) == 2
    calls.clear()
    assert matcher.query(load(DISTRACTORS[0])) == []
    assert len(calls) == 2


def test_matchers_share_one_extraction_of_a_query(
    matcher: LocalFeatureMatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Banks that each use the stage search one QueryFeatures: a miss in an
    empty matcher and a hit in the full one cost two extractions in all."""
    calls = _count_extractions(monkeypatch)
    views = QueryFeatures(ImageOps.mirror(crop_off_centre(load(BANK[2]))))
    assert LocalFeatureMatcher().query(views) == []
    assert [cid for cid, _ in matcher.query(views)] == [BANK[2].stem]
    assert len(calls) == 2  # the picture as it is, and mirrored once


def test_a_fit_explaining_too_few_of_the_matches_is_not_a_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As with a repeating pattern's period shift: every descriptor matches,
    but only 50 of 200 keypoints (25%) sit where one transform puts them."""
    bank = extract_features(load(BANK[0])).head(STORED_KEYPOINTS)
    rng = np.random.default_rng(7)
    points = bank.points.copy()
    points[50:] = rng.uniform(40, [bank.width - 40, bank.height - 40], (len(bank) - 50, 2))
    query = Features(bank.width, bank.height, points, bank.octaves, bank.angles, bank.descriptors)
    assert verify_module.inlier_count(query, bank) == 0
    monkeypatch.setattr(verify_module, "MIN_INLIER_SHARE", 0.0)
    # Without the rule the 50 (fewer distinct positions) verify as a copy.
    assert verify_module.inlier_count(query, bank) >= matcher_module.MIN_INLIERS


def test_votes_count_each_query_descriptor_once_per_image() -> None:
    image = extract_features(load(BANK[0])).head(STORED_KEYPOINTS)
    twice = np.concatenate((image.descriptors, image.descriptors))
    index = DescriptorIndex.build([4], [twice])
    slots, votes = index.votes(image.descriptors[:50])
    assert slots.tolist() == [4]
    assert votes.tolist() == [50]


def test_a_descriptor_that_reaches_several_images_shares_its_vote() -> None:
    """Descriptors found in two bank images give each half a vote; one found
    in one image alone gives it a whole vote, so the distinctive image wins."""
    image = extract_features(load(BANK[0])).head(STORED_KEYPOINTS)
    shared, own = image.descriptors[:20], image.descriptors[20:30]
    index = DescriptorIndex.build([1, 2], [np.concatenate((shared, own)), shared])
    slots, votes = index.votes(np.concatenate((shared, own)))
    assert dict(zip(slots.tolist(), votes.tolist(), strict=True)) == {1: 20 / 2 + 10, 2: 20 / 2}


def test_votes_through_the_index_tables_agree_with_a_scan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A large bank is searched through the tables, each chunk probed at its
    exact value: it finds a subset of the images the scan finds, with the
    same best image."""
    sets = [extract_features(load(p)).head(STORED_KEYPOINTS).descriptors for p in PHOTOS[:40]]
    scanned = DescriptorIndex.build(list(range(40)), sets)
    monkeypatch.setattr(live_module, "MIN_TABLE_SIZE", 0)
    tabled = DescriptorIndex.build(list(range(40)), sets)
    assert tabled._index.main[2] is not None
    assert scanned._index.main[2] is None
    for number in (0, 13, 27):
        for edit in (crop_off_centre, caption_band, jpeg_q30):
            query = extract_features(edit(load(PHOTOS[number]))).descriptors[:VOTE_KEYPOINTS]
            exact = dict(zip(*scanned.votes(query), strict=True))
            fast = dict(zip(*tabled.votes(query), strict=True))
            assert set(fast) <= set(exact)
            assert next(iter(fast)) == next(iter(exact)) == number
