"""``hashmatch evidence ...``: preserved evidence from a terminal (docs/reporting.md).

The CLI acts as ``cli:<os user>`` (whoever runs it holds the database and
the master key anyway); every listing, view and export is audited under
that name, as holds and purges are.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from hashmatch.cli.context import open_database, os_user, settings_of
from hashmatch.cli.errors import EXIT_USAGE, reported_errors
from hashmatch.cli.progress import say
from hashmatch.fieldlimits import MAX_ID

if TYPE_CHECKING:
    from hashmatch.reporting.evidence import Evidence

evidence_app = typer.Typer(
    help="Preserved evidence of finished reports: list, show, export; legal holds; "
    "purge what is past its retention (docs/reporting.md).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

PACKAGE_ID = typer.Argument(..., metavar="ID", min=1, max=MAX_ID, help="The package's id.")


def _evidence(ctx: typer.Context) -> Evidence:
    from hashmatch.reporting.evidence import Evidence

    database = open_database(ctx)
    with reported_errors():
        return Evidence(database, settings_of(ctx))


def _actor() -> str:
    return f"cli:{os_user()}"


@contextmanager
def _working(description: str) -> Iterator[None]:
    """A spinner on stderr while something long runs (on a terminal only)."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(description):
        yield


def _when(moment: str | None) -> str:
    return moment[:16].replace("T", " ") if moment else ""


def _kept_until(package: dict[str, Any]) -> str:
    if package["status"] != "kept":
        return ""
    return _when(package["kept_until"]) if package["kept_until"] else "held (no end)"


@evidence_app.command("list")
def list_packages(
    ctx: typer.Context,
    due: bool = typer.Option(False, "--due", help="Only packages a purge would delete now."),
    status: str | None = typer.Option(None, "--status", help="Only kept or purged packages."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """List evidence packages, newest first (500 at most)."""
    evidence = _evidence(ctx)
    with reported_errors():
        packages = evidence.list(actor=_actor(), status=status, due=due)
    if as_json:
        for package in packages:
            typer.echo(json.dumps(package))
        return
    if not packages:
        typer.echo("no evidence packages")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title_justify="left")
    for column in ("id", "report", "status", "objects", "bytes", "kept until", "holds"):
        table.add_column(column)
    for package in packages:
        live = [hold for hold in package["holds"] if hold["released_at"] is None]
        table.add_row(
            str(package["id"]),
            str(package["report_id"]),
            package["status"] + (" (due)" if package["due"] else ""),
            str(package["object_count"]),
            str(package["size"]),
            _kept_until(package),
            str(len(live)),
        )
    Console(width=160).print(table)


@evidence_app.command("show")
def show(
    ctx: typer.Context,
    package_id: int = PACKAGE_ID,
    as_json: bool = typer.Option(False, "--json", help="Print the package as JSON."),
) -> None:
    """Show a package: its manifest (name, size, SHA-256), its holds."""
    evidence = _evidence(ctx)
    with reported_errors():
        package = evidence.show(package_id, actor=_actor())
    if as_json:
        typer.echo(json.dumps(package))
        return
    typer.echo(
        f"evidence package {package['id']} of report {package['report_id']}: "
        f"{package['status']}, kept until {_kept_until(package) or _when(package['purged_at'])}"
    )
    typer.echo(f"  store: {package['store']}")
    for entry in package["manifest"]:
        typer.echo(f"  {entry['sha256']}  {entry['size']:>10}  {entry['name']}")
    for hold in package["holds"]:
        state = f"released by {hold['released_by']}" if hold["released_at"] else "on"
        ends = f" until {_when(hold['until'])}" if hold["until"] else ""
        typer.echo(f"  hold {hold['id']} ({state}{ends}): {hold['reason']}")


@evidence_app.command("export")
def export(
    ctx: typer.Context,
    package_id: int = PACKAGE_ID,
    to: Path = typer.Option(
        ..., "--to", file_okay=False, help="Folder for evidence-ID.zip (made if missing)."
    ),
) -> None:
    """Write the package as a zip: every object (decrypted and checked),
    manifest.json and SHA256SUMS (check with: sha256sum --check)."""
    evidence = _evidence(ctx)
    with reported_errors(), _working(f"exporting evidence package {package_id}"):
        written = evidence.export(package_id, to, actor=_actor())
    typer.echo(str(written))


def _until(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        say(f"error: --until {text!r} is not a date (YYYY-MM-DD or an ISO time)")
        raise typer.Exit(EXIT_USAGE) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@evidence_app.command("hold")
def hold(
    ctx: typer.Context,
    package_id: int = PACKAGE_ID,
    reason: str = typer.Option(..., "--reason", help="Why (a case, a preservation request)."),
    until: str | None = typer.Option(
        None, "--until", metavar="DATE", help="When the hold ends by itself (UTC); default never."
    ),
) -> None:
    """Place a legal hold: the package is kept past its retention until released."""
    ends = _until(until)
    evidence = _evidence(ctx)
    with reported_errors():
        placed = evidence.hold(package_id, reason, actor=_actor(), until=ends)
    typer.echo(f"hold {placed['id']} placed on evidence package {package_id}")


@evidence_app.command("release")
def release(
    ctx: typer.Context,
    hold_id: int = typer.Argument(..., metavar="HOLD_ID", min=1, max=MAX_ID, help="The hold."),
) -> None:
    """Release a legal hold (the package's retention applies again)."""
    evidence = _evidence(ctx)
    with reported_errors():
        released = evidence.release(hold_id, actor=_actor())
    typer.echo(f"hold {hold_id} on evidence package {released['package_id']} released")


@evidence_app.command("purge-due")
def purge_due(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the purged ids as JSON."),
) -> None:
    """Purge every package past its retention with no hold in force (serve
    and worker do this every minute too); each purge is audited."""
    evidence = _evidence(ctx)
    with reported_errors(), _working("purging evidence that is due"):
        purged = evidence.purge_due(actor=_actor())
    if as_json:
        typer.echo(json.dumps({"purged": purged}))
    else:
        typer.echo(f"purged {len(purged)} evidence package(s)" + (f": {purged}" if purged else ""))
