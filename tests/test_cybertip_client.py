"""The CyberTipline client against a small stand-in for NCMEC's API on a
real loopback socket: Basic auth, Request-ID, multipart uploads with the MD5
echo, error codes, HTTP failures, garbage, and servers that never finish."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import pickle
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import pytest

from hashmatch import __version__
from hashmatch.errors import CybertipError
from hashmatch.reporting.cybertip.client import Call, CybertipCallError, CybertipClient
from tests.servers import free_port, http_server

USER = "esp-user"
PASSWORD = "s3cret-Pa55word"
TOKEN = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
REPORT_XML = b'<?xml version="1.0" encoding="UTF-8"?><report><incidentSummary/></report>'


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, tuple[str | None, bytes]]:
        """The multipart/form-data fields: name → (filename, bytes)."""
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + self.body
        )
        fields: dict[str, tuple[str | None, bytes]] = {}
        for part in message.iter_parts():
            name = str(part.get_param("name", header="content-disposition"))
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            fields[name] = (part.get_filename(), payload)
        return fields


#: Script statuses: say nothing at all; send the headers, then nothing.
HANG, STALL = -1, -2
#: What the stand-in answers: (HTTP status, body) for a request.
Script = Callable[[Request], tuple[int, bytes]]


@dataclass
class StandIn:
    """NCMEC's API as far as these tests need it: checks Basic auth, echoes
    a Request-ID, records every request, answers as ``script`` says."""

    script: Script
    requests: list[Request] = field(default_factory=list)
    #: Set at the end of a test, so that a handler told to hang returns.
    release: threading.Event = field(default_factory=threading.Event)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.answer()

            def do_POST(self) -> None:
                self.answer()

            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command, self.path, dict(self.headers), self.rfile.read(length)
                )
                release = stand_in.release
                stand_in.requests.append(request)
                number = f"req-{len(stand_in.requests)}"
                if self.headers.get("Authorization") != f"Basic {TOKEN}":
                    status, body = 401, b"<html><body>401 Unauthorized</body></html>"
                else:
                    status, body = stand_in.script(request)
                if status == HANG:
                    release.wait(10)
                    return
                self.send_response(200 if status == STALL else status)
                self.send_header("Request-ID", number)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status == STALL:
                    self.wfile.flush()
                    release.wait(10)
                    return
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def answer(code: int = 0, description: str = "Success", **children: str) -> bytes:
    extra = "".join(f"<{name}>{value}</{name}>" for name, value in children.items())
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><reportResponse>'
        f"<responseCode>{code}</responseCode><responseDescription>{description}"
        f"</responseDescription>{extra}</reportResponse>"
    ).encode()


def ncmec(request: Request) -> tuple[int, bytes]:
    """The happy path, per endpoint."""
    if request.path == "/ispws/status":
        return 200, answer(description="Server is up")
    if request.path == "/ispws/submit":
        return 200, answer(reportId="4564654")
    if request.path == "/ispws/upload":
        _, data = request.form()["file"]
        md5 = hashlib.md5(data).hexdigest()
        return 200, answer(reportId="4564654", fileId="f" * 32, hash=md5)
    if request.path == "/ispws/fileinfo":
        return 200, answer(reportId="4564654")
    if request.path == "/ispws/finish":
        report_id = request.form()["id"][1].decode()
        return 200, (
            f"<reportDoneResponse><responseCode>0</responseCode><reportId>{report_id}</reportId>"
            "<files><fileId>aa</fileId><fileId>bb</fileId></files></reportDoneResponse>"
        ).encode()
    if request.path == "/ispws/retract":
        return 200, answer(reportId=request.form()["id"][1].decode())
    return 404, b"not found"


Serve = Callable[[Script], tuple[StandIn, str]]


@pytest.fixture(scope="module")
def stand_in_server() -> Iterator[tuple[StandIn, str]]:
    """One stand-in for the module (a server takes half a second to stop)."""
    stand_in = StandIn(ncmec)
    with http_server(stand_in.handler()) as base:
        yield stand_in, f"{base}/ispws"
        stand_in.release.set()


@pytest.fixture
def serve(stand_in_server: tuple[StandIn, str]) -> Iterator[Serve]:
    """Gives the stand-in a script for this test: (stand-in, base URL)."""
    stand_in, base = stand_in_server

    def start(script: Script) -> tuple[StandIn, str]:
        stand_in.script = script
        return stand_in, base

    stand_in.requests.clear()
    yield start
    stand_in.release.set()  # a handler told to hang returns
    stand_in.release = threading.Event()


def client_for(base: str, *, password: str = PASSWORD, timeout: float = 10.0) -> CybertipClient:
    return CybertipClient(base, USER, password, timeout=timeout, allow_private=True)


def failure(attempt: Callable[[], Call]) -> tuple[CybertipCallError, Call]:
    """The error ``attempt`` raises, and the call it carries."""
    with pytest.raises(CybertipCallError) as caught:
        attempt()
    error = caught.value
    assert isinstance(error, CybertipError)
    assert error.call is not None
    assert error.call.error == str(error)
    return error, error.call


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        for secret in (PASSWORD, TOKEN, f"{USER}:{PASSWORD}"):
            assert secret not in str(text)


# -- success


def test_status_signs_in_and_keeps_the_request_id(serve: Serve) -> None:
    stand_in, base = serve(ncmec)
    call = client_for(base).status()
    assert call.endpoint == "/status"
    assert call.http_status == 200
    assert call.request_id == "req-1"
    assert call.answer is not None
    assert call.answer.description == "Server is up"
    assert call.error is None
    assert "Server is up" in call.response_text
    assert call.elapsed_ms >= 0
    (request,) = stand_in.requests
    assert request.method == "GET"
    assert request.headers["User-Agent"] == f"hashmatch/{__version__}"
    assert_no_secret(repr(call))


def test_submit_posts_the_xml_and_returns_the_report_id(serve: Serve) -> None:
    stand_in, base = serve(ncmec)
    call = client_for(base).submit(REPORT_XML)
    assert call.answer is not None
    assert call.answer.report_id == "4564654"
    assert call.request_summary == REPORT_XML.decode()
    (request,) = stand_in.requests
    assert (request.method, request.path, request.body) == ("POST", "/ispws/submit", REPORT_XML)
    assert request.headers["Content-Type"].startswith("text/xml")


def test_upload_sends_id_and_file_and_checks_the_md5(serve: Serve) -> None:
    stand_in, base = serve(ncmec)
    data = bytes(range(256)) * 40
    name = 'pic "1" Zoë.jpg'
    call = client_for(base).upload("4564654", name, data)
    assert call.answer is not None
    assert call.answer.file_id == "f" * 32
    md5 = hashlib.md5(data).hexdigest()
    assert call.request_summary == f"file {name}, {len(data)} bytes, md5 {md5}"
    form = stand_in.requests[0].form()
    assert form["id"] == (None, b"4564654")
    filename, received = form["file"]
    assert received == data
    assert filename is not None
    assert "Zoë" in filename


def test_file_info_finish_and_retract(serve: Serve) -> None:
    stand_in, base = serve(ncmec)
    client = client_for(base)
    assert client.file_info(b"<fileDetails/>").error is None
    done = client.finish("77")
    assert done.answer is not None
    assert done.answer.report_id == "77"
    assert done.answer.file_ids == ("aa", "bb")
    assert done.request_summary == "id 77"
    retracted = client.retract("78")
    assert retracted.answer is not None
    assert retracted.answer.report_id == "78"
    assert [r.path for r in stand_in.requests] == [
        "/ispws/fileinfo",
        "/ispws/finish",
        "/ispws/retract",
    ]


# -- NCMEC says no


def test_wrong_credentials_are_a_credentials_error_without_the_password(serve: Serve) -> None:
    _, base = serve(ncmec)
    error, call = failure(lambda: client_for(base, password="wrong-password").status())
    assert error.kind == "credentials"
    assert call.http_status == 401
    assert call.answer is None
    assert "401" in str(error)
    assert "wrong-password" not in str(error) + repr(call)


@pytest.mark.parametrize(
    ("code", "kind"),
    [(1000, "retry"), (3100, "credentials"), (4100, "invalid"), (5001, "unknown"), (5102, "done")],
)
@pytest.mark.parametrize("http_status", [200, 400])
def test_an_error_code_raises_with_its_kind_and_the_call(
    serve: Serve, code: int, kind: str, http_status: int
) -> None:
    _, base = serve(lambda request: (http_status, answer(code, "Element out of order")))
    error, call = failure(lambda: client_for(base).submit(REPORT_XML))
    assert (error.kind, error.code) == (kind, code)
    assert "Element out of order" in str(error)
    assert call.answer is not None
    assert call.answer.code == code
    assert call.request_id == "req-1"
    assert call.http_status == http_status
    assert call.request_summary == REPORT_XML.decode()


def test_a_wrong_md5_echo_is_invalid(serve: Serve) -> None:
    _, base = serve(lambda request: (200, answer(fileId="f1", hash="0" * 32)))
    error, call = failure(lambda: client_for(base).upload("1", "a.jpg", b"data"))
    assert error.kind == "invalid"
    assert hashlib.md5(b"data").hexdigest() in str(error)
    assert call.answer is not None
    assert call.answer.file_id == "f1"


def test_an_md5_echo_in_capitals_is_the_same_md5(serve: Serve) -> None:
    md5 = hashlib.md5(b"data").hexdigest().upper()
    _, base = serve(lambda request: (200, answer(fileId="f1", hash=md5)))
    assert client_for(base).upload("1", "a.jpg", b"data").error is None


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("submit", answer()),
        ("upload", answer(hash=hashlib.md5(b"data").hexdigest())),
        ("upload", answer(fileId="f1")),
    ],
)
def test_a_success_without_the_ids_it_promises_is_a_protocol_error(
    serve: Serve, endpoint: str, body: bytes
) -> None:
    _, base = serve(lambda request: (200, body))
    client = client_for(base)
    calls = {"submit": lambda: client.submit(REPORT_XML)}
    calls["upload"] = lambda: client.upload("1", "a.jpg", b"data")
    error, _ = failure(calls[endpoint])
    assert error.kind == "protocol"


# -- HTTP and transport failures


def test_a_server_error_is_retry_and_keeps_the_body(serve: Serve) -> None:
    _, base = serve(lambda request: (500, b"<html>Internal Server Error</html>"))
    error, call = failure(lambda: client_for(base).submit(REPORT_XML))
    assert error.kind == "retry"
    assert error.code is None
    assert call.http_status == 500
    assert call.request_id == "req-1"
    assert "Internal Server Error" in call.response_text


@pytest.mark.parametrize("body", [b"", b"\x89PNG garbage", b"<html><body>Welcome</body></html>"])
def test_garbage_with_200_is_a_protocol_error(serve: Serve, body: bytes) -> None:
    _, base = serve(lambda request: (200, body))
    error, call = failure(lambda: client_for(base).status())
    assert error.kind == "protocol"
    assert call.http_status == 200
    assert call.answer is None


def test_another_status_with_garbage_is_a_protocol_error(serve: Serve) -> None:
    _, base = serve(lambda request: (404, b"not here"))
    error, _ = failure(lambda: client_for(base).status())
    assert error.kind == "protocol"
    assert "404" in str(error)


def test_the_response_text_is_capped(serve: Serve) -> None:
    _, base = serve(lambda request: (503, b"x" * 200_000))
    error, call = failure(lambda: client_for(base).status())
    assert error.kind == "retry"
    assert len(call.response_text) == 64 * 1024


@pytest.mark.parametrize("how", [HANG, STALL], ids=["silent", "headers-then-nothing"])
def test_a_server_that_never_finishes_is_cut_off_as_retry(serve: Serve, how: int) -> None:
    _, base = serve(lambda request: (how, answer()))
    error, call = failure(lambda: client_for(base, timeout=0.5).submit(REPORT_XML))
    assert error.kind == "retry"
    assert call.answer is None
    assert "timed out" in str(error) or "within" in str(error)


def test_nothing_listening_is_retry() -> None:
    base = f"http://127.0.0.1:{free_port()}/ispws"
    error, call = failure(lambda: client_for(base).status())
    assert error.kind == "retry"
    assert call.http_status is None
    assert call.request_id is None


def test_a_private_address_is_refused_unless_allowed(serve: Serve) -> None:
    stand_in, base = serve(ncmec)
    client = CybertipClient(base, USER, PASSWORD)
    error, _ = failure(client.status)
    assert error.kind == "credentials"
    assert "private" in str(error)
    assert stand_in.requests == []


# -- secrets


def test_an_echoed_authorization_header_is_redacted_everywhere(serve: Serve) -> None:
    def echo(request: Request) -> tuple[int, bytes]:
        said = f"{request.headers['Authorization']} {PASSWORD} {USER}:{PASSWORD}"
        return 200, answer(4000, said)

    _, base = serve(echo)
    error, call = failure(lambda: client_for(base).submit(REPORT_XML))
    assert call.answer is not None
    assert "***" in call.answer.description
    assert_no_secret(str(error), repr(call), call.response_text)


def test_the_error_pickles_with_its_call(serve: Serve) -> None:
    _, base = serve(lambda request: (200, answer(5101, "Report already retracted")))
    error, call = failure(lambda: client_for(base).retract("5"))
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, CybertipCallError)
    assert (copy.kind, copy.code, str(copy)) == ("done", 5101, str(error))
    assert copy.call == call
