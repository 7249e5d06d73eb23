"""``hashmatch bank ...``: create, inspect, fill and export banks."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hashmatch.cli.context import open_database
from hashmatch.cli.errors import EXIT_FAILED, EXIT_USAGE, reported_errors
from hashmatch.cli.progress import kernel_notice, say
from hashmatch.hashlists import FRAMES, Entry, ListFormat, read_file, write_entries
from hashmatch.signals import get_signal_type, parse_query

if TYPE_CHECKING:
    from hashmatch.banks import Banks

bank_app = typer.Typer(
    help="Create, inspect, fill and export banks of known content.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class ListView(StrEnum):
    table = "table"
    json = "json"


def _banks(ctx: typer.Context) -> Banks:
    from hashmatch.banks import Banks

    return Banks(open_database(ctx))


def _print_json(record: object) -> None:
    typer.echo(json.dumps(record))


def parse_thresholds(values: list[str]) -> dict[str, int]:
    """``["pdq=20"]`` -> ``{"pdq": 20}``."""
    out = {}
    for value in values:
        name, sep, number = value.partition("=")
        if not sep or not number.strip().isdigit():
            raise typer.BadParameter(
                f"expected TYPE=DISTANCE, got {value!r}", param_hint="--threshold"
            )
        out[name.strip()] = int(number)
    return out


def parse_hash(text: str, *, query: bool = False) -> tuple[str, str]:
    """``"pdq:<hex>"`` -> ``("pdq", "<canonical hex>")``; ``query``: what a
    lookup searches for (a keyword query is a text, not one phrase)."""
    name, sep, value = text.partition(":")
    if not sep:
        raise typer.BadParameter(f"expected TYPE:HASH, got {text!r}", param_hint="--hash")
    with reported_errors():
        return name, parse_query(name, value) if query else get_signal_type(name).parse(value)


VARIANTS_HELP = "Store crops and small rotations of images added by hashing, so such copies match"
FEATURES_HELP = (
    "Store the local features of images added by hashing and run the second stage "
    "(local features) on image lookups in this bank"
)
INLIERS_HELP = "Verified inliers a local-features match needs, 8-200"


@bank_app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(
        ..., metavar="NAME", help="Unique name: letters, digits, '_', '.', '-'."
    ),
    description: str = typer.Option("", "--description", "-d", help="What the bank holds."),
    kind: str = typer.Option(
        "match", "--kind", help="match or allowlist: an allowlist's matches suppress the others."
    ),
    label: list[str] = typer.Option(
        [], "--label", "-l", help="A label (repeat); A1, A2, B1, B2 classify."
    ),
    threshold: list[str] = typer.Option(
        [], "--threshold", "-t", help="TYPE=DISTANCE, e.g. pdq=20 (repeat)."
    ),
    disabled: bool = typer.Option(
        False, "--disabled", help="Create it disabled (it matches nothing)."
    ),
    image_variants: bool | None = typer.Option(
        None,
        "--image-variants/--no-image-variants",
        help=f"{VARIANTS_HELP} (default: on for match banks, off for allowlists).",
    ),
    local_features: bool = typer.Option(
        False, "--local-features/--no-local-features", help=f"{FEATURES_HELP} (default: off)."
    ),
    min_inliers: int | None = typer.Option(
        None, "--min-inliers", help=f"{INLIERS_HELP} (default: the library's)."
    ),
) -> None:
    """Create a bank and print it as JSON."""
    banks = _banks(ctx)
    with reported_errors():
        info = banks.create(
            name,
            description=description,
            kind=kind,
            labels=label,
            thresholds=parse_thresholds(threshold),
            enabled=not disabled,
            image_variants=image_variants,
            local_features=local_features,
            min_inliers=min_inliers,
        )
    _print_json(info.to_json())


@bank_app.command("list")
def list_banks(
    ctx: typer.Context,
    output_format: ListView = typer.Option(ListView.table, "--format", "-f", help="table or json."),
) -> None:
    """List every bank with its size."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    infos = _banks(ctx).all()
    if output_format is ListView.json:
        _print_json([info.to_json() for info in infos])
        return
    table = Table()
    for column in ("name", "kind", "enabled", "contents", "labels", "thresholds", "description"):
        table.add_column(column)
    for info in infos:
        table.add_row(
            info.name,
            info.kind,
            "yes" if info.enabled else "no",
            str(info.contents),
            ", ".join(info.labels),
            ", ".join(f"{k}={v}" for k, v in sorted(info.thresholds.items())),
            escape(info.description),
        )
    Console(width=160).print(table)


@bank_app.command("show")
def show(
    ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME", help="Bank name.")
) -> None:
    """Print one bank as JSON."""
    banks = _banks(ctx)
    with reported_errors():
        _print_json(banks.get(name).to_json())


@bank_app.command("update")
def update(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Bank name."),
    new_name: str | None = typer.Option(None, "--name", help="Rename the bank."),
    description: str | None = typer.Option(None, "--description", "-d", help="New description."),
    enabled: bool | None = typer.Option(
        None, "--enable/--disable", help="Switch matching on or off."
    ),
    label: list[str] | None = typer.Option(
        None, "--label", "-l", help="Replace the labels (repeat)."
    ),
    threshold: list[str] = typer.Option([], "--threshold", "-t", help="TYPE=DISTANCE (repeat)."),
    image_variants: bool | None = typer.Option(
        None,
        "--image-variants/--no-image-variants",
        help=f"{VARIANTS_HELP} (images added from now on).",
    ),
    local_features: bool | None = typer.Option(
        None,
        "--local-features/--no-local-features",
        help=f"{FEATURES_HELP} (images added from now on).",
    ),
    min_inliers: int | None = typer.Option(
        None, "--min-inliers", help=f"{INLIERS_HELP}; 0: the library's default."
    ),
) -> None:
    """Change a bank's name, description, labels, thresholds, enabled flag,
    whether images added store variants or local features, or its minimum
    inliers."""
    banks = _banks(ctx)
    with reported_errors():
        info = banks.update(
            name,
            new_name=new_name,
            description=description,
            enabled=enabled,
            labels=label or None,
            thresholds=parse_thresholds(threshold) or None,
            image_variants=image_variants,
            local_features=local_features,
            min_inliers=min_inliers,
        )
    _print_json(info.to_json())


@bank_app.command("delete")
def delete(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Bank name."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a bank and all its content."""
    banks = _banks(ctx)
    with reported_errors():
        info = banks.get(name)
    if not yes and not typer.confirm(f"Delete bank {name!r} and its {info.contents} contents?"):
        raise typer.Exit(EXIT_USAGE)
    with reported_errors():
        banks.delete(name)
    _print_json({"deleted": name})


@bank_app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Bank name."),
    paths: list[Path] = typer.Argument(
        None,
        exists=True,
        dir_okay=False,
        metavar="FILE",
        help="Files to hash and add, one content each.",
    ),
    hashes: list[str] = typer.Option(
        [], "--hash", help="TYPE:HASH to add as one content (repeat)."
    ),
    external_id: str | None = typer.Option(None, "--external-id", help="Your id for this content."),
    note: str = typer.Option("", "--note", help="A note stored with the content."),
    label: list[str] = typer.Option([], "--label", "-l", help="Content label (repeat)."),
) -> None:
    """Add content by hashing files, or by hashes given on the command line.

    An image added to a bank that stores image variants also stores the
    hashes of its crops and small rotations, and to a bank that uses local
    features, its features (hashes given with --hash have no pixels, hence
    neither).

    Prints one JSON line per content: its id, or "skipped" if the bank has it,
    and "warnings": what the bank cannot do with it (a picture too flat for
    its PDQ hash to be matched, a file with no perceptual hash), also said on
    stderr.
    """
    from hashmatch.hashing import BANK_REQUEST, hash_file
    from hashmatch.signals.quality import quality_warnings

    banks = _banks(ctx)
    request = BANK_REQUEST
    if paths:
        with reported_errors():
            request = replace(BANK_REQUEST, local_features=banks.get(name).local_features)
    entries: list[tuple[str, Entry, list[str]]] = []
    if hashes:
        entry = Entry(dict(parse_hash(h) for h in hashes), external_id, label, note)
        entries.append(("--hash", entry, []))
    with kernel_notice():
        for path in paths or []:
            result = hash_file(path, request)
            if not result.ok:
                say(f"error: {result.error}")
                raise typer.Exit(EXIT_FAILED)
            frames = result.frames.get(FRAMES, [])
            entry = Entry(
                dict(result.signals),
                external_id,
                label,
                note,
                frames=frames,
                variants=result.variants,
                features=result.features,
            )
            warnings = quality_warnings(result.quality)
            warnings += [f"{kind} not computed: {why}" for kind, why in result.not_computed.items()]
            entries.append((str(path), entry, warnings))
    if not entries:
        raise typer.BadParameter("give files to hash or --hash TYPE:HASH")
    if external_id is not None and len(entries) > 1:
        raise typer.BadParameter("--external-id names one content: add one file at a time")
    for origin, entry, warnings in entries:
        with reported_errors():
            content_id = banks.add(name, entry, source="cli")
        for warning in warnings:
            say(f"warning: {origin}: {warning}")
        _print_json(
            {
                "input": origin,
                "content_id": content_id,
                "skipped": content_id is None,
                "warnings": warnings,
            }
        )


@bank_app.command("import")
def import_list(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Bank name."),
    path: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        metavar="FILE",
        help="CSV, JSON lines, or one PDQ hash per line.",
    ),
    list_format: ListFormat | None = typer.Option(
        None, "--format", "-f", help="csv, jsonl, pdq or vpdq (default: from the file name)."
    ),
    source: str | None = typer.Option(
        None, "--source", help="Where the list came from (stored with each content)."
    ),
) -> None:
    """Import a hash list: all of it or nothing, skipping what the bank has.

    Prints {"added": N, "skipped": M}, and "low_quality": K when K of the
    list's contents have a perceptual hash whose quality (where the list
    gives it) is under the least that is matched: they match only by their
    other hashes.
    """
    banks = _banks(ctx)
    with reported_errors():
        entries = read_file(path, list_format)
        result = banks.import_entries(name, entries, source=source or path.name)
    if result.low_quality:
        say(
            f"warning: {result.low_quality} of the list's contents have a hash too flat to "
            "match on (quality under the least that is matched)"
        )
    _print_json(result.to_json())


@bank_app.command("export")
def export(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Bank name."),
    list_format: ListFormat = typer.Option(
        ListFormat.csv, "--format", "-f", help="csv, jsonl, pdq or vpdq."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="File to write (default: stdout)."
    ),
) -> None:
    """Write a bank's content as a hash list that bank import reads back.

    Each content comes with its content_id (csv and jsonl).
    """
    banks = _banks(ctx)
    with reported_errors():
        banks.get(name)
        if output is None:
            write_entries(banks.export(name), sys.stdout, list_format)
            return
        with output.open("w", encoding="utf-8", newline="") as stream:
            count = write_entries(banks.export(name), stream, list_format)
    typer.echo(f"wrote {count} content(s) to {output}", err=True)


@bank_app.command("content")
def content(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Bank name."),
    after: int = typer.Option(0, "--after", min=0, help="Start after this content id."),
    limit: int = typer.Option(100, "--limit", "-n", min=1, help="At most this many."),
) -> None:
    """List a bank's content ids (with external ids), in id order.

    Prints one JSON line per content: {"content_id": 7, "external_id": ...}.
    When there may be more, says on stderr how to get the next page.
    """
    banks = _banks(ctx)
    with reported_errors():
        page = banks.content_ids(name, after=after, limit=limit)
    for content_id, external_id in page:
        _print_json({"content_id": content_id, "external_id": external_id})
    if len(page) == limit:
        say(f"more may follow: --after {page[-1][0]}")


def _set_disabled(
    ctx: typer.Context, name: str, content_ids: list[int], until: datetime | None
) -> None:
    banks = _banks(ctx)
    with reported_errors():
        changed = banks.set_disabled(name, content_ids, until)
    _print_json(
        {"bank": name, "changed": changed, "disabled_until": until.isoformat() if until else None}
    )


@bank_app.command("disable-content")
def disable_content(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Bank name."),
    content_ids: list[int] = typer.Argument(..., metavar="CONTENT_ID", help="Content ids."),
    until: datetime = typer.Option(
        datetime(9999, 12, 31), "--until", help="Disabled until this time (UTC; default: for good)."
    ),
) -> None:
    """Stop content from matching (until a time, or for good).

    bank content NAME lists the content ids.
    """
    from hashmatch.store.models import as_utc

    _set_disabled(ctx, name, content_ids, as_utc(until))


@bank_app.command("enable-content")
def enable_content(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Bank name."),
    content_ids: list[int] = typer.Argument(..., metavar="CONTENT_ID", help="Content ids."),
) -> None:
    """Let disabled content match again."""
    _set_disabled(ctx, name, content_ids, None)
