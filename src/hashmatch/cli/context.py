"""What every command shares: the root flags, the settings they resolve to,
the database, and how to name this program in a hint.

A command that opens the database acts as ``cli:<os user>`` for the audit
log until it ends.
"""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hashmatch.cli.errors import reported_errors

if TYPE_CHECKING:
    from hashmatch.settings import Settings
    from hashmatch.store import Database


@dataclass
class RootOptions:
    """The root command's flags.  Settings are resolved when a command first
    asks for them: hashing files needs none, and their library is not light."""

    data_dir: Path | None = None
    database_url: str | None = None
    config: Path | None = None
    settings: Settings | None = None


def settings_of(ctx: typer.Context) -> Settings:
    """The settings from flags, config file and environment (loaded once)."""
    root = ctx.find_root().obj
    if not isinstance(root, RootOptions):
        raise TypeError("the hashmatch root command did not run")
    if root.settings is None:
        from hashmatch.settings import Settings

        with reported_errors():
            root.settings = Settings.load(
                {"data_dir": root.data_dir, "database_url": root.database_url},
                config_file=root.config,
            )
    return root.settings


def open_database(ctx: typer.Context) -> Database:
    """The configured database, migrated to the current schema; what the
    command changes in it is audited as the OS user's."""
    from hashmatch.audit import Actor, acting_as
    from hashmatch.store import Database

    with reported_errors():
        database = Database.open(settings_of(ctx).database_url)
    ctx.call_on_close(database.close)
    ctx.with_resource(acting_as(Actor(f"cli:{os_user()}")))
    return database


def os_user() -> str:
    """Who runs this command: the login name, else the numeric user id (a
    container's user may have no name)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid-{os.getuid()}"


def program() -> str:
    """This program as it was started (``.venv/bin/hashmatch``), for hints that
    name another command: a virtual environment's commands are not on the
    PATH until it is activated, so a bare ``hashmatch`` may not run."""
    started_as = sys.argv[0]
    return started_as if Path(started_as).name == "hashmatch" else "hashmatch"
