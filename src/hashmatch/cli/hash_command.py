"""``hashmatch hash``: hash files and folders, one JSON line per file."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from hashmatch.cli.errors import EXIT_FAILED
from hashmatch.cli.progress import kernel_notice, say, tracked
from hashmatch.errors import UnknownSignalTypeError

if TYPE_CHECKING:
    from rich.table import Table

    from hashmatch.hashing import FileHashes


class OutputFormat(StrEnum):
    jsonl = "jsonl"
    table = "table"


def parse_signal_names(value: str | None) -> tuple[str, ...]:
    """``"pdq,md5"`` -> ``("pdq", "md5")``, checked against installed types."""
    from hashmatch.hashing import HashRequest

    if not value:
        return ()
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    try:
        HashRequest(signal_types=names).resolved()
    except UnknownSignalTypeError as error:
        raise typer.BadParameter(str(error), param_hint="--signal") from None
    return names


def hash_files_command(
    paths: list[Path] = typer.Argument(
        ...,
        exists=True,
        metavar="PATH",
        help="Files and folders; folders are walked recursively.",
    ),
    signal: str | None = typer.Option(
        None,
        "--signal",
        "-s",
        help="Comma-separated signal types, e.g. pdq,md5,sha256 (default: all that apply).",
    ),
    dihedral: bool = typer.Option(
        False, "--dihedral", help="Also output the PDQ hashes of the 8 rotations and flips."
    ),
    fast: bool = typer.Option(
        False,
        "--fast",
        help="Images: decode JPEGs' luma only and blur in one step (PDQ hashes may differ "
        "from the reference by a few bits). Videos: decode keyframes only (other frames "
        "than the reference's). Several times faster.",
    ),
    jobs: int | None = typer.Option(
        None, "--jobs", "-j", min=1, help="Files hashed in parallel (default: all cores)."
    ),
    output_format: OutputFormat = typer.Option(
        OutputFormat.jsonl, "--format", "-f", help="jsonl (one JSON object per line) or table."
    ),
    max_pixels: int | None = typer.Option(
        None,
        "--max-pixels",
        min=1,
        help="Refuse images with more pixels (default: Pillow's bomb limit, 89478485).",
    ),
    max_file_bytes: int | None = typer.Option(
        None,
        "--max-file-bytes",
        min=1,
        help="Refuse to decode larger media (default: 256 MiB; exact hashes have no limit).",
    ),
    seconds_per_hash: float = typer.Option(
        1.0, "--seconds-per-hash", min=0.0, help="Video: hash one frame per this many seconds."
    ),
    max_video_seconds: float | None = typer.Option(
        None, "--max-video-seconds", min=1.0, help="Refuse longer videos (default: 14400, 4 h)."
    ),
) -> None:
    """Hash files and folders.

    Prints one JSON line per file:
    {"path": ..., "signals": {"md5": ..., "pdq": ..., "sha256": ...}, "pdq_quality": 100}
    for an image; a video also has "vpdq": [{"frame", "quality", "hash",
    "timestamp"}, ...] (one frame per --seconds-per-hash) and "video" (size,
    frame rate, duration, rotation); a file that is neither gets its exact
    hashes and "not_computed" (why each perceptual hash is missing).
    {"path": ..., "error": ...} for a file that could not be hashed, such as
    one named as an image or video that does not decode as one (unless
    --signal asks for exact hashes only). Exits 1 if any file failed.
    """
    from hashmatch.hashing import HashRequest, default_jobs, hash_files, iter_files
    from hashmatch.media import DecodeLimits
    from hashmatch.media.video import VideoLimits

    request = HashRequest(
        signal_types=parse_signal_names(signal),
        dihedral=dihedral,
        fast=fast,
        limits=DecodeLimits(**_given(max_file_bytes=max_file_bytes, max_pixels=max_pixels)),
        video_limits=VideoLimits(**_given(max_seconds=max_video_seconds)),
        seconds_per_hash=seconds_per_hash,
    )
    files = list(iter_files(paths))
    show_progress = any(path.is_dir() for path in paths) or len(files) > 1
    started = time.perf_counter()
    with kernel_notice():
        results = tracked(
            hash_files(files, request, jobs=jobs or default_jobs()),
            len(files),
            "hashing",
            show=show_progress,
        )
        failed = _print_results(results, output_format)
    seconds = time.perf_counter() - started
    say(f"hashed {len(files) - failed} file(s), {failed} failed, in {seconds:.2f} s")
    if failed:
        raise typer.Exit(EXIT_FAILED)


def _given(**limits: Any) -> dict[str, Any]:
    """The limits given on the command line (the others keep their defaults)."""
    return {name: value for name, value in limits.items() if value is not None}


def _print_results(results: Iterable[FileHashes], output_format: OutputFormat) -> int:
    failed = 0
    table = _hash_table() if output_format is OutputFormat.table else None
    for result in results:
        failed += not result.ok
        if table is None:
            typer.echo(json.dumps(result.to_json()))
        else:
            _add_row(table, result)
    if table is not None:
        from rich.console import Console

        Console(width=200).print(table)
    return failed


def _hash_table() -> Table:
    from rich.table import Table

    table = Table(show_lines=False)
    for column in ("path", "signal", "value", "quality"):
        table.add_column(column, overflow="fold")
    return table


def _add_row(table: Table, result: FileHashes) -> None:
    if not result.ok:
        table.add_row(result.path, "error", f"[red]{result.error}[/red]", "")
        return
    rows = [
        (name, value, result.quality.get(name)) for name, value in sorted(result.signals.items())
    ]
    rows += [(name, f"{len(frames)} frames", None) for name, frames in result.frames.items()]
    rows += [(name, f"not computed: {why}", None) for name, why in result.not_computed.items()]
    for position, (name, value, quality) in enumerate(rows):
        table.add_row(
            result.path if position == 0 else "",
            name,
            value,
            "" if quality is None else str(quality),
        )
