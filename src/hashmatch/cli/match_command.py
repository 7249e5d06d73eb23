"""``hashmatch match``: which bank content files (or hashes) match."""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from hashmatch.cli.bank_command import parse_hash
from hashmatch.cli.context import open_database, settings_of
from hashmatch.cli.errors import EXIT_FAILED, reported_errors
from hashmatch.cli.progress import kernel_notice, say, tracked


class MatchFormat(StrEnum):
    jsonl = "jsonl"
    table = "table"


def match_command(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(
        None, exists=True, metavar="PATH", help="Files and folders (recursive)."
    ),
    hashes: list[str] = typer.Option(
        [],
        "--hash",
        help="Match a TYPE:HASH instead of files (repeat; keyword:TEXT finds banked phrases).",
    ),
    bank: list[str] = typer.Option(
        [], "--bank", "-b", help="Only report matches in this bank (repeat)."
    ),
    jobs: int | None = typer.Option(
        None, "--jobs", "-j", min=1, help="Files hashed in parallel (default: all cores)."
    ),
    fast: bool = typer.Option(
        False, "--fast", help="Fast PDQ decoding (a few bits from the reference)."
    ),
    output_format: MatchFormat = typer.Option(
        MatchFormat.jsonl, "--format", "-f", help="jsonl or table."
    ),
) -> None:
    """Match files and folders (or hashes) against every enabled bank.

    Prints one JSON line per file: {"path": ..., "matches": [{"bank": ...,
    "content_id": ..., "signal_type": "pdq", "distance": 4, "transform":
    "original", ...}]}, or {"path": ..., "error": ...}.  PDQ is matched with the
    8 rotations and flips of each image.  --format table shows each match's
    bank, content id, external id, labels, distance, transform, and the
    allowlists that suppress it.  Exits 0 whether or not anything matched, 1
    if a file could not be hashed.
    """
    from hashmatch.banks import Banks
    from hashmatch.hashing import HashRequest, default_jobs, hash_files, iter_files
    from hashmatch.matching import Matcher
    from hashmatch.reporting.transparency.counts import LOOKUPS
    from hashmatch.reporting.transparency.usage import count_now

    if not paths and not hashes:
        raise typer.BadParameter("give files or folders, or --hash TYPE:HASH")
    queries = [parse_hash(text, query=True) for text in hashes]
    database = open_database(ctx)
    with reported_errors():
        for name in bank:
            Banks(database).get(name)
        matcher = Matcher.configured(database, settings_of(ctx))
        if matcher.snapshot_due:
            matcher.save_snapshot()  # the next start-up maps it instead of replaying
    rows: list[dict[str, Any]] = []
    emit = rows.append if output_format is MatchFormat.table else _print_line
    for signal_type, value in queries:
        by_hash = matcher.match_hashes({signal_type: [value]}, banks=bank or None)
        emit({"hash": f"{signal_type}:{value}", "matches": [m.to_json() for m in by_hash]})
    failed = matched = 0
    files = list(iter_files(paths or []))
    started = time.perf_counter()
    request = HashRequest(
        dihedral=True,
        fast=fast,
        query_cleanup=settings_of(ctx).match_query_cleanup,
        feature_query=bool(matcher.features),
    )
    results = tracked(
        hash_files(files, request, jobs=jobs or default_jobs()),
        len(files),
        "matching",
        show=len(files) > 1,
    )
    with kernel_notice():
        for result in results:
            if not result.ok:
                failed += 1
                emit(result.to_json())
                continue
            found = matcher.match_result(result, banks=bank or None)
            matched += bool(found)
            emit({"path": result.path, "matches": [m.to_json() for m in found]})
    count_now(database, LOOKUPS, len(queries) + len(files) - failed)  # for transparency reports
    if output_format is MatchFormat.table:
        _print_table(rows)
    if files:
        say(
            f"matched {len(files) - failed} file(s): {matched} with matches, {failed} failed, "
            f"in {time.perf_counter() - started:.2f} s"
        )
    if failed:
        raise typer.Exit(EXIT_FAILED)


def _print_line(record: dict[str, Any]) -> None:
    typer.echo(json.dumps(record))


def _print_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table()
    columns = ("input", "bank", "content", "external id", "labels", "signal", "distance")
    for column in (*columns, "transform", "suppressed by"):
        table.add_column(column)
    for row in rows:
        label = escape(row.get("path") or row.get("hash", ""))
        if "error" in row:
            table.add_row(label, f"[red]{escape(row['error'])}[/red]")
        elif not row["matches"]:
            table.add_row(label, "[dim]no match[/dim]")
        for match in row.get("matches", []):
            labels = dict.fromkeys([*match["labels"], *match["content_labels"]])
            table.add_row(
                label,
                match["bank"],
                str(match["content_id"]),
                escape(match["external_id"] or ""),
                escape(", ".join(labels)),
                match["signal_type"],
                str(match["distance"]),
                match["transform"] or "",
                ", ".join(match.get("suppressed_by", [])),
                style="dim" if match["suppressed"] else None,
            )
    Console(width=200).print(table)
