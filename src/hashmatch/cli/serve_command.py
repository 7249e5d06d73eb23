"""``hashmatch serve``: the HTTP API on uvicorn.

It logs where the data lives before anything else: the database (a SQLite
file's path, or a PostgreSQL server and database, never a password) and the
folder of index snapshots.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import typer

from hashmatch.cli.context import program, settings_of
from hashmatch.cli.errors import reported_errors
from hashmatch.cli.progress import say

if TYPE_CHECKING:
    from hashmatch.settings import Settings

log = logging.getLogger("hashmatch.serve")


def describe_database(url: str) -> str:
    """Where a database URL points, fit for a log: no password.

    >>> describe_database("postgresql://app:secret@db.internal:5432/hashmatch")
    'PostgreSQL database hashmatch on db.internal:5432 as app'
    >>> describe_database("sqlite:////var/lib/hashmatch/hashmatch.db")
    'SQLite file /var/lib/hashmatch/hashmatch.db'
    """
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database or '(in memory)'}"
    where = parsed.host or "localhost"
    if parsed.port:
        where += f":{parsed.port}"
    who = f" as {parsed.username}" if parsed.username else ""
    return f"PostgreSQL database {parsed.database} on {where}{who}"


def announce_reporting(settings: Settings, logger: logging.Logger) -> None:
    """Say where CyberTipline reports go (a warning when it is production),
    and load the evidence master key now if one is set, so that a bad key
    stops start-up rather than the first finished report."""
    from hashmatch.reporting.cybertip.environment import banner, environment_of
    from hashmatch.reporting.evidence.keys import load_master_key

    production = environment_of(settings.cybertip_url) == "production"
    (logger.warning if production else logger.info)(banner(settings))
    if settings.evidence_key_file is not None or settings.evidence_key_command:
        load_master_key(settings)
    elif settings.cybertip_enabled:
        logger.warning(
            "cybertip_enabled is on but no evidence key is set (evidence_key_file or "
            "evidence_key_command): finished reports wait until their evidence can be preserved"
        )


def serve_command(
    ctx: typer.Context,
    host: str | None = typer.Option(
        None, "--host", help="Address to listen on (setting host; default 127.0.0.1)."
    ),
    port: int | None = typer.Option(
        None, "--port", "-p", help="Port to listen on (setting port; default 5100)."
    ),
    workers: int | None = typer.Option(
        None, "--workers", "-w", help="Worker processes (setting workers; default 1)."
    ),
    database_url: str | None = typer.Option(
        None, "--database-url", help="Overrides the global --database-url."
    ),
) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json, docs at /docs).

    Every route but /status/live needs an API key: hashmatch keys create.
    Every setting is listed in docs/settings.md.  The log starts with the
    database and the index snapshot folder in use.
    """
    import uvicorn

    from hashmatch.accounts.users import Users
    from hashmatch.actions.media_vault import load_vault
    from hashmatch.api.access_log import configure_logging
    from hashmatch.api.app import create_app
    from hashmatch.api.workers import port_held, run_workers
    from hashmatch.apikeys import ApiKeys
    from hashmatch.store import Database

    with reported_errors():
        settings = settings_of(ctx).overridden(
            {"host": host, "port": port, "workers": workers, "database_url": database_url}
        )
        configure_logging(settings.log_format)
        log.info("database: %s", describe_database(settings.database_url))
        log.info("index snapshots: %s", settings.snapshot_dir)
        announce_reporting(settings, log)
        # Migrate once here, not in every worker at the same moment.
        database = Database.open(settings.database_url)
        try:
            if Users(database, settings).count() == 0:
                say(
                    "No one can sign in to the web UI yet: create the first admin with  "
                    f"{program()} users create NAME --role admin"
                )
            if not ApiKeys(database).all():
                log.warning(
                    "No API keys yet: every route but /status/live needs one. Create the "
                    "first with: %s keys create --name NAME --scope hash,match,curate",
                    program(),
                )
        finally:
            database.close()
    with reported_errors():
        if settings.workers > 1:
            load_vault(settings)  # a bad media key: one message here, not a worker restart loop
            run_workers(settings)
            return
        with port_held(settings.host, settings.port):
            uvicorn.run(
                create_app(settings), host=settings.host, port=settings.port, access_log=False
            )
