"""What every command that uses the database shares: settings and opening it."""

from __future__ import annotations

import typer

from hashmatch.cli.errors import reported_errors
from hashmatch.settings import Settings
from hashmatch.store import Database


def settings_of(ctx: typer.Context) -> Settings:
    """The settings the root command resolved from flags, file and environment."""
    settings = ctx.find_root().obj
    if not isinstance(settings, Settings):
        raise TypeError("the hashmatch root command did not run")
    return settings


def open_database(ctx: typer.Context) -> Database:
    """The configured database, migrated to the current schema."""
    with reported_errors():
        database = Database.open(settings_of(ctx).database_url)
    ctx.call_on_close(database.close)
    return database
