"""Adds from many threads, committed together: group commit.

    queue = AddQueue(banks)
    content_id = queue.add("known", entry, source="api")  # returns once committed

A server adding content one request at a time paid a whole transaction per
add: the write lock, the bank's row lock, the change log's lock, a commit.
Here the adds that arrive while a transaction is under way wait for it and
then go in the next one together (:meth:`Banks.add_many`).  No thread of its
own: the first waiting caller commits the batch for everyone in it, then
hands the lead to the next caller still waiting.  A lone add waits for
nothing.  When a batch fails (one item's bank was just deleted, say), each
of its items is tried alone, so an error reaches only the caller it belongs to.
Each add is audited as its own caller's, whichever thread commits it: the
caller's actor is captured when it queues the add.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from hashmatch.audit import Actor, acting_as, current_actor
from hashmatch.banks.catalog import Banks, NewContent
from hashmatch.errors import HashmatchError
from hashmatch.hashlists import Entry

#: Most adds in one transaction.
MAX_BATCH = 256


@dataclass(eq=False)
class _Pending:
    bank: str
    entry: Entry
    source: str | None
    actor: Actor = field(default_factory=current_actor)
    #: Set when the add is done, or when this caller is to lead the next batch.
    wake: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    result: int | None = None
    error: BaseException | None = None

    def finish(self, result: int | None = None, error: BaseException | None = None) -> None:
        self.result, self.error, self.done = result, error, True
        self.wake.set()


class AddQueue:
    """Group commit of single adds (thread-safe)."""

    def __init__(self, banks: Banks, max_batch: int = MAX_BATCH) -> None:
        self.banks = banks
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._pending: list[_Pending] = []
        self._leading = False

    def add(self, bank: str, entry: Entry, *, source: str | None = None) -> int | None:
        """As :meth:`Banks.add`: the content's id, or None when the bank has it."""
        item = _Pending(bank, entry, source)
        with self._lock:
            self._pending.append(item)
            if not self._leading:
                self._leading = True
                item.wake.set()  # nobody is committing: this caller leads
        item.wake.wait()
        if not item.done:
            self._lead()
        if item.error is not None:
            raise item.error
        return item.result

    def _lead(self) -> None:
        """Commit the oldest waiting adds (this caller's among them), then
        wake the next waiting caller to lead, or stop leading."""
        with self._lock:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
        try:
            self._commit(batch)
        finally:
            with self._lock:
                if self._pending:
                    self._pending[0].wake.set()
                else:
                    self._leading = False

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            results = self.banks.add_many(
                [NewContent(p.bank, p.entry, p.source, p.actor) for p in batch]
            )
        except HashmatchError:
            for item in batch:  # find the item that failed: each alone
                try:
                    with acting_as(item.actor):
                        item.finish(self.banks.add(item.bank, item.entry, source=item.source))
                except HashmatchError as error:
                    item.finish(error=error)
            return
        except BaseException as error:  # the database is down, say: every caller hears
            for item in batch:
                item.finish(error=error)
            raise
        for item, result in zip(batch, results, strict=True):
            item.finish(result)
