"""``hashmatch appeals ...``: list, show and decide users' appeals (docs/appeals.md).

The CLI decides as ``cli:<os user>`` with an admin's rights, as ``hashmatch
review`` does.  Lists print a table, or JSON lines with ``--json``; one
appeal prints a summary, or the appeal as JSON with ``--json``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from hashmatch.cli.context import open_database, os_user, settings_of
from hashmatch.cli.errors import reported_errors
from hashmatch.fieldlimits import MAX_ID

if TYPE_CHECKING:
    from hashmatch.review.appeals import Appeals

appeals_app = typer.Typer(
    help="Users' appeals against verdicts and review decisions: list, show, decide "
    "(docs/appeals.md).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

APPEAL_ID = typer.Argument(..., metavar="ID", min=1, max=MAX_ID, help="The appeal's id.")
JSON_ONE = typer.Option(False, "--json", help="Print the appeal as JSON.")


def _appeals(ctx: typer.Context) -> Appeals:
    from hashmatch.banks import Banks
    from hashmatch.review import Review

    database = open_database(ctx)
    return Review(database, settings_of(ctx), Banks(database)).appeals


def _when(moment: str | None) -> str:
    return moment[:16].replace("T", " ") if moment else ""


@appeals_app.command("list")
def list_appeals(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help="Only open or decided appeals."),
    overdue: bool = typer.Option(False, "--overdue", help="Only open appeals past their due time."),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="At most this many."),
    before: int | None = typer.Option(
        None, "--before", metavar="ID", min=1, max=MAX_ID, help="Only appeals older than this one."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """List appeals, newest first."""
    with reported_errors():
        appeals = _appeals(ctx).list(status=status, overdue=overdue, before=before, limit=limit)
    if as_json:
        for appeal in appeals:
            typer.echo(json.dumps(appeal))
        return
    if not appeals:
        typer.echo("no appeals")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "submission", "review item", "status", "due", "decision", "decided by")
    for appeal in appeals:
        due = _when(appeal["due_at"]) + (" (overdue)" if appeal["overdue"] else "")
        table.add_row(
            str(appeal["id"]),
            str(appeal["submission_id"]),
            str(appeal["review_item_id"] or ""),
            appeal["status"],
            due,
            appeal["decision"] or "",
            appeal["decided_by"] or "",
        )
    Console(width=160).print(table)


@appeals_app.command("show")
def show(ctx: typer.Context, appeal_id: int = APPEAL_ID, as_json: bool = JSON_ONE) -> None:
    """Show an appeal, the decision it contests and, once decided, what changed."""
    with reported_errors():
        appeal = _appeals(ctx).get(appeal_id)
    if as_json:
        typer.echo(json.dumps(appeal))
        return
    for line in _summary(appeal):
        typer.echo(line)


def _summary(appeal: dict[str, Any]) -> list[str]:
    lines = [
        f"appeal {appeal['id']}: {appeal['status']}"
        + (f", {appeal['decision']} by {appeal['decided_by']}" if appeal["decision"] else ""),
        f"  submission {appeal['submission_id']} ({appeal['content_ref']})",
        f"  received {_when(appeal['received_at'])}, due {_when(appeal['due_at'])}"
        + (" (overdue)" if appeal["overdue"] else ""),
        f"  the user wrote: {appeal['text']!r}",
    ]
    appealed = appeal.get("appealed")
    if appealed and appealed["decision"]:
        said = appealed["decision"]
        lines.append(
            f"  appealed: review item {appealed['id']}, {said['decision']} "
            f"{said['classification'] or ''} by {said['decided_by']}; note: {said['note']!r}"
        )
    if appeal["note"]:
        lines.append(f"  note: {appeal['note']!r}")
    report = (appeal["outcome"] or {}).get("report")
    if report:
        lines.append(f"  CyberTipline report {report['report_id']}: {report['what_to_do']}")
    return lines


@appeals_app.command("decide")
def decide(
    ctx: typer.Context,
    appeal_id: int = APPEAL_ID,
    decision: str = typer.Option(
        ...,
        "--decision",
        "-d",
        help="uphold (the decision stands) or overturn (the verdict becomes allow; "
        "opinions corrected; pending report requests withdrawn).",
    ),
    note: str = typer.Option("", "--note", help="Why, for the platform and the audit log."),
    allowlist_bank: str | None = typer.Option(
        None, "--allowlist-bank", help="An overturn: add the upload's hashes to this bank."
    ),
    as_json: bool = JSON_ONE,
) -> None:
    """Decide an open appeal."""
    from hashmatch.review import Reviewer

    with reported_errors():
        appeal = _appeals(ctx).decide(
            appeal_id,
            Reviewer(f"cli:{os_user()}", is_admin=True),
            decision,
            note=note,
            allowlist_bank=allowlist_bank,
        )
    if as_json:
        typer.echo(json.dumps(appeal))
        return
    for line in _summary(appeal):
        typer.echo(line)
    offer = (appeal["outcome"] or {}).get("allowlist")
    if offer and offer["added_to"] is None and offer["banks"]:
        typer.echo(
            f"  allowlist not changed: the upload's hashes ({', '.join(offer['signals'])}) "
            f"could go to {', '.join(offer['banks'])}"
        )
