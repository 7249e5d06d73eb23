"""Delivering webhooks in the background: ``hashmatch serve`` and ``hashmatch worker``.

    deliverer = Deliverer(database, settings)
    deliverer.start()
    ...
    deliverer.stop(timeout=30)     # finishes what is in flight, hands back the rest

Three kinds of thread share the work.  The claimer leases due jobs in batches
(``outbox.claim``), up to four per sender held at once, more when half of
them are done, and otherwise waits for this process to commit new jobs
(``outbox.wake_deliverers``) or for the next poll.  ``delivery_concurrency``
senders POST the jobs.  The settler writes their outcomes, as many as have
come in, in one transaction.  Any number of deliverers, in any processes,
may run on one database: a job is leased to one of them at a time.

A lease lasts long enough for a job to wait its turn behind the others held,
be tried and settled (five timeouts and a margin): a deliverer killed mid-delivery leaves its
jobs leased until then, and another takes them over after that.  Every
minute, one thread also runs the workflow's upkeep
(``actions.upkeep.run_upkeep``: the delivery log's pruning among it).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import timedelta

from hashmatch.actions import outbox
from hashmatch.actions.delivery import DeliveryPolicy, Sender
from hashmatch.actions.outbox import Job, Outcome, Retries
from hashmatch.actions.upkeep import run_upkeep
from hashmatch.rounds import holder_name
from hashmatch.settings import Settings
from hashmatch.store import Database

log = logging.getLogger("hashmatch.deliveries")

#: How often to look for due jobs when no wake-up comes (jobs committed by
#: another process, retries coming due).
POLL_SECONDS = 0.25
UPKEEP_SECONDS = 60.0
#: Outcomes written in one transaction, at most.
SETTLE_BATCH = 500
#: Jobs a deliverer holds per sender; it claims more when half are done.
HELD_PER_SENDER = 4
#: Added to a lease beyond the senders' timeouts, for the database's own delays.
LEASE_MARGIN_SECONDS = 2.0


class Deliverer:
    def __init__(
        self, database: Database, settings: Settings, *, poll_seconds: float = POLL_SECONDS
    ) -> None:
        self.database = database
        self.settings = settings
        self.poll_seconds = poll_seconds
        #: Who holds a lease: host, process and this deliverer.
        self.name = holder_name()
        self.retries = Retries.from_settings(settings)
        self.sender = Sender(DeliveryPolicy.from_settings(settings))
        self.concurrency = settings.delivery_concurrency
        #: Jobs held at once (claimed, not yet settled), and how many must be
        #: free before claiming more: claims come in batches, one transaction each.
        self._room = HELD_PER_SENDER * self.concurrency
        # A job may wait for the senders to try every job claimed before it.
        self.lease = timedelta(
            seconds=(HELD_PER_SENDER + 1) * settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS
        )
        self._held = 0
        self._held_changed = threading.Condition()
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._outcomes: queue.Queue[Outcome | None] = queue.Queue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        log.info("delivering webhooks as %s, %d at a time", self.name, self.concurrency)
        self._spawn(self._claim_loop, "claim")
        self._spawn(self._settle_loop, "settle")
        self._spawn(self._upkeep_loop, "upkeep")
        for number in range(self.concurrency):
            self._spawn(self._send_loop, f"send-{number}")

    def _spawn(self, target: Callable[[], None], role: str) -> None:
        thread = threading.Thread(target=target, name=f"hashmatch-deliver-{role}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming, hand back the jobs not started, let the senders
        finish theirs (up to ``timeout``), and write every outcome."""
        if self._stopping.is_set() or not self._threads:
            return
        self._stopping.set()
        outbox.wake_deliverers()
        with self._held_changed:
            self._held_changed.notify_all()
        claimer, settler, upkeep, *senders = self._threads
        claimer.join(timeout)
        unstarted: list[int] = []
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                unstarted.append(job.delivery_id)
        for _ in senders:
            self._jobs.put(None)
        try:
            released = outbox.release(self.database, self.name, unstarted)
        except Exception:
            log.exception("could not hand back %d jobs; their leases will run out", len(unstarted))
        else:
            log.info("handed back %d jobs not started", released)
        for sender in senders:
            sender.join(timeout)
        self._outcomes.put(None)
        settler.join(timeout)
        upkeep.join(timeout)
        self.sender.close()
        log.info("stopped delivering webhooks")

    def _claim_loop(self) -> None:
        while not self._stopping.is_set():
            with self._held_changed:
                self._held_changed.wait_for(
                    lambda: self._held <= self._room // 2 or self._stopping.is_set()
                )
                room = self._room - self._held
            if self._stopping.is_set():
                return
            try:
                jobs = outbox.claim(self.database, self.name, limit=room, lease=self.lease)
            except Exception:
                log.exception("could not claim deliveries")
                self._stopping.wait(self.poll_seconds)
                continue
            if jobs:
                with self._held_changed:
                    self._held += len(jobs)
                for job in jobs:
                    self._jobs.put(job)
            if len(jobs) < room:
                outbox.wait_for_jobs(self.poll_seconds)

    def _send_loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                outcome = self.sender.send(job)
            except Exception as error:  # a bug must not take the job with it
                log.exception("delivery %d failed unexpectedly", job.delivery_id)
                outcome = Outcome(
                    job.delivery_id, job.attempts, None, 0.0, f"internal error: {error}"
                )
            if outcome.error is not None:
                log.info("delivery %d (event %s): %s", job.delivery_id, job.event_id, outcome.error)
            self._outcomes.put(outcome)

    def _settle_loop(self) -> None:
        done = False
        while not done:
            batch: list[Outcome] = []
            item = self._outcomes.get()
            while item is not None:
                batch.append(item)
                if len(batch) >= SETTLE_BATCH:
                    break
                try:
                    item = self._outcomes.get_nowait()
                except queue.Empty:
                    break
            done = item is None
            try:
                outbox.settle(self.database, self.name, batch, self.retries)
            except Exception:
                log.exception(
                    "could not record %d outcomes; their jobs will be retried", len(batch)
                )
            with self._held_changed:
                self._held -= len(batch)
                self._held_changed.notify_all()

    def _upkeep_loop(self) -> None:
        while not self._stopping.wait(UPKEEP_SECONDS):
            try:
                run_upkeep(self.database, self.settings)
            except Exception:
                log.exception("workflow upkeep failed")
