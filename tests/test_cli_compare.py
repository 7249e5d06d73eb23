from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from hashmatch.cli import app
from tests.conftest import DATA

runner = CliRunner()
PHOTO = DATA / "photos" / "nature-beach-malibu.jpg"
A = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
B = "f8f8f0cee0f4a84f06370a2a038f63f0b36e26d596621e1d33e6b39c4e9c9b22"


def compare(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["compare", *args])


def test_two_pdq_hashes() -> None:
    result = compare(A, B)
    assert result.exit_code == 0
    assert result.stdout.strip() == "pdq distance 2 (match at threshold 31)"


def test_typed_hashes_and_json() -> None:
    result = compare(f"pdq:{A}", f"pdq:{'0' * 64}", "--format", "json")
    record = json.loads(result.stdout)
    assert record["signal_type"] == "pdq"
    assert record["distance"] == int(A, 16).bit_count()
    assert record["match"] is False


def test_threshold_option() -> None:
    result = compare(A, B, "--threshold", "1")
    assert "no match at threshold 1" in result.stdout


def test_two_files(tmp_path: Path) -> None:
    copy = tmp_path / "smaller.jpg"
    with Image.open(PHOTO) as image:
        image.resize((240, 180)).save(copy, quality=70)
    result = compare(str(PHOTO), str(copy), "--format", "json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["signal_type"] == "pdq"
    assert record["match"] is True
    assert record["a"]["quality"] == 100


def test_file_against_hash_by_sha256() -> None:
    import hashlib

    digest = hashlib.sha256(PHOTO.read_bytes()).hexdigest()
    result = compare(str(PHOTO), f"sha256:{digest}")
    assert result.stdout.strip() == "sha256 distance 0 (match at threshold 0)"


def test_bad_hash_is_a_usage_error() -> None:
    result = compare(A, "abc")
    assert result.exit_code == 2
    assert "neither an existing file nor a hash" in result.stderr


def test_mixed_types_refused() -> None:
    result = compare(f"pdq:{A}", "md5:" + "0" * 32)
    assert result.exit_code == 2
    assert "different types" in result.stderr


def test_unknown_type() -> None:
    result = compare("blurhash:abc", A)
    assert result.exit_code == 2
    assert "unknown signal type 'blurhash'" in result.stderr


def test_a_turned_copy_is_compared_in_its_rotations_and_flips() -> None:
    folder = DATA / "pdq-reference" / "reg-test-input" / "dih"
    original, turned = folder / "bridge-1-original.jpg", folder / "bridge-2-rotate-90.jpg"
    text = compare(str(original), str(turned)).stdout.strip()
    assert text.startswith("pdq distance 2 with A rotate90 (match at threshold 31; as they are: ")
    record = json.loads(compare(str(original), str(turned), "--format", "json").stdout)
    assert (record["distance"], record["transform"], record["transformed"]) == (2, "rotate90", "a")
    assert record["distance_as_they_are"] > 100
    as_they_are = compare(str(original), str(turned), "--no-dihedral").stdout
    assert as_they_are.startswith(f"pdq distance {record['distance_as_they_are']} (no match")
    # Only the file can be turned; a hash is compared against its turns.
    original_hash = json.loads(compare(str(original), A, "--format", "json").stdout)["a"]["value"]
    by_hash = json.loads(compare(f"pdq:{original_hash}", str(turned), "--format", "json").stdout)
    assert (by_hash["transform"], by_hash["transformed"]) == ("rotate270", "b")
    assert by_hash["distance"] <= 2


def test_a_flat_picture_is_said_to_be_too_flat_to_match(tmp_path: Path) -> None:
    flat = tmp_path / "gradient.png"
    Image.linear_gradient("L").save(flat)
    result = compare(str(flat), str(flat))
    assert "pdq distance 0 (match at threshold 31)" in result.stdout
    assert "warning: " in result.stderr
    assert "the least that matching uses: this pdq hash never matches" in result.stderr
