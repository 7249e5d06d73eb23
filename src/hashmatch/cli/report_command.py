"""``hashmatch report ...``: transparency reports from the stored events."""

from __future__ import annotations

from pathlib import Path

import typer

from hashmatch.cli.context import open_database, settings_of
from hashmatch.cli.progress import say

report_app = typer.Typer(
    help="Reports made from the stored events: transparency figures per period.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@report_app.command("transparency")
def transparency_command(
    ctx: typer.Context,
    period: str = typer.Option(
        ..., "--period", help="A year (2026), a quarter (2026-Q3) or a month (2026-07), UTC."
    ),
    output_format: str = typer.Option(
        "json", "--format", help="json (the versioned record), csv (a row per figure) or html."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write to this file (default: standard output)."
    ),
) -> None:
    """Counts for the period beside the previous period's, with the change:
    content scanned, matches, verdicts, actions, review decisions,
    CyberTipline reports, evidence and median times (docs/transparency.md)."""
    from hashmatch.errors import TransparencyError
    from hashmatch.reporting.transparency import transparency
    from hashmatch.reporting.transparency.formats import check_format, render
    from hashmatch.reporting.transparency.periods import parse_period

    try:
        chosen = parse_period(period)
        check_format(output_format)
    except TransparencyError as error:
        raise typer.BadParameter(str(error)) from None
    name = settings_of(ctx).transparency_instance_name or None
    report = transparency(open_database(ctx), chosen, instance_name=name)
    text = render(report, output_format)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    say(f"wrote {out}")
