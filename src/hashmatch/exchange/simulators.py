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
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlencode, urlsplit
from xml.sax.saxutils import escape, quoteattr

from hashmatch.exchange.ncmec import ncmec_time
from hashmatch.exchange.ncmec_feedback import NAMESPACE as NCMEC_NAMESPACE
from hashmatch.exchange.threatexchange import REACTIONS
from hashmatch.loopback import LoopbackServer

#: When every generated NCMEC entry was last changed.
GENERATED_AT = 1_700_000_000
#: The ``feedbackValue`` enumeration of StopNCII's API.
STOPNCII_FEEDBACK_VALUES = frozenset(
    {
        "Unknown",
        "None",
        "QualityUnknown",
        "PendingReview",
        "Blocked",
        "NotBlocked",
        "Withdrawn",
        "Deleted",
    }
)
FAULTS = ("500", "malformed", "stall")


def generated_hashes(seed: str, index: int) -> tuple[str, str]:
    """A made-up (MD5, PDQ) pair, the same for the same seed and index."""
    digest = hashlib.sha256(f"{seed}:{index}".encode()).hexdigest()
    return digest[:32], hashlib.sha256(digest.encode()).hexdigest()


def basic_authorized(credentials: str, headers: Any) -> bool:
    """Whether ``headers`` carry HTTP Basic ``credentials`` ("user:password")."""
    expected = base64.b64encode(credentials.encode()).decode()
    return bool(headers.get("Authorization") == f"Basic {expected}")


class Simulator(LoopbackServer):
    """A loopback server answering :meth:`answer` for every GET and
    :meth:`receive` for every POST and PUT."""

    #: The faults :meth:`fail_next` takes.
    faults: ClassVar[tuple[str, ...]] = FAULTS

    def __init__(self, credentials: str) -> None:
        super().__init__()
        self.credentials = credentials
        #: Answer 401 as if the credentials had expired.
        self.expired = False
        self.requests: list[str] = []
        self._faults: deque[str] = deque()
        self._lock = threading.Lock()

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


@dataclass(frozen=True)
class NcmecFeedback:
    """Feedback the NCMEC simulator took (``kind`` "affirmative" or "negative")."""

    esp_id: str
    entry_id: str
    fingerprint_type: str
    kind: str
    reason_guids: tuple[str, ...]
    #: The request body as it came.
    body: bytes


class NcmecSimulator(Simulator):
    """NCMEC's hash sharing API v2: ``/v2/entries`` with ``from``/``to``
    windows and ``paging/next``, images and videos, deleted entries, Basic auth;
    feedback ``PUT`` to ``/v2/entries/{member}/{entry}/{TYPE}/feedback``
    (kept in :attr:`feedback`; 404 for an entry or fingerprint it does not
    have, 400 for a body that is not a ``feedbackSubmission`` or a reason it
    does not offer) and the reasons ``/v2/feedback/{TYPE}/reasons``
    (:attr:`reasons`, the same for every type).

    ``generated`` entries (ids ``0`` ... ``generated - 1``, member 1, made-up
    MD5 and PDQ, changed at :data:`GENERATED_AT`) come first, then
    :attr:`entries` in order, each in the windows its timestamp falls in."""

    #: The reason it offers unless told otherwise.
    DEFAULT_REASON = ("01234567-abcd-0123-4567-012345678900", "Not the content described")

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
        #: Feedback taken, in the order it came.
        self.feedback: list[NcmecFeedback] = []
        #: The negative feedback reasons offered, (guid, name).
        self.reasons: list[tuple[str, str]] = [self.DEFAULT_REASON]
        #: Whether ``availableFeedbackReasons`` comes inside another root
        #: (the envelope is unconfirmed, so both are served).
        self.reasons_wrapped = False

    def authorized(self, path: str, headers: Any) -> bool:
        return basic_authorized(self.credentials, headers)

    def generated_entry(self, index: int) -> NcmecEntry:
        md5, pdq = generated_hashes(self.seed, index)
        return NcmecEntry(str(index), fingerprints={"MD5": md5, "PDQ": pdq})

    def malformed(self) -> bytes:
        return b"<queryResult><images><image><id>1</id>"

    def answer(self, path: str, query: dict[str, str]) -> tuple[str, bytes]:
        parts = path.split("/")
        if len(parts) == 5 and parts[:3] == ["", "v2", "feedback"] and parts[4] == "reasons":
            return "application/xml", self._reasons(parts[3])
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

    def receive(
        self, method: str, path: str, query: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        parts = path.split("/")
        if method != "PUT" or len(parts) != 7 or parts[:3] != ["", "v2", "entries"]:
            raise KeyError(path)
        esp_id, entry_id, fingerprint_type = parts[3], unquote(parts[4]), parts[5]
        if parts[6] != "feedback" or not self._has(esp_id, entry_id, fingerprint_type):
            raise KeyError(path)
        try:
            kind, guids = _read_feedback(body)
        except ValueError as error:
            return 400, "application/xml", _ncmec_error(str(error))
        offered = {guid for guid, _ in self.reasons}
        if any(guid not in offered for guid in guids):
            return 400, "application/xml", _ncmec_error("unknown feedback reason")
        feedback = NcmecFeedback(esp_id, entry_id, fingerprint_type, kind, guids, body)
        with self._lock:
            self.feedback.append(feedback)
        return 200, "application/xml", f'<submissionResult xmlns="{NCMEC_NAMESPACE}"/>'.encode()

    def _has(self, esp_id: str, entry_id: str, fingerprint_type: str) -> bool:
        """Whether the entry is there, not deleted, with that fingerprint."""
        latest = next(
            (e for e in reversed(self.entries) if (str(e.member_id), e.id) == (esp_id, entry_id)),
            None,
        )
        if latest is None and esp_id == "1" and entry_id.isdigit():
            index = int(entry_id)
            if str(index) == entry_id and index < self.generated:
                latest = self.generated_entry(index)
        return (
            latest is not None
            and not latest.deleted
            and fingerprint_type in {kind.upper() for kind in latest.fingerprints}
        )

    def _reasons(self, fingerprint_type: str) -> bytes:
        listed = "".join(
            f"<reason guid={quoteattr(guid)} name={quoteattr(name)} "
            f"type={quoteattr(fingerprint_type.capitalize())}/>"
            for guid, name in self.reasons
        )
        xmlns = f"xmlns={quoteattr(NCMEC_NAMESPACE)}"
        reasons = f"<availableFeedbackReasons {xmlns}>{listed}</availableFeedbackReasons>"
        if self.reasons_wrapped:
            reasons = f"<feedbackReasonsResult {xmlns}>{reasons}</feedbackReasonsResult>"
        return ('<?xml version="1.0" encoding="UTF-8"?>' + reasons).encode()


def _read_feedback(body: bytes) -> tuple[str, tuple[str, ...]]:
    """What a ``feedbackSubmission`` says: its kind and reason GUIDs
    (ValueError saying what is wrong with it)."""
    named = _ncmec_named
    try:
        root = ET.fromstring(body)
    except ET.ParseError as error:
        raise ValueError(f"the body is not well-formed XML ({error})") from None
    if not named(root, "feedbackSubmission") or len(root) != 1:
        raise ValueError("the body must be one feedbackSubmission in NCMEC's namespace")
    (choice,) = root
    if named(choice, "affirmative") and len(choice) == 0 and not (choice.text or "").strip():
        return "affirmative", ()
    if named(choice, "negative") and len(choice) == 1 and named(choice[0], "reasonIds"):
        guids = tuple((guid.text or "").strip() for guid in choice[0])
        if guids and all(guids) and all(named(guid, "guid") for guid in choice[0]):
            return "negative", guids
    raise ValueError("feedbackSubmission must hold <affirmative/> or <negative><reasonIds><guid>")


def _ncmec_named(element: ET.Element, name: str) -> bool:
    return element.tag == f"{{{NCMEC_NAMESPACE}}}{name}"


def _ncmec_error(message: str) -> bytes:
    return f'<error xmlns="{NCMEC_NAMESPACE}"><message>{escape(message)}</message></error>'.encode()


def _parse_time(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


class StopNciiSimulator(Simulator):
    """StopNCII's ``/FetchHashes``: records changed at or after
    ``startTimestamp``, ``pageSize`` at a time, a ``nextPageToken`` while
    ``hasMoreRecords``, and ``nextSetTimestamp`` for the next run.

    And ``POST /SubmitFeedback``, with its own function key (the third part
    of ``subscription:fetch key:feedback key``; none: every POST is a 401):
    a body it takes is kept in :attr:`feedback` and answered ``{"count": N}``
    (the service's answer is not documented); one off the documented
    shape gets a 400 ``{"error": ...}`` and none of it is kept: ``count``
    not the number of ``hashFeedbacks``, a ``feedbackValue`` outside the
    enumeration, no ``hashValue``, or (the simulator's choice: the
    service's answers are not documented) a hash none of its records has."""

    def __init__(self, credentials: str = "subscription:function") -> None:
        super().__init__(credentials)
        #: The records as the API sends them (see :meth:`record`).
        self.records: list[dict[str, Any]] = []
        #: The SubmitFeedback bodies taken, in order.
        self.feedback: list[dict[str, Any]] = []

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
        subscription, fetch_key, feedback_key = [*self.credentials.split(":"), "", ""][:3]
        function = feedback_key if path.startswith("/SubmitFeedback") else fetch_key
        return bool(
            function
            and headers.get("Ocp-Apim-Subscription-Key") == subscription
            and headers.get("x-functions-key") == function
        )

    def receive(
        self, method: str, path: str, query: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        if method != "POST" or path != "/SubmitFeedback":
            raise KeyError(path)
        try:
            taken = json.loads(body)
            self._check_feedback(taken)
        except ValueError as error:
            return 400, "application/json", json.dumps({"error": str(error)}).encode()
        with self._lock:
            self.feedback.append(taken)
        return 200, "application/json", json.dumps({"count": taken["count"]}).encode()

    def _check_feedback(self, body: Any) -> None:
        """ValueError when ``body`` is not a SubmitFeedback body it takes."""
        feedbacks = body.get("hashFeedbacks") if isinstance(body, dict) else None
        if not isinstance(feedbacks, list) or not feedbacks:
            raise ValueError("hashFeedbacks must be a list of feedbacks")
        if body.get("count") != len(feedbacks):
            raise ValueError(f"count {body.get('count')!r} is not {len(feedbacks)}")
        shared = {_hash_value(record) for record in list(self.records)}
        for item in feedbacks:
            value = item.get("hashValue") if isinstance(item, dict) else None
            if not isinstance(value, str) or not value:
                raise ValueError("a feedback has no hashValue")
            if item.get("feedbackValue") not in STOPNCII_FEEDBACK_VALUES:
                raise ValueError(f"feedbackValue {item.get('feedbackValue')!r} is not known")
            tags = item.get("tags", [])
            if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
                raise ValueError("tags must be a list of text")
            if value not in shared:
                raise ValueError(f"hashValue {value!r} is not a hash StopNCII shares")

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


def _hash_value(record: Any) -> Any:
    return record.get("hashValue") if isinstance(record, dict) else None


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
    ``paging.next`` (a URL carrying the token) while there are more.

    Reactions: ``GET /<update id>?fields=descriptors{id,owner{id}}`` lists an
    update's descriptors, and ``POST /<descriptor id>?reactions=A,B`` reacts
    to one (kept in :attr:`reacted`, answered ``{"success": true}``); 404 for
    an id it does not have, a 400 Graph error ``{"error": {"message"}}`` for
    a reaction not in :attr:`known_reactions` or to a descriptor of the
    token's own app."""

    def __init__(self, credentials: str = "app|secret", privacy_group: str = "1234") -> None:
        super().__init__(credentials)
        self.privacy_group = privacy_group
        #: The updates as the API sends them (see :meth:`update`).
        self.updates: list[dict[str, Any]] = []
        #: ``(descriptor id, reactions parameter)`` of every reaction taken, in order.
        self.reacted: list[tuple[str, str]] = []
        #: The reaction types it takes.
        self.known_reactions: set[str] = set(REACTIONS)

    @staticmethod
    def update(
        update_id: str,
        pdq: str,
        *,
        tags: tuple[str, ...] = (),
        deleted: bool = False,
        modified: int = GENERATED_AT,
    ) -> dict[str, Any]:
        descriptor = {
            "id": f"descriptor-{update_id}",
            "owner": {"id": "42", "name": "Sim owner"},
            "tags": list(tags),
        }
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
            return "application/json", json.dumps(self._indicator(path, query)).encode()
        start, stop = int(query["start_time"]), int(query["stop_time"])
        size = int(query.get("limit", 1000))
        chosen = [u for u in list(self.updates) if start <= u["last_updated"] < stop]
        first = int(query.get("after", 0))
        body: dict[str, Any] = {"data": chosen[first : first + size], "paging": {}}
        if first + size < len(chosen):
            following = {**query, "after": str(first + size)}
            body["paging"]["next"] = f"{self.url}{path}?{urlencode(following)}"
        return "application/json", json.dumps(body).encode()

    def receive(
        self, method: str, path: str, query: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        descriptor = self._descriptor(unquote(path.strip("/")))
        chosen = query.get("reactions", "")
        unknown = [name for name in chosen.split(",") if name not in self.known_reactions]
        if method != "POST" or unknown:
            return _graph_error(f"(#100) unknown reaction types {unknown}")
        if str(descriptor["owner"]["id"]) == self.credentials.partition("|")[0]:
            return _graph_error("(#100) an app cannot react to its own descriptor")
        with self._lock:
            self.reacted.append((str(descriptor["id"]), chosen))
        return 200, "application/json", b'{"success": true}'

    def _indicator(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        """The update ``path`` names, with its descriptors when asked for (KeyError: none)."""
        update_id = unquote(path.strip("/"))
        update = next((u for u in list(self.updates) if u.get("id") == update_id), None)
        if update is None:
            raise KeyError(path)
        answer: dict[str, Any] = {"id": update_id}
        if "descriptors" in query.get("fields", ""):
            descriptors = update["descriptors"]["data"]
            answer["descriptors"] = {
                "data": [{"id": d["id"], "owner": {"id": d["owner"]["id"]}} for d in descriptors]
            }
        return answer

    def _descriptor(self, descriptor_id: str) -> dict[str, Any]:
        for update in list(self.updates):
            for descriptor in update["descriptors"]["data"]:
                if descriptor.get("id") == descriptor_id:
                    return dict(descriptor)
        raise KeyError(descriptor_id)


def _graph_error(message: str) -> tuple[int, str, bytes]:
    return 400, "application/json", json.dumps({"error": {"message": message}}).encode()
