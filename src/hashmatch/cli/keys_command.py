"""``hashmatch keys ...``: API keys for the HTTP service."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from hashmatch.cli.context import open_database, program
from hashmatch.cli.errors import EXIT_USAGE, reported_errors
from hashmatch.cli.progress import say

if TYPE_CHECKING:
    from hashmatch.apikeys import ApiKeys

keys_app = typer.Typer(
    help="Create, list and revoke API keys.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _keys(ctx: typer.Context) -> ApiKeys:
    from hashmatch.apikeys import ApiKeys

    return ApiKeys(open_database(ctx))


@keys_app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", "-n", help="A name for the key (who uses it)."),
    scope: str = typer.Option(
        ...,
        "--scope",
        "-s",
        help="Comma-separated scopes: hash, match, curate, submit, review, report, evidence, "
        "audit, hub, admin.",
    ),
) -> None:
    """Create a key and print it: the key alone on stdout, once, so that
    KEY=$(hashmatch keys create ...) holds it.  Store it now: only its hash is kept.

    A name already taken is an error (exit 2), named on stderr.
    """
    keys = _keys(ctx)
    taken = next((info for info in keys.all() if info.name == name), None)
    if taken is not None:
        state = "revoked" if taken.revoked_at else f"scopes {', '.join(taken.scopes)}"
        say(
            f"error: an API key named {name!r} already exists (created "
            f"{taken.created_at:%Y-%m-%d %H:%M} UTC, {state}). Its key was printed when "
            f"it was created and cannot be shown again: use it, revoke it "
            f"({program()} keys revoke {name}) or choose another --name."
        )
        raise typer.Exit(EXIT_USAGE)
    with reported_errors():
        secret, info = keys.create(
            name, [part.strip() for part in scope.split(",") if part.strip()]
        )
    say(f"created API key {info.name!r} with scopes {', '.join(info.scopes)}")
    typer.echo(secret)


@keys_app.command("list")
def list_keys(ctx: typer.Context) -> None:
    """Print every key's name, scopes and times as JSON lines (never the key itself)."""
    for info in _keys(ctx).all():
        typer.echo(json.dumps(info.to_json()))


@keys_app.command("revoke")
def revoke(
    ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME", help="The key's name.")
) -> None:
    """Revoke a key: it stops working at once."""
    keys = _keys(ctx)
    with reported_errors():
        info = keys.revoke(name)
    typer.echo(json.dumps(info.to_json()))
