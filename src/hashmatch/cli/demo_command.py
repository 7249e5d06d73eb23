"""``hashmatch demo``: see near-duplicate matching work on bundled sample photos."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from hashmatch.cli.context import program
from hashmatch.cli.progress import kernel_notice


def demo_command(
    workdir: Path | None = typer.Option(
        None, "--workdir", help="Where to write the edited copies (default: a temporary folder)."
    ),
) -> None:
    """Hash sample photos and edited copies of them, and show which are near-duplicates."""
    from rich.console import Console
    from rich.table import Table

    from hashmatch.demo import BANK_NAME, BANK_SIZE, PDQ_THRESHOLD, run_demo

    console = Console(width=None if Console().is_terminal else 140)
    console.print(
        f"Bank {BANK_NAME!r}: {BANK_SIZE} sample photos (PDQ, MD5, SHA-256, stored crops and "
        "rotations, and local features each).\n"
        f"Uploads: two edited copies of each, and unrelated photos, matched with "
        f"the 8 rotations and flips of each upload and of its copy cleaned of a border or "
        f"caption band (match: PDQ distance <= {PDQ_THRESHOLD}), then by local features "
        "(match: enough keypoints agreeing on one geometric transform).\n",
        highlight=False,
    )
    with tempfile.TemporaryDirectory(prefix="hashmatch-demo-") as scratch, kernel_notice():
        rows = run_demo(workdir or Path(scratch))
    table = Table()
    for column in (
        "upload",
        "made from",
        "edit",
        "matched bank photo",
        "distance",
        "as",
        "found by",
    ):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.query,
            row.made_from or "(unrelated)",
            row.edit or "",
            row.best_match or "[dim]no match[/dim]",
            "" if row.distance is None else str(row.distance),
            row.transform or "",
            row.found_by or "",
        )
    console.print(table)
    copies = [row for row in rows if row.made_from is not None]
    unrelated = [row for row in rows if row.made_from is None]
    found = sum(row.matched and row.best_match == row.made_from for row in copies)
    false_hits = sum(row.matched for row in unrelated)
    console.print(
        f"Found {found} of {len(copies)} edited copies; "
        f"{false_hits} of {len(unrelated)} unrelated photos matched.",
        highlight=False,
    )
    if found < len(copies):
        console.print(
            "PDQ is built for re-encoding, resizing, colour changes and rotations; stored "
            "crops, clean-up and local features take it further, not to every edit.",
            highlight=False,
        )
    command = program()
    console.print(
        "\nThe same with your own pictures:\n"
        f"  {command} bank create known --local-features\n"
        f"  {command} bank add known photo1.jpg photo2.jpg   (or: bank import known list.csv)\n"
        f"  {command} match uploads/",
        highlight=False,
        markup=False,
    )
