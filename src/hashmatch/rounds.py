"""A background thread that works in rounds: again at once while a round
finds work, every ``poll_seconds`` when it finds none, until stopped.

    sending = Rounds(sender.run_once, name="hashmatch-opinions", what="sending opinions")
    sending.start()
    ...
    sending.stop(timeout=30)      # the round under way ends first

:func:`holder_name` is what such a worker writes on the rows it leases.
A round that raises is logged with ``what`` and the rounds go on: a bug in
one must not end the work quietly.  Never run on the event loop.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable

log = logging.getLogger("hashmatch")


def holder_name() -> str:
    """A worker's name on the leases it holds: this host, this process and
    a random part (two workers of one process never share one)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Rounds:
    def __init__(
        self, work: Callable[[], object], *, name: str, what: str, poll_seconds: float
    ) -> None:
        self.work = work
        self.what = what
        self.poll_seconds = poll_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                worked = bool(self.work())
            except Exception:
                log.exception("%s failed", self.what)
                worked = False
            if not worked and self._stopping.wait(self.poll_seconds):
                return
