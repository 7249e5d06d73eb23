"""The background filer that ``serve`` and ``worker`` run: it files every
report with work due (and, when ``cybertip_enabled``, first drafts the
rules' report requests), one filer per report across processes.

    filer = Filer(database, settings)
    filer.start()          # a thread, never the event loop
    ...
    filer.stop(timeout=30)

    filer.run_once()       # one round, for tests: the reports worked on

A round takes report requests into drafts (``Reports.take_requests``), then
leases due reports (``ReportLeases.claim_due``: drafts made from requests,
reports waiting out a retry, finished ones whose evidence is not preserved)
and files each in turn (``Filing.run``).  A report that fails is logged and
audited by the filing; the loop goes on.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from hashmatch.errors import HashmatchError
from hashmatch.reporting.preservation import Preserve
from hashmatch.reporting.reports import Reports
from hashmatch.rounds import holder_name

if TYPE_CHECKING:
    from hashmatch.actions.media_vault import MediaVault
    from hashmatch.reporting.cybertip.client import CybertipClient
    from hashmatch.settings import Settings
    from hashmatch.store import Database

log = logging.getLogger(__name__)

#: Seconds between rounds when the last one found nothing to do.
POLL_SECONDS = 5.0
#: Reports leased per round.
BATCH = 8


class Filer:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        vault: MediaVault | None = None,
        client: CybertipClient | None = None,
        preserve: Preserve | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.settings = settings
        self.reports = Reports(database, settings, vault=vault, client=client, preserve=preserve)
        self.poll_seconds = poll_seconds
        #: This filer's name on the leases it holds.
        self.name = holder_name()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """One round: requests drafted (when ``cybertip_enabled``), due reports
        filed (always: a report a person started goes on after a retry wait);
        how many reports it worked on."""
        if self.settings.cybertip_enabled:
            try:
                self.reports.take_requests(actor="worker")
            except HashmatchError as error:  # the reporter settings, the key: an admin's to set
                log.warning("CyberTipline report requests not taken: %s", error)
        leases = self.reports.filing.leases
        worked: set[int] = set()
        while not self._stopping.is_set():
            report_ids = leases.claim_due(self.name, limit=BATCH)
            for position, report_id in enumerate(report_ids):
                if self._stopping.is_set() or report_id in worked:  # once a round at most
                    for left in report_ids[position:]:
                        leases.release(left, self.name)
                    return len(worked)
                self._file(report_id)
                worked.add(report_id)
            if not report_ids:
                break
        return len(worked)

    def _file(self, report_id: int) -> None:
        try:
            self.reports.filing.run(report_id, self.name)
        except HashmatchError as error:  # a lease that ran out, a report deleted meanwhile
            log.warning("CyberTipline report %s: %s", report_id, error)
        finally:
            self.reports.filing.leases.release(report_id, self.name)

    def start(self) -> None:
        """File in a thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._loop, name="hashmatch-cybertip-filer", daemon=True
        )
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                worked = self.run_once()
            except Exception:  # the database away for a moment: try again next round
                log.exception("the CyberTipline filer's round failed")
                worked = 0
            if not worked:
                self._stopping.wait(self.poll_seconds)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the report in hand (its step finishes; a crash-safe stop either way)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
