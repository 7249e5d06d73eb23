"""``hashmatch statements ...``: the DSA statements of reasons, listed,
shown, sent now, and one or every failed one sent again (docs/statements.md).

Lists print a table, or JSON lines with ``--json``; ``send`` and ``retry``
print their counts, as JSON with ``--json``.  The API token is read from
the settings and never printed.
"""

from __future__ import annotations

import json

import typer

from hashmatch.cli.context import open_database, settings_of
from hashmatch.cli.errors import reported_errors
from hashmatch.errors import ConfigurationError
from hashmatch.fieldlimits import MAX_ID

statements_app = typer.Typer(
    help="Statements of reasons for the EU DSA Transparency Database: list, show, send, "
    "resend, retry (docs/statements.md).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@statements_app.command("list")
def list_command(
    ctx: typer.Context,
    status: str | None = typer.Option(
        None, "--status", help="Only pending, sent, failed or not_sent statements."
    ),
    kind: str | None = typer.Option(
        None, "--decision-kind", help="Only those explaining a verdict, review or appeal."
    ),
    since: str | None = typer.Option(
        None, "--since", help="Only those written at this time or later (RFC 3339)."
    ),
    before: int | None = typer.Option(
        None, "--before", min=0, max=MAX_ID, help="Only ids below this one (the next page)."
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help="At most this many."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """List statements, newest first."""
    from hashmatch.actions.submissions import parse_moment
    from hashmatch.statements.records import list_statements

    with reported_errors():
        found = list_statements(
            open_database(ctx),
            status=status,
            decision_kind=kind,
            since=parse_moment("--since", since) if since is not None else None,
            before=before,
            limit=limit,
        )
    if as_json:
        for statement in found:
            typer.echo(json.dumps(statement))
        return
    if not found:
        typer.echo("no statements")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "decision", "puid", "status", "tries", "last error")
    for row in found:
        table.add_row(
            str(row["id"]),
            f"{row['decision_kind']} {row['decision_id']}",
            row["puid"],
            row["status"],
            str(row["attempts"]),
            (row["last_error"] or "")[:60],
        )
    Console().print(table)


@statements_app.command("show")
def show_command(
    ctx: typer.Context,
    statement_id: int = typer.Argument(
        ..., metavar="ID", min=1, max=MAX_ID, help="The statement's id."
    ),
) -> None:
    """Print one statement as JSON: its state, the API's answer and the statement itself."""
    from hashmatch.statements.records import get_statement

    with reported_errors():
        found = get_statement(open_database(ctx), statement_id)
    typer.echo(json.dumps(found, indent=2))


@statements_app.command("send")
def send_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Send the due pending statements now (what `serve` and `worker` do in the background)."""
    from hashmatch.statements.sender import OUTCOMES, StatementSender

    with reported_errors():
        settings = settings_of(ctx)
        if not settings.dsa_statements_enabled:
            raise ConfigurationError("statements of reasons are off (set dsa_statements_enabled)")
        sender = StatementSender.from_settings(open_database(ctx), settings)
        totals = dict.fromkeys(OUTCOMES, 0)
        while counts := sender.run_once():
            for outcome, number in counts.items():
                totals[outcome] += number
            if not counts.get("sent") and not counts.get("again"):
                break  # the rest wait for their retry time
    if as_json:
        typer.echo(json.dumps(totals))
    else:
        typer.echo(", ".join(f"{outcome}: {number}" for outcome, number in totals.items()))


@statements_app.command("resend")
def resend_command(
    ctx: typer.Context,
    statement_id: int = typer.Argument(
        ..., metavar="ID", min=1, max=MAX_ID, help="The failed statement's id."
    ),
) -> None:
    """Send one failed statement again: pending, tries reset; printed as JSON."""
    from hashmatch.statements.records import resend

    with reported_errors():
        found = resend(open_database(ctx), statement_id)
    typer.echo(json.dumps(found, indent=2))


@statements_app.command("retry")
def retry_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the count as JSON."),
) -> None:
    """Put failed statements back to pending, tries reset (after fixing the token or a field)."""
    from hashmatch.statements.records import retry_failed

    with reported_errors():
        retried = retry_failed(open_database(ctx))
    typer.echo(
        json.dumps({"retried": retried}) if as_json else f"{retried} statement(s) pending again"
    )
