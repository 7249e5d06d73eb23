"""Hash-list imports in a child process, so a worker never waits on one.

    runner = ImportRunner(settings.database_url)
    result = await runner.run("known", path, ListFormat.pdq, "list.txt")

Parsing and writing a million-hash list is a minute of Python in one thread,
and some of its steps are single C calls that hold the GIL for a long
moment: in a server's own process, liveness probes and lookups waited for
them (p99 220 ms at 1M on SQLite).  Here the list goes to a process of its
own (one per server worker, started on the first import); the worker only
awaits its answer.  Errors come back as the same exceptions, and the
worker's matcher follows the change log as for any other writer.  The
import is audited as the request's actor, which goes to the child with it.
"""

from __future__ import annotations

import asyncio
import io
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from hashmatch.audit import Actor, acting_as, current_actor
from hashmatch.banks import Banks, ImportResult
from hashmatch.errors import ImportFormatError
from hashmatch.hashlists import ListFormat, read_entries
from hashmatch.store import Database


def import_file(
    database_url: str,
    name: str,
    path: str,
    list_format: ListFormat,
    source: str | None,
    actor: Actor,
) -> ImportResult:
    """Read a list file and import it as ``actor`` (in the child process)."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ImportFormatError("the list is not UTF-8 text") from None
    database = Database.open(database_url, migrate=False)
    try:
        entries = read_entries(io.StringIO(text, newline=""), list_format, source or "list")
        with acting_as(actor):
            return Banks(database).import_entries(name, entries, source=source)
    finally:
        database.close()


class ImportRunner:
    """One child process per server worker for imports, started when first needed."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._pool: ProcessPoolExecutor | None = None

    async def run(
        self, name: str, path: Path, list_format: ListFormat, source: str | None
    ) -> ImportResult:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool,
            import_file,
            self.database_url,
            name,
            str(path),
            list_format,
            source,
            current_actor(),
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
