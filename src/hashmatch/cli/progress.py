"""Progress bars, notices and summaries, always on stderr so stdout stays parseable.

rich is imported when something is drawn, not before: ``--version`` and
``--help`` draw nothing of this.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer

T = TypeVar("T")


def say(message: str) -> None:
    """One line on stderr (above the progress bar, when one is drawn: the bar
    takes over stderr while it is live)."""
    typer.echo(message, err=True)


def tracked(items: Iterable[T], total: int, description: str, *, show: bool) -> Iterator[T]:
    """Yield ``items``, drawing a progress bar on stderr when ``show`` (and
    stderr is a terminal: a bar is no use in a log)."""
    if not (show and sys.stderr.isatty()):
        yield from items
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)


@contextmanager
def kernel_notice() -> Iterator[None]:
    """Within the block, say so when the PDQ kernel compiles (the first run
    on a machine waits for it)."""
    from hashmatch.pdq.warmup import COMPILING_NOTICE, announcing_compiles

    with announcing_compiles(lambda: say(f"{COMPILING_NOTICE}...")):
        yield
