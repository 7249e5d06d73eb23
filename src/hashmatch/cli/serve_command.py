"""``hashmatch serve``: the HTTP API on uvicorn."""

from __future__ import annotations

import os
from pathlib import Path

import typer
import uvicorn

from hashmatch.cli.context import settings_of


def serve_command(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(5100, "--port", "-p", min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Worker processes."),
    database_url: str | None = typer.Option(
        None, "--database-url", help="Overrides the global --database-url."
    ),
) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json, docs at /docs).

    Every route but /status/live needs an API key: hashmatch keys create.
    """
    settings = settings_of(ctx)
    # Workers are separate processes: they read the settings from the environment.
    os.environ["HASHMATCH_DATA_DIR"] = str(Path(settings.data_dir))
    os.environ["HASHMATCH_DATABASE_URL"] = database_url or settings.database_url
    uvicorn.run(
        "hashmatch.api.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )
