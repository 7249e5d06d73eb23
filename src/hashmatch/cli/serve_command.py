"""``hashmatch serve``: the HTTP API on uvicorn."""

from __future__ import annotations

import typer
import uvicorn

from hashmatch.api.app import create_app
from hashmatch.api.workers import port_held, run_workers
from hashmatch.apikeys import ApiKeys
from hashmatch.cli.context import settings_of
from hashmatch.cli.errors import reported_errors
from hashmatch.store import Database


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
    Every setting is listed in docs/settings.md.
    """
    with reported_errors():
        settings = settings_of(ctx).overridden(
            {"host": host, "port": port, "workers": workers, "database_url": database_url}
        )
        # Migrate once here, not in every worker at the same moment.
        database = Database.open(settings.database_url)
        try:
            if not ApiKeys(database).all():
                typer.echo(
                    "No API keys yet: every route but /status/live needs one. Create the "
                    "first with: hashmatch keys create --name NAME --scope hash,match,curate",
                    err=True,
                )
        finally:
            database.close()
    with reported_errors():
        if settings.workers > 1:
            run_workers(settings)
            return
        with port_held(settings.host, settings.port):
            uvicorn.run(
                create_app(settings), host=settings.host, port=settings.port, access_log=False
            )
