"""``hashmatch platform-users ...``: one of the platform's users' history,
and erasing it (docs/platform-users.md).

``show`` prints a page as a table (and the cursor of the next one), or the
page as JSON with ``--json``; ``erase`` asks first unless ``--yes``, and
prints what went and what a preserved report keeps.
"""

from __future__ import annotations

import json
from typing import Any

import typer

from hashmatch.cli.context import open_database
from hashmatch.cli.errors import EXIT_FAILED, EXIT_USAGE, reported_errors
from hashmatch.platform_users.kinds import KINDS, MAX_PAGE

platform_users_app = typer.Typer(
    help="The platform's users (user_ref): show one's history, erase one's records "
    "(docs/platform-users.md).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

USER_REF = typer.Argument(..., metavar="REF", help="The platform's id for the user (user_ref).")
JSON = typer.Option(False, "--json", help="Print the answer as JSON.")


@platform_users_app.command("show")
def show(
    ctx: typer.Context,
    user_ref: str = USER_REF,
    limit: int = typer.Option(50, "--limit", min=1, max=MAX_PAGE, help="At most this many."),
    cursor: str | None = typer.Option(
        None, "--cursor", help="Where the last page ended (its next cursor)."
    ),
    kind: str | None = typer.Option(None, "--kind", help=f"Only one kind: {', '.join(KINDS)}."),
    as_json: bool = JSON,
) -> None:
    """Show a user's history, newest first: submissions, matches, review
    decisions, reports, appeals and statements of reasons."""
    from hashmatch.platform_users import user_history

    with reported_errors():
        page = user_history(
            open_database(ctx),
            user_ref,
            limit=limit,
            cursor=cursor,
            kinds=None if kind is None else [kind],
        )
    if as_json:
        typer.echo(json.dumps(page.to_json()))
        return
    from rich.console import Console
    from rich.table import Table

    counts = ", ".join(f"{n} {kind}" for kind, n in page.counts.items() if n)
    typer.echo(f"platform user {user_ref}: {counts}")
    table = Table("when", "kind", "ids", "summary")
    for entry in page.entries:
        ids = " ".join(f"{name}={value}" for name, value in entry.ids.items() if value is not None)
        table.add_row(entry.key.at.strftime("%Y-%m-%d %H:%M:%S"), entry.kind, ids, entry.summary)
    Console(width=160).print(table)
    if page.next_cursor is not None:
        typer.echo(f"more: --cursor {page.next_cursor}")


@platform_users_app.command("erase")
def erase(
    ctx: typer.Context,
    user_ref: str = USER_REF,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = JSON,
) -> None:
    """Erase a user's records in one transaction (audited), except what a
    preserved CyberTipline report holds; prints what went and what stayed."""
    from hashmatch.platform_users import erase as erase_user

    if not yes and not typer.confirm(
        f"Erase every record of platform user {user_ref!r} (preserved reports are kept)?"
    ):
        raise typer.Exit(EXIT_USAGE)
    with reported_errors():
        done = erase_user(open_database(ctx), user_ref)
    if as_json:
        typer.echo(json.dumps(done.to_json()))
    else:
        _print(done.to_json())
    if not done.found:
        typer.echo(f"nothing is known about platform user {user_ref!r}", err=True)
        raise typer.Exit(EXIT_FAILED)


def _print(summary: dict[str, Any]) -> None:
    went = ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in summary["deleted"].items() if n)
    typer.echo(f"erased: {went or 'nothing'}")
    for kept in summary["kept"]:
        typer.echo(f"kept {kept['kind']} {kept['id']}: {kept['reason']}")
