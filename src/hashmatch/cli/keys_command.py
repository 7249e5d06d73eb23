"""``hashmatch keys ...``: API keys for the HTTP service."""

from __future__ import annotations

import json

import typer

from hashmatch.apikeys import SCOPES, ApiKeys
from hashmatch.cli.context import open_database
from hashmatch.cli.errors import reported_errors

keys_app = typer.Typer(
    help="Create, list and revoke API keys.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@keys_app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", "-n", help="A name for the key (who uses it)."),
    scope: str = typer.Option(
        ..., "--scope", "-s", help=f"Comma-separated scopes: {', '.join(SCOPES)}."
    ),
) -> None:
    """Create a key.  The key is printed once, as the last line: store it now."""
    keys = ApiKeys(open_database(ctx))
    with reported_errors():
        secret, info = keys.create(
            name, [part.strip() for part in scope.split(",") if part.strip()]
        )
    typer.echo(f"created API key {info.name!r} with scopes {', '.join(info.scopes)}", err=True)
    typer.echo(secret)


@keys_app.command("list")
def list_keys(ctx: typer.Context) -> None:
    """Print every key's name, scopes and times as JSON lines (never the key itself)."""
    for info in ApiKeys(open_database(ctx)).all():
        typer.echo(json.dumps(info.to_json()))


@keys_app.command("revoke")
def revoke(ctx: typer.Context, name: str = typer.Argument(..., help="The key's name.")) -> None:
    """Revoke a key: it stops working at once."""
    keys = ApiKeys(open_database(ctx))
    with reported_errors():
        info = keys.revoke(name)
    typer.echo(json.dumps(info.to_json()))
