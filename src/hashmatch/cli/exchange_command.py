"""``hashmatch exchange ...``: configure exchanges and fetch them into banks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hashmatch.cli.context import open_database, settings_of
from hashmatch.cli.errors import EXIT_FAILED, EXIT_USAGE, reported_errors

if TYPE_CHECKING:
    from hashmatch.exchange import Exchanges

exchange_app = typer.Typer(
    help="Configure exchanges (NCMEC, StopNCII, hash lists, ...) and fetch them into banks.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

NAME = typer.Argument(..., metavar="NAME", help="The exchange's name.")
OPTION_HELP = "KEY=VALUE, an option of the type (repeat); `exchange types` lists them."


def _exchanges(ctx: typer.Context) -> Exchanges:
    from hashmatch.exchange import Exchanges

    return Exchanges(open_database(ctx))


def _print_json(record: object) -> None:
    typer.echo(json.dumps(record))


def parse_options(values: list[str]) -> dict[str, str]:
    """``["base_url=https://x"]`` -> ``{"base_url": "https://x"}``."""
    options = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {value!r}", param_hint="--option")
        options[name.strip()] = text
    return options


@exchange_app.command("types")
def types() -> None:
    """List the installed exchange types and their options, as JSON."""
    from hashmatch.exchange.catalog import types_json

    _print_json(types_json())


@exchange_app.command("add")
def add(
    ctx: typer.Context,
    name: str = NAME,
    source_type: str = typer.Option(
        ..., "--type", help="ncmec, stopncii, threatexchange, file, url, hashmatch, ..."
    ),
    bank: str = typer.Option(..., "--bank", help="The bank it fills (create it first)."),
    option: list[str] = typer.Option([], "--option", "-o", help=OPTION_HELP),
    credentials_env: str | None = typer.Option(
        None, "--credentials-env", help="Name of the environment variable holding the credentials."
    ),
    credentials_file: Path | None = typer.Option(
        None, "--credentials-file", help="File holding the credentials (read at each fetch)."
    ),
    interval: int = typer.Option(3600, "--interval", help="Seconds between fetches in serve."),
    disabled: bool = typer.Option(False, "--disabled", help="Add it without fetching it."),
) -> None:
    """Add an exchange and print it as JSON (credentials are never stored, only where they are)."""
    exchanges = _exchanges(ctx)
    with reported_errors():
        info = exchanges.create(
            name,
            source_type,
            bank=bank,
            options=parse_options(option),
            credentials_env=credentials_env,
            credentials_file=str(credentials_file.resolve()) if credentials_file else None,
            interval_seconds=interval,
            enabled=not disabled,
        )
    _print_json(info.to_json())


@exchange_app.command("set")
def set_options(
    ctx: typer.Context,
    name: str = NAME,
    option: list[str] = typer.Option([], "--option", "-o", help=OPTION_HELP + " KEY= removes."),
    credentials_env: str | None = typer.Option(
        None, "--credentials-env", help="New variable name."
    ),
    credentials_file: Path | None = typer.Option(None, "--credentials-file", help="New file."),
    interval: int | None = typer.Option(None, "--interval", help="Seconds between fetches."),
) -> None:
    """Change an exchange's options, credentials' place or interval."""
    exchanges = _exchanges(ctx)
    with reported_errors():
        info = exchanges.update(
            name,
            options=parse_options(option) or None,
            credentials_env=credentials_env,
            credentials_file=str(credentials_file.resolve()) if credentials_file else None,
            interval_seconds=interval,
        )
    _print_json(info.to_json())


@exchange_app.command("list")
def list_exchanges(ctx: typer.Context) -> None:
    """Print every exchange as JSON, one a line."""
    for info in _exchanges(ctx).all():
        _print_json(info.to_json())


@exchange_app.command("show")
def show(ctx: typer.Context, name: str = NAME) -> None:
    """Print one exchange as JSON."""
    exchanges = _exchanges(ctx)
    with reported_errors():
        _print_json(exchanges.get(name).to_json())


@exchange_app.command("status")
def status(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, metavar="[NAME]", help="One exchange (default: all)."),
) -> None:
    """Print where fetching stands (checkpoint, last run, counts, errors), as JSON lines."""
    from hashmatch.exchange import statuses

    database = open_database(ctx)
    with reported_errors():
        for item in statuses(database, name):
            _print_json(item.to_json())


@exchange_app.command("fetch")
def fetch(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, metavar="[NAME]", help="The exchange to fetch."),
    every: bool = typer.Option(False, "--all", help="Fetch every enabled exchange."),
) -> None:
    """Fetch an exchange (or all) into its bank now; prints each run's counts.
    Exits 1 if a fetch failed."""
    from hashmatch.exchange import Fetcher
    from hashmatch.media.download import UrlPolicy

    if (name is None) == (not every):
        typer.echo("error: name an exchange, or give --all", err=True)
        raise typer.Exit(EXIT_USAGE)
    database = open_database(ctx)
    fetcher = Fetcher(database, UrlPolicy.from_settings(settings_of(ctx)))
    with reported_errors():
        results = fetcher.fetch_all() if every else [fetcher.fetch(name or "")]
    for result in results:
        _print_json(result.to_json())
    if not all(result.succeeded for result in results):
        raise typer.Exit(EXIT_FAILED)


def _switch(ctx: typer.Context, name: str, enabled: bool) -> None:
    exchanges = _exchanges(ctx)
    with reported_errors():
        _print_json(exchanges.update(name, enabled=enabled).to_json())


@exchange_app.command("enable")
def enable(ctx: typer.Context, name: str = NAME) -> None:
    """Fetch this exchange again on its interval."""
    _switch(ctx, name, True)


@exchange_app.command("disable")
def disable(ctx: typer.Context, name: str = NAME) -> None:
    """Stop fetching this exchange (what it fetched stays in the bank)."""
    _switch(ctx, name, False)


@exchange_app.command("delete")
def delete(ctx: typer.Context, name: str = NAME) -> None:
    """Forget an exchange (what it fetched stays in the bank)."""
    exchanges = _exchanges(ctx)
    with reported_errors():
        exchanges.delete(name)
    _print_json({"deleted": name})


@exchange_app.command("opinions")
def opinions(
    ctx: typer.Context,
    name: str = NAME,
    state: str | None = typer.Option(
        None, "--status", help="Only these: pending, sent, failed, not_sent or withdrawn."
    ),
    limit: int = typer.Option(100, min=1, max=10_000, help="Most opinions printed."),
) -> None:
    """Print the opinions sent back to an exchange (newest first), as JSON lines:
    what reviewers decided about its hashes, and whether it was told."""
    from hashmatch.exchange.opinions import list_opinions

    database = open_database(ctx)
    with reported_errors():
        rows = list_opinions(database, name, status=state, limit=limit)
    for row in rows:
        _print_json(row)


@exchange_app.command("send-opinions")
def send_opinions(ctx: typer.Context) -> None:
    """Send every due opinion to its exchange now (serve and worker do this on
    their own every few seconds); prints the counts per exchange as JSON."""
    from hashmatch.exchange.opinions import OpinionSender

    sender = OpinionSender.from_settings(open_database(ctx), settings_of(ctx))
    with reported_errors():
        rounds: dict[str, dict[str, int]] = {}
        while worked := sender.run_once():
            for exchange, counts in worked.items():
                total = rounds.setdefault(exchange, dict.fromkeys(counts, 0))
                for outcome, count in counts.items():
                    total[outcome] += count
    _print_json(rounds)


@exchange_app.command("retry-opinions")
def retry_opinions(ctx: typer.Context, name: str = NAME) -> None:
    """Send an exchange's failed opinions again (after fixing its credentials
    or options); prints how many."""
    from hashmatch.exchange.opinions import OpinionSender

    sender = OpinionSender.from_settings(open_database(ctx), settings_of(ctx))
    with reported_errors():
        _print_json({"exchange": name, "retried": sender.retry_failed(name)})
