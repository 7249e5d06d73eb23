"""Fetching exchanges on their intervals, in ``hashmatch serve``.

    scheduler = Scheduler(fetcher, on_change=service.refresh_soon)
    scheduler.start()      # a daemon thread; scheduler.stop() ends it

Every ``tick`` seconds the thread fetches each enabled exchange whose last
run started ``interval_seconds`` ago or more, as the ``system`` actor.  An
exchange another process is fetching (its lease is held) is skipped, so
every worker of every server may run a scheduler: one fetch runs at a time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from hashmatch import audit
from hashmatch.errors import ExchangeBusyError
from hashmatch.exchange.runner import Fetcher, FetchResult
from hashmatch.exchange.status import statuses
from hashmatch.store.models import utcnow

log = logging.getLogger("hashmatch.exchange")
TICK_SECONDS = 15.0


class Scheduler:
    def __init__(
        self,
        fetcher: Fetcher,
        *,
        tick: float = TICK_SECONDS,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.tick = tick
        self.on_change = on_change
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hashmatch-exchanges", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 60) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run_due(self) -> list[FetchResult]:
        """Fetch every exchange that is due now (skipping the busy ones)."""
        results = []
        now = utcnow()
        for status in statuses(self.fetcher.database, with_opinions=False):
            if self._stopping.is_set() or not status.due(now):
                continue
            try:
                result = self.fetcher.fetch(status.name, actor=audit.SYSTEM)
            except ExchangeBusyError:
                continue
            results.append(result)
            if not result.succeeded:
                log.warning("exchange %s: fetch failed: %s", status.name, result.error)
            if self.on_change is not None:
                self.on_change()
        return results

    def _loop(self) -> None:
        while not self._stopping.wait(self.tick):
            try:
                self.run_due()
            except Exception:  # a bug must not end the scheduling quietly
                log.exception("scheduled exchange fetches failed")
