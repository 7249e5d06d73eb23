"""``hashmatch audit ...``: read the audit log and check its hash chain."""

from __future__ import annotations

import json

import typer

from hashmatch.cli.context import open_database
from hashmatch.cli.errors import EXIT_FAILED, reported_errors
from hashmatch.cli.progress import say

audit_app = typer.Typer(
    help="Read the audit log of changes and check that none was edited or removed.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

PATTERN = "Exact, or a prefix ending in * ('content:known/*')."


@audit_app.command("list")
def list_entries(
    ctx: typer.Context,
    actor: str | None = typer.Option(
        None, "--actor", help=f"Who: key:NAME, cli:USER, system. {PATTERN}"
    ),
    target: str | None = typer.Option(
        None, "--target", help=f"What: bank:NAME, content:BANK/ID, key:NAME. {PATTERN}"
    ),
    action: str | None = typer.Option(
        None, "--action", help=f"What was done: bank.create, content.add, ... {PATTERN}"
    ),
    since: str | None = typer.Option(
        None, "--since", help="Entries written at or after this time, e.g. 2026-11-26T16:00:00Z."
    ),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="At most this many entries (default: all)."
    ),
) -> None:
    """Print entries, oldest first, as JSON lines: seq, at, actor, action,
    target, before, after, request_id, client, prev_hash, hash."""
    from hashmatch import audit

    with reported_errors():
        moment = audit.parse_time(since) if since is not None else None
    database = open_database(ctx)
    query = audit.Query(actor, target, action, moment)
    after_seq, left = 0, limit
    while left is None or left > 0:
        page_size = audit.MAX_PAGE if left is None else min(left, audit.MAX_PAGE)
        with database.reading() as session:
            page = query.page(session, after_seq=after_seq, limit=page_size)
        for record in page:
            typer.echo(json.dumps(record))
        if len(page) < page_size:
            return
        after_seq = page[-1]["seq"]
        left = None if left is None else left - len(page)


@audit_app.command("verify")
def verify(
    ctx: typer.Context,
    expect_head: str | None = typer.Option(
        None,
        "--expect-head",
        metavar="HASH",
        help="A head printed by an earlier verify: fail if it is no longer in the chain.",
    ),
) -> None:
    """Check the whole hash chain and print the result as JSON: ok, entries,
    head (keep it, and pass it as --expect-head next time: that catches the
    newest entries being removed) and problems.

    Exit 1 when the chain is broken, with each broken entry named on stderr.
    """
    from hashmatch import audit

    with open_database(ctx).reading() as session:
        check = audit.verify(session, expect_head=expect_head)
    typer.echo(json.dumps(check.to_json()))
    if not check.ok:
        for problem in check.problems:
            say(f"broken: {problem}")
        say("error: the audit log's chain is broken")
        raise typer.Exit(EXIT_FAILED)
