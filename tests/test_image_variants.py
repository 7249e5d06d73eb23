"""Stored image variants: a bank image's crops and small rotations, stored
as variant rows that match as their content, on both engines."""

from __future__ import annotations

import io
import json
import math
import random
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from typer.testing import CliRunner

from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.banks import Banks
from hashmatch.banks.catalog import NewContent
from hashmatch.cli import app
from hashmatch.hashing import HashRequest, hash_file
from hashmatch.hashlists import Entry, ListFormat, write_entries
from hashmatch.matching import Matcher
from hashmatch.media.variants import (
    VARIANT_NAMES,
    WORKING_SIDE,
    image_variants,
    inscribed_size,
    working_copy,
)
from hashmatch.settings import Settings
from hashmatch.signals.pdq import PdqSignal
from hashmatch.store import ContentSignal, Database
from tests.conftest import DATA
from tests.interleaving import run_together

PHOTOS = sorted((DATA / "photos").glob("*.jpg"))
#: Banked photos; the others are the distractors.
BANKED = PHOTOS[::6]
DISTRACTORS = [photo for photo in PHOTOS if photo not in BANKED]
PHOTO = DATA / "photos" / "nature-beach-malibu.jpg"


def added_entry(path: Path) -> Entry:
    """A bank add by file, as the adding paths make it."""
    result = hash_file(path, HashRequest(image_variants=True))
    assert result.ok, result.error
    return Entry(dict(result.signals), variants=result.variants)


def variant_rows(database: Database) -> list[tuple[int, str, str]]:
    """(content id, variant name, value) of every image variant row."""
    with database.reading() as session:
        rows = session.execute(
            select(ContentSignal.content_id, ContentSignal.variant, ContentSignal.value).where(
                ContentSignal.variant.is_not(None), ContentSignal.frame.is_(None)
            )
        )
        return sorted((int(c), str(v), str(value)) for c, v, value in rows)


# -- the set of variants -------------------------------------------------------


def test_the_documented_18_variants_are_computed_from_one_image() -> None:
    rgb = np.asarray(Image.open(PHOTO).convert("RGB"))
    variants = dict(image_variants(rgb))
    assert tuple(variants) == VARIANT_NAMES
    assert len(VARIANT_NAMES) == 18
    height, width = rgb.shape[:2]
    assert variants["crop90"].shape[:2] == (round(height * 0.9), round(width * 0.9))
    assert variants["crop70"].shape[:2] == (round(height * 0.7), round(width * 0.7))
    assert np.array_equal(variants["tl90"], rgb[: round(height * 0.9), : round(width * 0.9)])
    assert np.array_equal(variants["right90"], rgb[:, width - round(width * 0.9) :])
    assert np.array_equal(variants["bottom90"], rgb[height - round(height * 0.9) :])


def test_rotated_variants_hold_no_fill() -> None:
    """Rotate-and-crop keeps only pixels of the picture: a picture with no
    dark pixel gives rotated variants with none (the fill is black)."""
    generator = np.random.default_rng(3)
    rgb = generator.integers(120, 256, size=(300, 451, 3), dtype=np.uint8)
    for name, pixels in image_variants(rgb):
        if name.startswith("rot"):
            assert pixels.min() >= 100, name
            assert pixels.shape[0] > 0.85 * 300, name
            assert pixels.shape[1] > 0.85 * 451, name


@pytest.mark.parametrize("degrees", [-4.0, -2.0, 2.0, 4.0, 30.0])
@pytest.mark.parametrize(("width", "height"), [(480, 360), (360, 480), (1000, 100)])
def test_inscribed_rectangle_fits_and_is_the_largest(
    width: int, height: int, degrees: float
) -> None:
    angle = math.radians(degrees)
    inner_w, inner_h = inscribed_size(width, height, angle)

    def fits(w: float, h: float) -> bool:
        # The upright rectangle's corners, turned back into the picture's frame.
        cos, sin = math.cos(-angle), math.sin(-angle)
        for x, y in ((w / 2, h / 2), (-w / 2, h / 2)):
            u, v = x * cos - y * sin, x * sin + y * cos
            if abs(u) > width / 2 + 1e-6 or abs(v) > height / 2 + 1e-6:
                return False
        return True

    assert fits(inner_w, inner_h)
    assert not fits(inner_w * 1.01, inner_h * 1.01)


# -- storing them ----------------------------------------------------------------


def test_a_photo_added_to_a_match_bank_stores_its_18_variants(database: Database) -> None:
    banks = Banks(database)
    assert banks.create("known").image_variants is True
    content_id = banks.add("known", added_entry(PHOTO))
    rows = variant_rows(database)
    assert [name for _, name, _ in rows] == sorted(VARIANT_NAMES)
    assert {content for content, _, _ in rows} == {content_id}
    info = banks.get("known").to_json()
    assert (info["contents"], info["image_variants"], info["variant_hashes"]) == (1, True, 18)
    # The content's own signals are its own: no variant shows as one.
    assert banks.content("known", content_id or 0).signals == added_entry(PHOTO).signals


def test_allowlists_and_banks_with_the_setting_off_store_none(database: Database) -> None:
    banks = Banks(database)
    assert banks.create("allowed", kind="allowlist").image_variants is False
    assert banks.create("plain", image_variants=False).image_variants is False
    banks.add("allowed", added_entry(PHOTO))
    banks.add("plain", added_entry(PHOTO))
    assert variant_rows(database) == []
    assert banks.update("plain", image_variants=True).image_variants is True
    banks.add("plain", added_entry(PHOTOS[0]))
    assert len(variant_rows(database)) == 18


def test_a_variant_another_content_holds_is_skipped_not_an_error(database: Database) -> None:
    banks = Banks(database)
    banks.create("known")
    photo = added_entry(PHOTO)
    taken = photo.variants["pdq"]["crop90"]
    other = banks.add("known", Entry({"pdq": taken}, external_id="other"))
    content_id = banks.add("known", photo)
    assert content_id is not None
    rows = variant_rows(database)
    assert "crop90" not in {name for content, name, _ in rows if content == content_id}
    assert len(rows) == 17
    # A copy with other bytes and the same variants adds, with none of them.
    again = Entry({"md5": "0" * 32}, variants=photo.variants)
    assert banks.add("known", again) is not None
    assert len(variant_rows(database)) == 17
    with database.reading() as session:
        owner = session.scalar(select(ContentSignal.content_id).where(ContentSignal.value == taken))
    assert owner == other


def test_a_batch_whose_variant_is_a_later_items_own_hash(database: Database) -> None:
    """In one group commit, the own hash of an item from another source
    keeps its value; the variant that had it is left out."""
    banks = Banks(database)
    banks.create("known")
    photo = added_entry(PHOTO)
    taken = photo.variants["pdq"]["crop80"]
    first, second = banks.add_many(
        [
            NewContent("known", photo, source="a"),
            NewContent("known", Entry({"pdq": taken}), source="b"),
        ]
    )
    assert first is not None
    assert second is not None
    assert banks.content("known", second).signals == {"pdq": taken}
    assert "crop80" not in {name for _, name, _ in variant_rows(database)}


def test_deleting_content_deletes_its_variants_and_the_index_forgets(
    database: Database, tmp_path: Path
) -> None:
    banks = Banks(database)
    banks.create("known")
    content_id = banks.add("known", added_entry(PHOTO))
    matcher = Matcher(database)
    cropped = save(crop_each_side(Image.open(PHOTO), 0.05), tmp_path / "cropped.jpg")
    [match] = matcher.match_file(cropped)[1]
    assert (match.content_id, match.variant) == (content_id, "crop90")
    assert banks.remove_content("known", [content_id or 0]) == 1
    matcher.refresh()
    assert variant_rows(database) == []
    assert matcher.match_file(cropped)[1] == []
    assert len(matcher) == 0


def test_exports_have_no_variant_rows(database: Database) -> None:
    banks = Banks(database)
    banks.create("known")
    photo = added_entry(PHOTO)
    banks.add("known", photo)
    [exported] = list(banks.export("known"))
    assert exported.signals == photo.signals
    assert exported.variants == {}
    variants = set(photo.variants["pdq"].values())
    for list_format in (ListFormat.csv, ListFormat.jsonl):
        stream = io.StringIO()
        write_entries(banks.export("known"), stream, list_format)
        assert not any(value in stream.getvalue() for value in variants)


def test_the_migration_sets_the_default_for_existing_banks(database: Database) -> None:
    database.downgrade("0010")
    with database.engine.begin() as connection:
        for bank_id, kind in ((1, "match"), (2, "allowlist")):
            connection.exec_driver_sql(
                "INSERT INTO banks (id, name, description, kind, labels, thresholds, enabled, "
                "created_at, updated_at) "
                f"VALUES ({bank_id}, '{kind}', '', '{kind}', '[]', '{{}}', true, "
                "'2026-01-01', '2026-01-01')"
            )
        connection.exec_driver_sql(
            "INSERT INTO contents (id, bank_id, created_at) VALUES (1000, 1, '2026-01-01')"
        )
        connection.exec_driver_sql(
            "INSERT INTO content_signals (id, content_id, bank_id, signal_type, value) "
            f"VALUES (1000, 1000, 1, 'pdq', '{'a' * 64}')"
        )
    database.migrate("head")
    banks = Banks(database)
    assert [(info.name, info.image_variants, info.contents) for info in banks.all()] == [
        ("allowlist", False, 0),
        ("match", True, 1),
    ]
    banks.add("match", added_entry(PHOTO))
    assert len(variant_rows(database)) == 18
    database.downgrade("0010")  # back: the variants go, the content stays
    with database.engine.begin() as connection:
        count = "SELECT count(*) FROM content_signals WHERE signal_type = 'pdq'"
        assert connection.exec_driver_sql(count).scalar() == 2
    database.migrate("head")


# -- matching --------------------------------------------------------------------


def save(image: Image.Image, path: Path) -> Path:
    image.convert("RGB").save(path, quality=90)
    return path


def crop_each_side(image: Image.Image, share: float) -> Image.Image:
    width, height = image.size
    dx, dy = round(width * share), round(height * share)
    return image.crop((dx, dy, width - dx, height - dy))


def crop_left(image: Image.Image, share: float) -> Image.Image:
    width, height = image.size
    return image.crop((round(width * share), 0, width, height))


def crop_bottom(image: Image.Image, share: float) -> Image.Image:
    width, height = image.size
    return image.crop((0, 0, width, height - round(height * share)))


def rotate_and_crop(image: Image.Image, degrees: float) -> Image.Image:
    """Rotated, then cropped to the largest upright rectangle inside (what
    an editor's straighten tool does)."""
    turned = image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True)
    width, height = inscribed_size(image.width, image.height, math.radians(degrees))
    width, height = int(width) - 2, int(height) - 2
    left, top = (turned.width - width) // 2, (turned.height - height) // 2
    return turned.crop((left, top, left + width, top + height))


EDITS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "crop 5% each side": lambda image: crop_each_side(image, 0.05),
    "crop 10% left": lambda image: crop_left(image, 0.10),
    "crop 10% bottom": lambda image: crop_bottom(image, 0.10),
    "crop 15% each side": lambda image: crop_each_side(image, 0.15),
    "rotate 3° and crop": lambda image: rotate_and_crop(image, 3),
}


@pytest.fixture
def banked(database: Database) -> tuple[Matcher, dict[Path, int]]:
    banks = Banks(database)
    banks.create("known")
    ids = {photo: banks.add("known", added_entry(photo)) or 0 for photo in BANKED}
    return Matcher(database), ids


@pytest.mark.parametrize("edit", list(EDITS))
def test_cropped_and_rotated_copies_match_as_their_photo(
    banked: tuple[Matcher, dict[Path, int]], tmp_path: Path, edit: str
) -> None:
    matcher, ids = banked
    found = 0
    for photo, content_id in ids.items():
        with Image.open(photo) as image:
            copy = save(EDITS[edit](image), tmp_path / f"{photo.stem}.jpg")
        matches = matcher.match_file(copy)[1]
        assert {match.content_id for match in matches} <= {content_id}, photo.name
        pdq = [match for match in matches if match.signal_type == "pdq"]
        if pdq:
            [match] = pdq  # one match per content: its closest variant
            assert match.variant in VARIANT_NAMES
            assert match.to_json()["variant"] == match.variant
            found += 1
    # The study: 1.00 for the crops, 0.85 for a 3° turn (11 photos here).
    least = len(ids) - 2 if edit.startswith("rotate") else len(ids)
    assert found >= least, f"{edit}: {found} of {len(ids)}"


def test_the_own_hash_wins_where_both_match(banked: tuple[Matcher, dict[Path, int]]) -> None:
    matcher, ids = banked
    photo = next(iter(ids))
    pdq = [match for match in matcher.match_file(photo)[1] if match.signal_type == "pdq"]
    assert [(match.content_id, match.distance, match.variant) for match in pdq] == [
        (ids[photo], 0, None)
    ]
    assert "variant" not in pdq[0].to_json()


def test_unrelated_photos_and_their_crops_match_nothing(
    banked: tuple[Matcher, dict[Path, int]], tmp_path: Path
) -> None:
    matcher, _ = banked
    for photo in DISTRACTORS:
        assert matcher.match_file(photo)[1] == [], photo.name
        with Image.open(photo) as image:
            copy = save(crop_each_side(image, 0.05), tmp_path / f"{photo.stem}.jpg")
        assert matcher.match_file(copy)[1] == [], photo.name


def test_variants_match_the_query_as_it_is_not_its_flips(
    banked: tuple[Matcher, dict[Path, int]], tmp_path: Path
) -> None:
    """A mirrored crop would need the variants in every orientation, which
    matches unrelated pictures: it is left to the other stages."""
    matcher, ids = banked
    photo = next(iter(ids))
    with Image.open(photo) as image:
        mirrored = crop_each_side(image, 0.05).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    assert matcher.match_file(save(mirrored, tmp_path / "mirrored.jpg"))[1] == []


# -- adds at once ------------------------------------------------------------------


def pool_entry(number: int, pool: list[str], generator: random.Random) -> Entry:
    """A content with its own hashes and variants drawn from a shared pool."""
    names = generator.sample(VARIANT_NAMES, 6)
    return Entry(
        {"pdq": f"{number:064x}", "md5": f"{number:032x}"},
        variants={"pdq": dict(zip(names, generator.sample(pool, 6), strict=True))},
    )


def test_an_add_waiting_on_another_skips_the_variant_it_took(database: Database) -> None:
    """One add commits an own hash that a waiting add has as a variant: the
    bank's lock makes the second look after the first, and skip it."""
    banks = Banks(database)
    banks.create("known")
    photo = added_entry(PHOTO)
    taken = photo.variants["pdq"]["crop85"]
    outcome: list[int | None] = []
    started = threading.Event()

    def second() -> None:
        started.set()
        outcome.append(banks.add("known", photo))

    with database.transaction() as session:
        banks.add_in(session, "known", Entry({"pdq": taken}))
        worker = threading.Thread(target=second)
        worker.start()
        started.wait()
    worker.join()
    assert outcome[0] is not None
    assert len(variant_rows(database)) == 17


def test_many_adds_at_once_share_variant_values_without_failing(database: Database) -> None:
    banks = Banks(database)
    banks.create("known")
    generator = random.Random(18)
    pool = [f"{generator.getrandbits(256):064x}" for _ in range(40)]
    entries = [pool_entry(number, pool, generator) for number in range(1, 41)]

    def add(name: str) -> None:
        for entry in entries[int(name) :: 4]:
            assert banks.add("known", entry) is not None

    run_together(add, ["0", "1", "2", "3"])
    values = [value for _, _, value in variant_rows(database)]
    assert len(values) == len(set(values))
    used = {value for entry in entries for value in entry.variants["pdq"].values()}
    assert set(values) == used
    assert banks.get("known").variant_hashes == len(used)


# -- the edges ----------------------------------------------------------------------

runner = CliRunner()


def test_the_cli_sets_and_shows_the_setting(database_url: str) -> None:
    def invoke(*args: str) -> dict[str, object]:
        result = runner.invoke(app, ["--database-url", database_url, *args])
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout.splitlines()[-1]))

    assert invoke("bank", "create", "known", "--no-image-variants")["image_variants"] is False
    invoke("bank", "add", "known", str(PHOTOS[1]))
    assert invoke("bank", "show", "known")["variant_hashes"] == 0
    assert invoke("bank", "update", "known", "--image-variants")["image_variants"] is True
    invoke("bank", "add", "known", str(PHOTO))
    assert invoke("bank", "show", "known")["variant_hashes"] == 18
    assert invoke("bank", "create", "ok", "--kind", "allowlist")["image_variants"] is False
    help_text = runner.invoke(app, ["bank", "create", "--help"]).stdout
    assert "--image-variants" in help_text


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    database = Database.open(database_url)
    keys = ApiKeys(database)
    headers = {
        scope: {"Authorization": f"Bearer {keys.create(scope, [scope])[0]}"}
        for scope in ("curate", "match")
    }
    database.close()
    application = create_app(Settings(data_dir=tmp_path / "data", database_url=database_url))
    with TestClient(application, raise_server_exceptions=False) as client:
        application.state.service.wait_until_loaded(60)
        yield client, headers


def test_the_api_sets_the_setting_and_an_upload_matches_through_a_variant(
    api: tuple[TestClient, dict[str, Any]], tmp_path: Path
) -> None:
    http, headers = api
    created = http.post(
        "/v1/banks", json={"name": "plain", "image_variants": False}, headers=headers["curate"]
    )
    assert (created.status_code, created.json()["image_variants"]) == (201, False)
    changed = http.patch(
        "/v1/banks/plain", json={"image_variants": True}, headers=headers["curate"]
    )
    assert changed.json()["image_variants"] is True
    wrong = http.patch("/v1/banks/plain", json={"image_variants": "x"}, headers=headers["curate"])
    assert wrong.status_code == 422
    # HMA's upload route adds by hashing: the bank stores the variants.
    assert (
        http.post("/c/banks", json={"name": "KNOWN"}, headers=headers["curate"]).status_code == 201
    )
    uploaded = http.post(
        "/c/bank/KNOWN/content",
        files={"photo": ("beach.jpg", PHOTO.read_bytes(), "image/jpeg")},
        headers=headers["curate"],
    )
    assert uploaded.status_code == 200, uploaded.text
    assert http.get("/v1/banks/KNOWN", headers=headers["curate"]).json()["variant_hashes"] == 18
    cropped = save(crop_each_side(Image.open(PHOTO), 0.05), tmp_path / "cropped.jpg")
    found = http.post(
        "/v1/match",
        files={"file": ("cropped.jpg", cropped.read_bytes(), "image/jpeg")},
        headers=headers["match"],
    )
    assert found.status_code == 200, found.text
    [match] = found.json()["matches"]
    assert (match["content_id"], match["variant"]) == (uploaded.json()["id"], "crop90")


def test_a_big_photo_is_hashed_from_a_reduced_copy_that_still_matches(tmp_path: Path) -> None:
    big = Image.open(PHOTO).convert("RGB").resize((1920, 1440), Image.Resampling.BICUBIC)
    assert max(working_copy(np.asarray(big)).shape[:2]) == WORKING_SIDE
    path = save(big, tmp_path / "big.jpg")
    entry = added_entry(path)
    query = hash_file(save(crop_each_side(big, 0.05), tmp_path / "cropped.jpg"), HashRequest())
    distance = PdqSignal().distance(query.signals["pdq"], entry.variants["pdq"]["crop90"])
    assert distance <= PdqSignal.default_threshold
