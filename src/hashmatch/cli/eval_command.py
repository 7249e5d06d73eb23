"""``hashmatch eval``: the robustness benchmark on your own benign photos."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from hashmatch.cli.errors import reported_errors
from hashmatch.cli.progress import kernel_notice, say, tracked


def eval_command(
    bank_images: Path = typer.Option(
        ..., "--bank-images", help="Folder of pictures to bank; each subfolder is a source."
    ),
    distractors: Path = typer.Option(
        ...,
        "--distractors",
        help="Folder of unrelated pictures; those of a source the bank uses are left out.",
    ),
    transforms: str | None = typer.Option(
        None, "--transforms", help="Comma-separated transform names (default: all of them)."
    ),
    out: Path = typer.Option(
        Path("hashmatch-eval"),
        "--out",
        help="Output folder: its database, results.jsonl (resumed) and the reports.",
    ),
    limit: int | None = typer.Option(
        None, "--limit", min=0, help="Match at most N more queries this run (resume later)."
    ),
    jobs: int = typer.Option(2, "--jobs", "-j", min=1, help="Pictures edited and hashed at once."),
    local_features: bool = typer.Option(
        False,
        "--local-features/--no-local-features",
        help="Bank with local features and run that second stage on every query "
        "(fixed when --out is first banked).",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the table as JSON instead of Markdown."
    ),
) -> None:
    """Bank pictures, query edited copies and unrelated pictures through the
    real add and match paths, and report recall per transform.

    Each picture in --bank-images is added to a bank in a throw-away SQLite
    database in --out (as `hashmatch bank add` adds it); each is then edited
    by each transform (JPEG, resize, blur, mirror, quarter turns, crops,
    borders, a caption band, small rotations, overlays, a screenshot) and
    matched as `hashmatch match` matches, and so is each distractor.  One
    JSON line per query goes to --out/results.jsonl as it is known: a run
    started again skips what is there.  Writes eval.md, eval.csv, eval.json
    and recall_vs_threshold.svg/.png into --out and prints the table.
    Transforms: jpeg_q40, jpeg_q30, resize_50, blur, mirror, rotate_90,
    rotate_180, rotate_270, crop_each_5, crop_each_15, crop_side_10,
    window_85_offset, border_white_10, border_black_10, border_colour_10,
    caption_bottom_12, rotate_1, rotate_3, rotate_5, rotate_10, sticker,
    watermark, screenshot.
    """
    from hashmatch.errors import EvaluationError
    from hashmatch.evaluation.report import table, write_reports
    from hashmatch.evaluation.run import RESULTS_FILE, Evaluation, read_records
    from hashmatch.evaluation.sets import collect, without_sources
    from hashmatch.evaluation.transforms import chosen

    with reported_errors():
        names = [name.strip() for name in (transforms or "").split(",") if name.strip()]
        edits = chosen(names)
        bank = collect(bank_images)
        unrelated = collect(distractors)
        kept = without_sources(unrelated, bank)
        if not kept:
            raise EvaluationError(
                f"{distractors}: every picture comes from a source the bank uses "
                "(put each source in its own subfolder)"
            )
    if len(kept) < len(unrelated):
        say(f"left out {len(unrelated) - len(kept)} distractor(s) from the bank's sources")
    with reported_errors():
        evaluation = Evaluation(out, bank, kept, edits, jobs=jobs, local_features=local_features)
    try:
        with kernel_notice():
            to_bank = evaluation.to_bank()
            for record in tracked(evaluation.bank(to_bank), len(to_bank), "banking", show=True):
                if "error" in record:
                    say(f"warning: not banked: {record['error']}")
            queries = evaluation.pending()[:limit] if limit is not None else evaluation.pending()
            done = tracked(evaluation.run(queries), len(queries), "querying", show=True)
            for _ in done:
                pass
        records = read_records(out / RESULTS_FILE)
    finally:
        evaluation.close()
    rows = table(records, [edit.name for edit in edits])
    written = write_reports(out, rows, records)
    remaining = len(evaluation.pending())
    say(
        f"queried {len(queries)} now, {len(records)} in all, {remaining} left; "
        f"wrote {', '.join(path.name for path in written)} in {out}"
    )
    if as_json:
        from dataclasses import asdict

        summary = {
            "queried_now": len(queries),
            "queried": len(records),
            "remaining": remaining,
            "rows": [asdict(row) for row in rows],
        }
        typer.echo(json.dumps(summary))
        return
    from hashmatch.evaluation.report import markdown

    typer.echo(markdown(rows), nl=False)
