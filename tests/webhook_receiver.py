"""A webhook receiver for tests, written from docs/webhooks.md alone.

:func:`verify_from_docs` follows the documented recipe with nothing but the
standard library's ``hmac``, ``hashlib`` and ``json`` (not
``hashmatch.webhooks``), so a test that it accepts real deliveries holds the
documentation to what the server sends.  :class:`Receiver` is an HTTP server
on loopback that records what it is sent and answers as a test tells it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class RejectedError(Exception):
    """A delivery the documented recipe refuses."""


def verify_from_docs(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: int = 300,
    now: float | None = None,
) -> dict[str, Any]:
    """docs/webhooks.md, "Verifying a delivery", step by step."""
    lowered = {name.lower(): value for name, value in headers.items()}
    # 1. the header: comma-separated key=value parts, one t, one or more v1
    timestamp, candidates = None, []
    for part in lowered.get("hashmatch-signature", "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise RejectedError("no signature")
    # 2. the timestamp: within the tolerance of the receiver's clock
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise RejectedError("too old or too new")
    # 3. the HMAC-SHA256 of "<t>.<raw body>", hex, against each v1
    expected = hmac.new(
        secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body, hashlib.sha256
    ).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise RejectedError("bad signature")
    # 4. the event; its id is the deduplication key
    event: dict[str, Any] = json.loads(body)
    return event


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    path: str
    #: The client's port: which connection it came on.
    client_port: int

    @property
    def event_id(self) -> str:
        return str(json.loads(self.body)["event_id"])


@dataclass
class Receiver:
    """What a test's receiver does: ``answer`` gives the status for each
    request (after ``delay`` seconds); everything received is kept."""

    answer: Callable[[Received], int] = lambda _received: 200
    delay: float = 0.0
    #: Close a kept-alive connection idle this long (None: keep it).
    idle_timeout: float | None = None
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def event_ids(self) -> list[str]:
        with self.lock:
            return [item.event_id for item in self.received if item.path != "/elsewhere"]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = receiver.idle_timeout

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            item = Received(
                dict(self.headers.items()),
                self.rfile.read(length),
                self.path,
                self.client_address[1],
            )
            with receiver.lock:
                receiver.received.append(item)
            if receiver.delay:
                time.sleep(receiver.delay)
            status = receiver.answer(item)
            try:
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                body = b"" if status == 204 else b"ok"
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the sender gave up, as it should
                self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def running(receiver: Receiver, port: int = 0) -> Iterator[Receiver]:
    """``receiver`` listening on loopback (``port``; 0: any free one)."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(receiver))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
