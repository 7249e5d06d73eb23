"""The ``hashmatch`` command: a thin layer that parses, calls the library, prints.

Start-up is part of the interface: ``hashmatch --version`` and ``--help`` must
answer at once, and ``hashmatch hash`` must not wait for the web server's or
the database's libraries.  So the command modules import only typer, the
standard library and light hashmatch modules at the top, and each command
imports the library it calls (numba, PyAV, SQLAlchemy, FastAPI come with it)
when it runs; tests/test_cli_startup.py holds that.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from hashmatch import __version__
from hashmatch.cli import (
    compare_command,
    demo_command,
    eval_command,
    hash_command,
    match_command,
    serve_command,
    worker_command,
)
from hashmatch.cli.appeals_command import appeals_app
from hashmatch.cli.audit_command import audit_app
from hashmatch.cli.bank_command import bank_app
from hashmatch.cli.context import RootOptions
from hashmatch.cli.cybertip_command import cybertip_app
from hashmatch.cli.evidence_command import evidence_app
from hashmatch.cli.exchange_command import exchange_app
from hashmatch.cli.hub_collections_command import register as register_hub_collections
from hashmatch.cli.hub_command import hub_app
from hashmatch.cli.hub_identifier_command import register as register_hub_identifier_key
from hashmatch.cli.hub_report_command import install as install_hub_reports
from hashmatch.cli.hub_share_command import register as register_hub_share
from hashmatch.cli.keys_command import keys_app
from hashmatch.cli.platform_users_command import platform_users_app
from hashmatch.cli.report_command import report_app
from hashmatch.cli.review_command import review_app
from hashmatch.cli.rules_command import rules_app
from hashmatch.cli.statements_command import statements_app
from hashmatch.cli.submit_command import media_key_app, submissions_app, submit_files_command
from hashmatch.cli.users_command import users_app
from hashmatch.cli.webhooks_command import webhooks_app


class _RootGroup(TyperGroup):
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader stopped reading (``hashmatch hash ... | head``): the
            # command ends there, which is not a failure.  What is still
            # buffered for stdout goes nowhere, so exiting prints nothing.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0) from None


app = typer.Typer(
    name="hashmatch",
    cls=_RootGroup,
    help="Find known content by perceptual and exact hashes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("hash")(hash_command.hash_files_command)
app.command("compare")(compare_command.compare_command)
app.command("demo")(demo_command.demo_command)
app.command("eval")(eval_command.eval_command)
app.command("match")(match_command.match_command)
app.command("serve")(serve_command.serve_command)
app.command("worker")(worker_command.worker_command)
app.add_typer(bank_app, name="bank")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(rules_app, name="rules")
app.add_typer(exchange_app, name="exchange")
app.add_typer(webhooks_app, name="webhooks")
app.command("submit")(submit_files_command)
app.add_typer(submissions_app, name="submissions")
app.add_typer(media_key_app, name="media-key")
app.add_typer(users_app, name="users")
app.add_typer(review_app, name="review")
app.add_typer(appeals_app, name="appeals")
app.add_typer(platform_users_app, name="platform-users")
app.add_typer(report_app, name="report")
app.add_typer(cybertip_app, name="cybertip")
app.add_typer(evidence_app, name="evidence")
app.add_typer(statements_app, name="statements")
register_hub_share(hub_app)
register_hub_collections(hub_app)
install_hub_reports(hub_app)
register_hub_identifier_key(hub_app)
app.add_typer(hub_app, name="hub")


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
    ctx.obj = RootOptions(data_dir=data_dir, database_url=database_url, config=config)


def main() -> None:
    try:
        app()
    finally:
        # The process is ending: its last garbage collection would walk every
        # object numba and the other libraries made (a fifth of a second for
        # ``hash one.jpg``).  Frozen, they are left to the exit; exit
        # handlers and buffered output still run.
        gc.freeze()
