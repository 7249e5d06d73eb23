"""Local stand-ins for the exchanges' services, on their documented wire
formats: for tests, benchmarks, and trying an exchange out without an account.

    with NcmecSimulator(credentials="user:secret", generated=10_000) as ncmec:
        # hashmatch exchange add sim --type ncmec --bank b --option base_url=<ncmec.url>
        ncmec.fail_next("500")           # the next request gets a 500
        ...

Every simulator serves on loopback from a thread, checks the credentials
(401 when they are wrong or :attr:`Simulator.expired`), answers GETs with
:meth:`Simulator.answer` and POSTs and PUTs (opinions sent back) with
:meth:`Simulator.receive`, and takes faults
for the next requests: ``"500"``, ``"malformed"`` (a page that cannot be
parsed) and ``"stall"`` (headers and a little of the body, then nothing
until the server stops).  The hashes are random or generated: no content
lies behind them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlencode, urlsplit

from hashmatch.exchange.ncmec import ncmec_time

#: When every generated NCMEC entry was last changed.
GENERATED_AT = 1_700_000_000
FAULTS = ("500", "malformed", "stall")


def generated_hashes(seed: str, index: int) -> tuple[str, str]:
    """A made-up (MD5, PDQ) pair, the same for the same seed and index."""
    digest = hashlib.sha256(f"{seed}:{index}".encode()).hexdigest()
    return digest[:32], hashlib.sha256(digest.encode()).hexdigest()


def basic_authorized(credentials: str, headers: Any) -> bool:
    """Whether ``headers`` carry HTTP Basic ``credentials`` ("user:password")."""
    expected = base64.b64encode(credentials.encode()).decode()
    return bool(headers.get("Authorization") == f"Basic {expected}")


class Simulator:
    """A threaded HTTP server answering :meth:`answer` for every GET and
    :meth:`receive` for every POST and PUT."""

    #: The faults :meth:`fail_next` takes.
    faults: ClassVar[tuple[str, ...]] = FAULTS

    def __init__(self, credentials: str) -> None:
        self.credentials = credentials
        #: Answer 401 as if the credentials had expired.
        self.expired = False
        self.requests: list[str] = []
        self._faults: deque[str] = deque()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_next(self, *faults: str, count: int = 1) -> None:
        """The next requests get these faults, one each, in order (the
        whole sequence ``count`` times)."""
        for fault in faults:
            if not self.known_fault(fault):
                raise ValueError(f"unknown fault {fault!r}; one of {', '.join(self.faults)}")
        with self._lock:
            self._faults.extend(faults * count)

    def known_fault(self, fault: str) -> bool:
        return fault in self.faults

    def response_headers(self) -> dict[str, str]:
        """Headers every answer carries besides Content-Type and Content-Length."""
        return {}

    def authorized(self, path: str, headers: Any) -> bool:
        raise NotImplementedError

    def answer(self, path: str, query: dict[str, str]) -> tuple[str, bytes]:
        """The content type and body for a request (raise KeyError for 404)."""
        raise NotImplementedError

    def receive(
        self, method: str, path: str, query: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        """The status, content type and body for a POST or PUT (raise
        KeyError for 404); none taken unless a subclass says."""
        raise KeyError(path)

    def malformed(self) -> bytes:
        return b'{"truncated": '

    def start(self, port: int = 0) -> Self:
        """Serve on loopback, on ``port`` (0: any free port)."""
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                simulator._handle(self)

            def do_POST(self) -> None:
                simulator._handle(self)

            def do_PUT(self) -> None:
                simulator._handle(self)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        # stop() waits for the serving loop's next poll.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests.append(request.path)
            fault = self._faults.popleft() if self._faults else None
        if self.expired or not self.authorized(request.path, request.headers):
            self._send(request, 401, "application/json", b'{"error": "unauthorized"}')
            return
        if fault == "500":
            self._send(request, 500, "text/plain", b"internal error")
            return
        parts = urlsplit(request.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        status = 200
        try:
            if request.command == "GET":
                content_type, body = self.answer(parts.path, query)
            else:
                sent = request.rfile.read(int(request.headers.get("Content-Length") or 0))
                status, content_type, body = self.receive(request.command, parts.path, query, sent)
        except KeyError:
            self._send(request, 404, "text/plain", b"not found")
            return
        if fault == "malformed":
            body = self.malformed()
        if fault == "stall":
            self._stall(request, content_type, body)
            return
        self._send(request, status, content_type, body)

    def _send(
        self, request: BaseHTTPRequestHandler, status: int, content_type: str, body: bytes
    ) -> None:
        self._send_head(request, status, content_type, len(body))
        request.wfile.write(body)

    def _stall(self, request: BaseHTTPRequestHandler, content_type: str, body: bytes) -> None:
        """Headers and a little of ``body``, then nothing until the server stops."""
        self._send_head(request, 200, content_type, len(body))
        request.wfile.write(body[:10])
        request.wfile.flush()
        self._stopping.wait()

    def _send_head(
        self, request: BaseHTTPRequestHandler, status: int, content_type: str, length: int
    ) -> None:
        request.send_response(status)
        for name, value in {**self.response_headers(), "Content-Type": content_type}.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(length))
        request.end_headers()


@dataclass
class NcmecEntry:
    """One entry of the NCMEC simulator (``deleted``: a tombstone)."""

    id: str
    member_id: int = 1
    member_name: str = "Simulated member"
    classification: str | None = "A1"
    kind: str = "image"
    fingerprints: dict[str, str] = field(default_factory=dict)
    deleted: bool = False
    timestamp: int = GENERATED_AT
    #: Written as it is, instead of the entry's element (a malformed entry).
    raw: str | None = None

    def xml(self) -> str:
        if self.raw is not None:
            return self.raw
        tag = ("deleted" + self.kind.capitalize()) if self.deleted else self.kind
        prints = "".join(f"<{k}>{v}</{k}>" for k, v in self.fingerprints.items())
        classification = (
            f"<classification>{self.classification}</classification>" if self.classification else ""
        )
        return (
            f'<{tag}><id>{self.id}</id><member id="{self.member_id}">{self.member_name}</member>'
            f"{classification}<fingerprints>{prints}</fingerprints></{tag}>"
        )


class NcmecSimulator(Simulator):
    """NCMEC's hash sharing API v2: ``/v2/entries`` with ``from``/``to``
    windows and ``paging/next``, images and videos, deleted entries, Basic auth.

    ``generated`` entries (ids ``0`` ... ``generated - 1``, member 1, made-up
    MD5 and PDQ, changed at :data:`GENERATED_AT`) come first, then
    :attr:`entries` in order, each in the windows its timestamp falls in."""

    def __init__(
        self,
        credentials: str = "user:password",
        *,
        generated: int = 0,
        page_size: int = 1000,
        seed: str = "ncmec",
    ) -> None:
        super().__init__(credentials)
        self.generated = generated
        self.page_size = page_size
        self.seed = seed
        self.entries: list[NcmecEntry] = []

    def authorized(self, path: str, headers: Any) -> bool:
        return basic_authorized(self.credentials, headers)

    def generated_entry(self, index: int) -> NcmecEntry:
        md5, pdq = generated_hashes(self.seed, index)
        return NcmecEntry(str(index), fingerprints={"MD5": md5, "PDQ": pdq})

    def malformed(self) -> bytes:
        return b"<queryResult><images><image><id>1</id>"

    def answer(self, path: str, query: dict[str, str]) -> tuple[str, bytes]:
        if path != "/v2/entries":
            raise KeyError(path)
        start, end = _parse_time(query["from"]), _parse_time(query["to"])
        generated = self.generated if start <= GENERATED_AT < end else 0
        extra = [entry for entry in list(self.entries) if start <= entry.timestamp < end]
        total = generated + len(extra)
        first = int(query.get("start", 0))
        size = int(query.get("size", self.page_size))
        last = min(first + size, total)
        page = [
            self.generated_entry(i) if i < generated else extra[i - generated]
            for i in range(first, last)
        ]
        images = "".join(entry.xml() for entry in page if entry.kind == "image")
        videos = "".join(entry.xml() for entry in page if entry.kind == "video")
        stamp = ncmec_time(max((entry.timestamp for entry in page), default=start))
        following = (
            f"/v2/entries?from={query['from']}&amp;to={query['to']}&amp;start={last}"
            f"&amp;size={size}&amp;max={total}"
            if last < total
            else ""
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">'
            f'<images count="{images.count("<id>")}" maxTimestamp="{stamp}">{images}</images>'
            f'<videos count="{videos.count("<id>")}" maxTimestamp="{stamp}">{videos}</videos>'
            f"<paging><next>{following}</next></paging></queryResult>"
        )
        return "application/xml", body.encode()


def _parse_time(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


class StopNciiSimulator(Simulator):
    """StopNCII's ``/FetchHashes``: records changed at or after
    ``startTimestamp``, ``pageSize`` at a time, a ``nextPageToken`` while
    ``hasMoreRecords``, and ``nextSetTimestamp`` for the next run."""

    def __init__(self, credentials: str = "subscription:function") -> None:
        super().__init__(credentials)
        #: The records as the API sends them (see :meth:`record`).
        self.records: list[dict[str, Any]] = []

    @staticmethod
    def record(
        pdq: str, *, status: str = "Active", tags: tuple[str, ...] = (), modified: int = 100
    ) -> dict[str, Any]:
        return {
            "lastModtimestamp": modified,
            "signalType": "ImagePDQ",
            "hashValue": pdq,
            "hashStatus": status,
            "caseNumbers": {"case-1": status},
            "CSPFeedbacks": [{"feedbackValue": "None", "tags": list(tags), "source": "sim"}],
        }

    def authorized(self, path: str, headers: Any) -> bool:
        subscription, _, function = self.credentials.partition(":")
        return bool(
            headers.get("Ocp-Apim-Subscription-Key") == subscription
            and headers.get("x-functions-key") == function
        )

    def answer(self, path: str, query: dict[str, str]) -> tuple[str, bytes]:
        if path != "/FetchHashes":
            raise KeyError(path)
        start = int(query["startTimestamp"])
        size = int(query.get("pageSize", 800))
        # Anything but a record (a malformed one, for tests) is sent every time.
        chosen = [r for r in list(self.records) if _modified(r, start) >= start]
        first = int(query.get("nextPageToken") or 0)
        page = chosen[first : first + size]
        more = first + size < len(chosen)
        latest = max((_modified(r, start) for r in chosen), default=start - 1)
        body = {
            "count": len(page),
            "hashRecords": page,
            "hasMoreRecords": more,
            "nextPageToken": str(first + size) if more else None,
            "nextSetTimestamp": latest + 1,
        }
        return "application/json", json.dumps(body).encode()


def _modified(record: Any, default: int) -> int:
    modified = record.get("lastModtimestamp") if isinstance(record, dict) else None
    return modified if isinstance(modified, int) else default


class ListSimulator(Simulator):
    """A web server with hash lists: ``/<name>`` for the ``url`` type, and
    another hashmatch's ``/v1/banks/<bank>/export`` (Bearer key) for the
    ``hashmatch`` type; :attr:`lists` maps either path to its text."""

    def __init__(self, credentials: str = "peer-key") -> None:
        super().__init__(credentials)
        self.lists: dict[str, str] = {}

    def authorized(self, path: str, headers: Any) -> bool:
        if not path.startswith("/v1/"):
            return True
        return bool(headers.get("Authorization") == f"Bearer {self.credentials}")

    def answer(self, path: str, query: dict[str, str]) -> tuple[str, bytes]:
        return "text/plain", self.lists[path].encode()


class ThreatExchangeSimulator(Simulator):
    """The Graph API's ``/<privacy group>/threat_updates/``: updates with
    ``last_updated`` in ``[start_time, stop_time)``, ``limit`` at a time,
    ``paging.next`` (a URL carrying the token) while there are more."""

    def __init__(self, credentials: str = "app|secret", privacy_group: str = "1234") -> None:
        super().__init__(credentials)
        self.privacy_group = privacy_group
        #: The updates as the API sends them (see :meth:`update`).
        self.updates: list[dict[str, Any]] = []

    @staticmethod
    def update(
        update_id: str,
        pdq: str,
        *,
        tags: tuple[str, ...] = (),
        deleted: bool = False,
        modified: int = GENERATED_AT,
    ) -> dict[str, Any]:
        descriptor = {"owner": {"id": "42", "name": "Sim owner"}, "tags": list(tags)}
        return {
            "id": update_id,
            "indicator": pdq,
            "type": "HASH_PDQ",
            "last_updated": modified,
            "should_delete": deleted,
            "descriptors": {"data": [descriptor]},
        }

    def authorized(self, path: str, headers: Any) -> bool:
        query = parse_qs(urlsplit(path).query)
        return query.get("access_token") == [self.credentials]

    def answer(self, path: str, query: dict[str, str]) -> tuple[str, bytes]:
        if path.rstrip("/") != f"/{self.privacy_group}/threat_updates":
            raise KeyError(path)
        start, stop = int(query["start_time"]), int(query["stop_time"])
        size = int(query.get("limit", 1000))
        chosen = [u for u in list(self.updates) if start <= u["last_updated"] < stop]
        first = int(query.get("after", 0))
        body: dict[str, Any] = {"data": chosen[first : first + size], "paging": {}}
        if first + size < len(chosen):
            following = {**query, "after": str(first + size)}
            body["paging"]["next"] = f"{self.url}{path}?{urlencode(following)}"
        return "application/json", json.dumps(body).encode()
