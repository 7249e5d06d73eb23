"""A local stand-in for NCMEC's CyberTipline Reporting API ("ispws"), for
tests, benchmarks and trying the reporting path out without an account.

    with CybertipSimulator("user:secret") as ncmec:
        client = CybertipClient(ncmec.url, "user", "secret", allow_private=True)
        ncmec.fail_next("drop_after")       # the next call happens, unanswered
        ncmec.advance(hours=2)              # an open report idle for 2 h is gone
        ncmec.finished_reports()[0].files   # what arrived

Modelled: ``GET /status``, ``POST /submit`` (a ``<report>``), ``/upload``
(multipart ``id`` and ``file``), ``/fileinfo`` (a ``<fileDetails>``),
``/finish`` and ``/retract`` (form field ``id``) at the root of :attr:`url`;
HTTP Basic credentials (401 when wrong or :attr:`expired`); a fresh
``Request-ID`` header on every answer; ``reportResponse`` and
``reportDoneResponse`` with the codes in :data:`DESCRIPTIONS`; 4100 for
children out of the schema's order (``schema.out_of_order``); the MD5 of the
bytes received echoed as ``hash``; 32-hex-digit file ids; and expiry: a
report not finished is deleted 24 h after it was opened or 1 h after its
last change, then answers 5001, on a clock tests set or move.

Faults (:meth:`fail_next`), one per request: ``"500"``, ``"code:NNNN"``,
``"html"`` (a proxy's error page, 200) and ``"stall"`` (no answer until the
server stops) do nothing; ``"malformed"`` (an answer that is not XML),
``"wrong_md5"`` (``/upload`` echoes another MD5) and ``"drop_after"`` (the
connection closed unanswered) do the work first: the "did it happen?" cases.

Not modelled: the schema beyond element order (no ``/xsd``; required
elements and values are not checked), the codes for a file NCMEC cannot
read, size and rate limits, TLS, persistence.  Which code NCMEC gives in
which case was not in the documentation we could read
(docs/research/cybertipline-api.md): the choices follow issue 14's ranges,
and the descriptions are ours.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar, Literal, NamedTuple

from lxml import etree
from python_multipart import parse_form
from python_multipart.multipart import Field, File

from hashmatch.exchange.simulators import Simulator, basic_authorized
from hashmatch.reporting.cybertip.schema import out_of_order
from hashmatch.untrusted_xml import UntrustedXmlError, parse_untrusted

#: A report not finished is deleted this long after it was opened...
OPEN_LIFETIME = timedelta(hours=24)
#: ... or this long after its last change, whichever comes first.
IDLE_LIFETIME = timedelta(hours=1)
#: The first report id handed out.
FIRST_REPORT_ID = 100_001
XML_CONTENT_TYPE = "text/xml; charset=utf-8"

SUCCESS = 0
SERVER_ERROR = 1000
INVALID_REQUEST = 4000
OUT_OF_ORDER = 4100
UNKNOWN_REPORT = 5001
UNKNOWN_FILE = 5002
ALREADY_RETRACTED = 5101
ALREADY_FINISHED = 5102
#: The codes this simulator sends unasked.  The numbers are issue 14's; the
#: descriptions are ours (NCMEC's wording was not in the documentation read).
DESCRIPTIONS = {
    SUCCESS: "Success",
    SERVER_ERROR: "Server error, try again later",
    INVALID_REQUEST: "Invalid request",
    OUT_OF_ORDER: "Validation failed: element out of the schema's order",
    UNKNOWN_REPORT: "Unknown report",
    UNKNOWN_FILE: "Unknown file",
    ALREADY_RETRACTED: "The report was already retracted",
    ALREADY_FINISHED: "The report was already finished",
}
#: Faults that answer before any work is done, and those that do the work.
FAULTS_BEFORE_WORK = ("500", "html", "stall")
FAULTS_AFTER_WORK = ("malformed", "wrong_md5", "drop_after")
CODE_FAULT_PREFIX = "code:"
HTML_ERROR_PAGE = (
    b"<!DOCTYPE html><html><head><title>Service Unavailable</title></head>"
    b"<body><h1>Service Unavailable</h1><p>Please try again later.</p></body></html>"
)
MALFORMED_ANSWER = b"<reportResponse><responseCode>0</responseCode><responseDescr"

ReportStatus = Literal["open", "finished", "retracted"]


@dataclass
class SimulatedFile:
    """A file uploaded to a report, as NCMEC received it."""

    file_id: str
    name: str
    size: int
    md5: str
    #: The ``fileDetails`` XML sent for it, if any.
    details: bytes | None = None


@dataclass
class SimulatedReport:
    """A report as NCMEC holds it."""

    report_id: str
    xml: bytes
    opened_at: datetime
    changed_at: datetime
    status: ReportStatus = "open"
    files: dict[str, SimulatedFile] = field(default_factory=dict)

    def expired(self, now: datetime) -> bool:
        """Whether NCMEC has deleted it by ``now`` (only open reports expire)."""
        return self.status == "open" and (
            now >= self.opened_at + OPEN_LIFETIME or now >= self.changed_at + IDLE_LIFETIME
        )


class SimulatorCall(NamedTuple):
    """A request that reached an endpoint: not refused for its credentials
    and not answered by a fault before the work."""

    method: str
    path: str
    #: The report it named, or the one ``/submit`` opened; None if neither.
    report_id: str | None


@dataclass(frozen=True)
class _Request:
    body: bytes
    content_type: str
    #: Echo a wrong MD5 (the "wrong_md5" fault).
    wrong_md5: bool


#: An endpoint: (the report id it named or opened, the answer).
_Endpoint = Callable[[_Request], tuple[str | None, bytes]]


@dataclass(frozen=True)
class _Form:
    fields: dict[str, str]
    #: Field name → (file name, bytes).
    files: dict[str, tuple[str, bytes]]


class _RefusalError(Exception):
    """An endpoint's refusal, answered with ``code``."""

    def __init__(self, code: int, detail: str = "", *, report_id: str | None = None) -> None:
        super().__init__(DESCRIPTIONS[code] + (f": {detail}" if detail else ""))
        self.code = code
        self.report_id = report_id


class CybertipSimulator(Simulator):
    """NCMEC's CyberTipline Reporting API on loopback, state in memory."""

    faults: ClassVar[tuple[str, ...]] = (
        *FAULTS_BEFORE_WORK,
        *FAULTS_AFTER_WORK,
        f"{CODE_FAULT_PREFIX}NNNN",
    )

    def __init__(self, credentials: str = "user:password") -> None:
        super().__init__(credentials)
        #: The time NCMEC's clock shows; :meth:`advance` moves it on.
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.calls: list[SimulatorCall] = []
        self._offset = timedelta()
        self._reports: dict[str, SimulatedReport] = {}
        self._next_report_id = FIRST_REPORT_ID

    def now(self) -> datetime:
        return self.clock() + self._offset

    def advance(self, *, hours: float = 0, minutes: float = 0, seconds: float = 0) -> None:
        """Move NCMEC's clock forward."""
        with self._lock:
            self._offset += timedelta(hours=hours, minutes=minutes, seconds=seconds)

    @property
    def reports(self) -> dict[str, SimulatedReport]:
        """The reports NCMEC still holds, by id."""
        with self._lock:
            self._forget_expired()
            return dict(self._reports)

    def report(self, report_id: str) -> SimulatedReport:
        """A report NCMEC still holds (KeyError if none)."""
        return self.reports[report_id]

    def finished_reports(self) -> list[SimulatedReport]:
        return [report for report in self.reports.values() if report.status == "finished"]

    def known_fault(self, fault: str) -> bool:
        code = fault.removeprefix(CODE_FAULT_PREFIX)
        if code != fault:
            return code.isascii() and code.isdigit()
        return fault in FAULTS_BEFORE_WORK + FAULTS_AFTER_WORK

    def authorized(self, path: str, headers: Any) -> bool:
        return basic_authorized(self.credentials, headers)

    def response_headers(self) -> dict[str, str]:
        return {"Request-ID": str(uuid.uuid4())}

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length > 0 else b""
        with self._lock:
            self.requests.append(request.path)
            fault = self._faults.popleft() if self._faults else None
        if self.expired or not self.authorized(request.path, request.headers):
            self._send(request, 401, "text/plain", b"Unauthorized")
            return
        endpoint = self._endpoint(request.command, request.path)
        if endpoint is None:
            self._send(request, 404, "text/plain", b"Not found")
            return
        if fault == "500":
            self._send(request, 500, "text/plain", b"Internal Server Error")
        elif fault == "html":
            self._send(request, 200, "text/html", HTML_ERROR_PAGE)
        elif fault == "stall":
            self._stopping.wait()
        elif fault is not None and fault.startswith(CODE_FAULT_PREFIX):
            code = int(fault.removeprefix(CODE_FAULT_PREFIX))
            self._send(request, 200, XML_CONTENT_TYPE, _answer(_answer_root(request.path), code))
        else:
            content_type = request.headers.get("Content-Type", "")
            answer = self._work(
                request, endpoint, _Request(body, content_type, wrong_md5=fault == "wrong_md5")
            )
            if fault == "drop_after":
                request.close_connection = True
            else:
                content = MALFORMED_ANSWER if fault == "malformed" else answer
                self._send(request, 200, XML_CONTENT_TYPE, content)

    def _endpoint(self, method: str, path: str) -> _Endpoint | None:
        endpoints: dict[tuple[str, str], _Endpoint] = {
            ("GET", "/status"): self._status,
            ("POST", "/submit"): self._submit,
            ("POST", "/upload"): self._upload,
            ("POST", "/fileinfo"): self._file_info,
            ("POST", "/finish"): self._finish,
            ("POST", "/retract"): self._retract,
        }
        return endpoints.get((method, path))

    def _work(self, request: BaseHTTPRequestHandler, endpoint: _Endpoint, call: _Request) -> bytes:
        """Run ``endpoint``, log the call, and return the answer to send."""
        root = _answer_root(request.path)
        with self._lock:
            self._forget_expired()
            try:
                report_id, answer = endpoint(call)
            except _RefusalError as refusal:
                report_id = refusal.report_id
                answer = _answer(root, refusal.code, str(refusal), report_id=report_id)
            self.calls.append(SimulatorCall(request.command, request.path, report_id))
        return answer

    def _status(self, call: _Request) -> tuple[str | None, bytes]:
        return None, _answer("reportResponse")

    def _submit(self, call: _Request) -> tuple[str | None, bytes]:
        _parsed(call.body, "report")
        report_id = str(self._next_report_id)
        self._next_report_id += 1
        now = self.now()
        self._reports[report_id] = SimulatedReport(
            report_id, call.body, opened_at=now, changed_at=now
        )
        return report_id, _answer("reportResponse", report_id=report_id)

    def _upload(self, call: _Request) -> tuple[str | None, bytes]:
        form = _form(call.body, call.content_type)
        report = self._open_report(form.fields.get("id"))
        if "file" not in form.files:
            raise _RefusalError(INVALID_REQUEST, "no file field", report_id=report.report_id)
        name, data = form.files["file"]
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        uploaded = SimulatedFile(uuid.uuid4().hex, name, len(data), md5)
        report.files[uploaded.file_id] = uploaded
        report.changed_at = self.now()
        wrong = hashlib.md5(data + b"\0", usedforsecurity=False).hexdigest()
        return report.report_id, _answer(
            "reportResponse",
            report_id=report.report_id,
            file_id=uploaded.file_id,
            md5=wrong if call.wrong_md5 else md5,
        )

    def _file_info(self, call: _Request) -> tuple[str | None, bytes]:
        details = _parsed(call.body, "fileDetails")
        report = self._open_report(details.findtext("reportId"))
        file_id = (details.findtext("fileId") or "").strip()
        if file_id not in report.files:
            raise _RefusalError(UNKNOWN_FILE, file_id or "no fileId", report_id=report.report_id)
        report.files[file_id].details = call.body
        report.changed_at = self.now()
        return report.report_id, _answer("reportResponse", report_id=report.report_id)

    def _finish(self, call: _Request) -> tuple[str | None, bytes]:
        report = self._open_report(_form(call.body, call.content_type).fields.get("id"))
        report.status = "finished"
        report.changed_at = self.now()
        return report.report_id, _answer(
            "reportDoneResponse", report_id=report.report_id, file_ids=tuple(report.files)
        )

    def _retract(self, call: _Request) -> tuple[str | None, bytes]:
        report = self._open_report(_form(call.body, call.content_type).fields.get("id"))
        report.status = "retracted"
        report.changed_at = self.now()
        return report.report_id, _answer("reportResponse", report_id=report.report_id)

    def _open_report(self, report_id: str | None) -> SimulatedReport:
        """The open report ``report_id`` names, or the refusal NCMEC gives."""
        report_id = (report_id or "").strip()
        if not report_id:
            raise _RefusalError(INVALID_REQUEST, "no report id")
        report = self._reports.get(report_id)
        if report is None:
            raise _RefusalError(UNKNOWN_REPORT, report_id, report_id=report_id)
        if report.status != "open":
            code = ALREADY_RETRACTED if report.status == "retracted" else ALREADY_FINISHED
            raise _RefusalError(code, report_id, report_id=report_id)
        return report

    def _forget_expired(self) -> None:
        now = self.now()
        for report_id in [r.report_id for r in self._reports.values() if r.expired(now)]:
            del self._reports[report_id]


def _answer_root(path: str) -> str:
    """``/finish`` answers with a ``reportDoneResponse``, the rest with a ``reportResponse``."""
    return "reportDoneResponse" if path == "/finish" else "reportResponse"


def _parsed(body: bytes, root: str) -> etree._Element:
    """``body`` as XML whose root is ``root`` and whose children are in the
    schema's order; a refusal (4000, 4100) otherwise."""
    try:
        element = parse_untrusted(body)
    except UntrustedXmlError as why:
        raise _RefusalError(INVALID_REQUEST, f"the report {why}") from None
    if etree.QName(element).localname != root:
        raise _RefusalError(INVALID_REQUEST, f"expected <{root}>, got <{element.tag}>")
    misplaced = out_of_order(element)
    if misplaced is not None:
        raise _RefusalError(OUT_OF_ORDER, misplaced)
    return element


def _form(body: bytes, content_type: str) -> _Form:
    """A multipart/form-data or urlencoded body's fields and files."""
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}

    def on_field(item: Field) -> None:
        fields[_text(item.field_name)] = _text(item.value)

    def on_file(item: File) -> None:
        item.file_object.seek(0)
        files[_text(item.field_name)] = (_text(item.file_name), item.file_object.read())
        item.close()

    headers = {"Content-Type": content_type.encode(), "Content-Length": str(len(body)).encode()}
    try:
        parse_form(headers, io.BytesIO(body), on_field, on_file)
    except ValueError as error:  # python-multipart's errors, an unknown content type
        raise _RefusalError(INVALID_REQUEST, f"unreadable form: {error}") from None
    return _Form(fields, files)


def _text(value: bytes | None) -> str:
    return (value or b"").decode("utf-8", errors="replace")


def _answer(
    root: str,
    code: int = SUCCESS,
    description: str | None = None,
    *,
    report_id: str | None = None,
    file_id: str | None = None,
    md5: str | None = None,
    file_ids: tuple[str, ...] | None = None,
) -> bytes:
    """A ``reportResponse`` or ``reportDoneResponse`` body, elements in the
    order NCMEC's answers have them.  The description is the code's unless
    given; a successful ``reportDoneResponse`` has none, as in NCMEC's examples."""
    if description is None and (root, code) != ("reportDoneResponse", SUCCESS):
        description = DESCRIPTIONS.get(code, f"Simulated response code {code}")
    answer = etree.Element(root)
    etree.SubElement(answer, "responseCode").text = str(code)
    values = (
        ("responseDescription", description),
        ("reportId", report_id),
        ("fileId", file_id),
        ("hash", md5),
    )
    for name, value in values:
        if value is not None:
            etree.SubElement(answer, name).text = value
    if file_ids is not None:
        files = etree.SubElement(answer, "files")
        for each in file_ids:
            etree.SubElement(files, "fileId").text = each
    return bytes(etree.tostring(answer, xml_declaration=True, encoding="UTF-8", standalone=True))


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted: ``python -m hashmatch.reporting.cybertip.simulator``."""
    parser = argparse.ArgumentParser(description="A local CyberTipline Reporting API.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--credentials", default="user:password", help="USER:PASSWORD")
    options = parser.parse_args(argv)
    simulator = CybertipSimulator(options.credentials).start(options.port)
    print(f"CyberTipline simulator at {simulator.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()


if __name__ == "__main__":
    main()
