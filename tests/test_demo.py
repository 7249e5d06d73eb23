from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from hashmatch.cli import app
from hashmatch.demo import BANK_SIZE, bundled_photos, run_demo


def test_demo_finds_edited_copies_and_not_unrelated_photos(tmp_path: Path) -> None:
    rows = run_demo(tmp_path)
    copies = [row for row in rows if row.made_from]
    unrelated = [row for row in rows if not row.made_from]
    assert len(copies) == 2 * BANK_SIZE
    assert len(unrelated) == len(bundled_photos()) - BANK_SIZE
    assert not any(row.matched for row in unrelated)
    found = [row for row in copies if row.matched]
    assert all(row.best_match == row.made_from for row in found)
    # Every copy is found: rotations and mirrors via dihedral hashes, the
    # crop by a stored variant, the border by clean-up, the off-centre crop
    # (which PDQ cannot see) by local features.
    assert len(found) == len(copies)
    assert {row.transform for row in found} >= {"original", "rotate270", "flipy"}
    how = {row.edit: row.found_by or "" for row in found}
    assert how["cropped 5% each side"].startswith("pdq of a stored variant")
    assert how["white border (10%)"] == "pdq after clean-up (border)"
    assert how["caption band (bottom 12%)"].startswith("pdq")
    assert how["off-centre crop (85%)"].startswith("local features (")
    off_centre = next(row for row in found if row.edit == "off-centre crop (85%)")
    assert off_centre.distance is not None
    assert off_centre.distance > 31


def test_demo_command_prints_a_summary(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--workdir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Found 12 of 12 edited copies; 0 of 4 unrelated photos matched." in result.stdout
    assert "local features (" in result.stdout
