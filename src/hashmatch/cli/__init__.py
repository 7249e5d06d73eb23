"""The ``hashmatch`` command: a thin layer that parses, calls the library, prints."""

from __future__ import annotations

from pathlib import Path

import typer

from hashmatch import __version__
from hashmatch.cli import (
    compare_command,
    demo_command,
    hash_command,
    match_command,
    serve_command,
)
from hashmatch.cli.bank_command import bank_app
from hashmatch.cli.errors import reported_errors
from hashmatch.cli.keys_command import keys_app
from hashmatch.settings import Settings

app = typer.Typer(
    name="hashmatch",
    help="Find known content by perceptual and exact hashes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("hash")(hash_command.hash_files_command)
app.command("compare")(compare_command.compare_command)
app.command("demo")(demo_command.demo_command)
app.command("match")(match_command.match_command)
app.command("serve")(serve_command.serve_command)
app.add_typer(bank_app, name="bank")
app.add_typer(keys_app, name="keys")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hashmatch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="Data folder (env HASHMATCH_DATA_DIR; default ~/.local/share/hashmatch).",
    ),
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        help="sqlite:///... or postgresql://... (env HASHMATCH_DATABASE_URL).",
    ),
    config: Path | None = typer.Option(
        None, "--config", help="TOML settings file (env HASHMATCH_CONFIG)."
    ),
) -> None:
    """Find known content by perceptual and exact hashes."""
    with reported_errors():
        ctx.obj = Settings.load(
            {"data_dir": data_dir, "database_url": database_url}, config_file=config
        )


def main() -> None:
    app()
