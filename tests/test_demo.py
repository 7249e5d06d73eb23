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
    # Everything but the crops is found; rotations and mirrors via dihedral hashes.
    assert {row.edit for row in copies if not row.matched} <= {"cropped 5% each side"}
    assert {row.transform for row in found} >= {"original", "rotate270", "flipy"}


def test_demo_command_prints_a_summary(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--workdir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Found 10 of 12 edited copies; 0 of 4 unrelated photos matched." in result.stdout
