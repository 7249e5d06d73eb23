"""The ``hashmatch`` command: a thin layer that parses, calls the library, prints."""

from __future__ import annotations

import typer

from hashmatch import __version__
from hashmatch.cli import compare_command, demo_command, hash_command

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


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hashmatch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Find known content by perceptual and exact hashes."""


def main() -> None:
    app()
