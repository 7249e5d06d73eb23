"""One webhook delivery: the event's body, signed, POSTed to the receiver.

    sender = Sender(DeliveryPolicy.from_settings(settings))
    outcome = sender.send(job)          # never raises for the receiver's faults
    sender.close()

The receiver's URL obeys the rules of fetching by URL (``hashmatch.net``): it
must resolve to public addresses unless ``url_allow_private`` is on, and the
connection goes to the address checked.  A redirect is not followed: a 3xx
answer is a failed attempt, so no hop goes unchecked.  Each attempt has
``webhook_timeout_seconds`` in all, however slowly the receiver trickles its
answer.  A 2xx answer is a delivery; anything else is a failure, its reason
kept in the delivery log.

Connections are kept alive per receiver (scheme, host, port) between
deliveries: most cost one request on an open socket, not a DNS lookup, a
TCP (and TLS) handshake and a request.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass

from hashmatch import __version__
from hashmatch.actions.outbox import Job, Outcome
from hashmatch.errors import FetchError
from hashmatch.net import (
    PinnedHTTPConnection,
    Target,
    checked_address,
    cut_off_at,
    http_target,
    pinned_connection,
    reason,
)
from hashmatch.settings import Settings
from hashmatch.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, signature_header

#: A receiver's answer is read up to this size (and dropped) so the
#: connection can carry the next delivery; a longer one closes it.
MAX_ANSWER_BYTES = 64 * 1024
#: An idle kept-alive connection older than this is closed, not reused
#: (receivers close theirs after a while, and DNS may have moved on).
IDLE_SECONDS = 20.0
#: Errors a kept-alive connection gives when the receiver closed it while idle:
#: the delivery is tried once more on a new connection.
STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


@dataclass(frozen=True)
class DeliveryPolicy:
    timeout_seconds: float = 10.0
    allow_private: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(settings.webhook_timeout_seconds, settings.url_allow_private)


class Sender:
    """Sends deliveries from any number of threads, keeping connections alive."""

    def __init__(self, policy: DeliveryPolicy) -> None:
        self.policy = policy
        self._idle: dict[Target, list[tuple[float, PinnedHTTPConnection]]] = {}
        self._lock = threading.Lock()
        self._user_agent = f"hashmatch/{__version__}"

    def send(self, job: Job) -> Outcome:
        """POST ``job``'s body, signed with its webhook's valid secrets."""
        started = time.monotonic()
        deadline = started + self.policy.timeout_seconds
        body = job.body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self._user_agent,
            EVENT_ID_HEADER: job.event_id,
            SIGNATURE_HEADER: signature_header(job.secrets, body),
        }
        status: int | None = None
        try:
            status, location = self._post(http_target(job.url), body, headers, deadline)
            error = _refusal(status, location)
        except FetchError as failure:
            error = str(failure)
        except (OSError, http.client.HTTPException) as failure:
            error = (
                f"no answer within {self.policy.timeout_seconds:g} s (webhook_timeout_seconds)"
                if time.monotonic() >= deadline
                else reason(failure)
            )
        latency_ms = (time.monotonic() - started) * 1000
        return Outcome(job.delivery_id, job.attempts, status, latency_ms, error)

    def _post(
        self, target: Target, body: bytes, headers: dict[str, str], deadline: float
    ) -> tuple[int, str | None]:
        connection = self._take(target)
        if connection is not None:
            try:
                return self._exchange(connection, target, body, headers, deadline)
            except STALE:
                if time.monotonic() >= deadline:
                    raise
        address = checked_address(target.host, target.port, allow_private=self.policy.allow_private)
        return self._exchange(
            pinned_connection(target, address, deadline), target, body, headers, deadline
        )

    def _exchange(
        self,
        connection: PinnedHTTPConnection,
        target: Target,
        body: bytes,
        headers: dict[str, str],
        deadline: float,
    ) -> tuple[int, str | None]:
        """One request and its answer on ``connection``, which is kept for the
        next delivery when the answer leaves it usable, closed otherwise."""
        connection.deadline = deadline
        left = max(deadline - time.monotonic(), 0.001)
        connection.timeout = left
        if connection.sock is not None:
            connection.sock.settimeout(left)
        cutoff = cut_off_at(deadline, connection)
        reusable = False
        try:
            connection.request("POST", target.path, body, headers)
            response = connection.getresponse()
            response.read(MAX_ANSWER_BYTES)
            reusable = response.isclosed() and not response.will_close
            return response.status, response.getheader("Location")
        finally:
            cutoff.cancel()
            if reusable and time.monotonic() < deadline:
                self._give_back(target, connection)
            else:
                connection.close()

    def _take(self, target: Target) -> PinnedHTTPConnection | None:
        now = time.monotonic()
        with self._lock:
            idle = self._idle.get(target, [])
            while idle:
                since, connection = idle.pop()
                if now - since < IDLE_SECONDS:
                    return connection
                connection.close()
        return None

    def _give_back(self, target: Target, connection: PinnedHTTPConnection) -> None:
        with self._lock:
            self._idle.setdefault(target, []).append((time.monotonic(), connection))

    def close(self) -> None:
        """Close the idle connections."""
        with self._lock:
            for idle in self._idle.values():
                for _, connection in idle:
                    connection.close()
            self._idle.clear()


def _refusal(status: int, location: str | None) -> str | None:
    """Why an answer is not a delivery (None: it is)."""
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        where = f" to {location[:200]}" if location else ""
        return f"HTTP {status}: redirect{where} not followed (answer 2xx at the webhook's URL)"
    return f"HTTP {status}"
