"""The local CyberTipline server, driven with plain ``http.client`` so that it
is tested apart from hashmatch's own client."""

from __future__ import annotations

import base64
import hashlib
import http.client
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

import pytest
from lxml import etree

from hashmatch.reporting.cybertip.simulator import (
    ALREADY_FINISHED,
    ALREADY_RETRACTED,
    INVALID_REQUEST,
    OUT_OF_ORDER,
    SUCCESS,
    UNKNOWN_FILE,
    UNKNOWN_REPORT,
    CybertipSimulator,
    SimulatorCall,
)

CREDENTIALS = "esp-user:esp-secret"
REPORT = (
    b"<report><incidentSummary><incidentType>Child Pornography (possession, manufacture, and"
    b" distribution)</incidentType><incidentDateTime>2026-01-02T03:04:05Z</incidentDateTime>"
    b"</incidentSummary><reporter><reportingPerson><email>tips@example.com</email>"
    b"</reportingPerson></reporter></report>"
)
#: ``reporter`` before ``incidentSummary``: out of the schema's order.
OUT_OF_ORDER_REPORT = (
    b"<report><reporter><reportingPerson><email>tips@example.com</email></reportingPerson>"
    b"</reporter><incidentSummary><incidentType>x</incidentType></incidentSummary></report>"
)
#: Bytes that would trip a careless multipart parser: CRLFs, a fake boundary, NULs.
PICTURE = b"\x89PNG\r\n\x1a\n\r\n--boundary\r\n\x00\xff" * 50
CLOCK_START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    request_id: str | None
    body: bytes

    @property
    def root(self) -> etree._Element:
        return etree.fromstring(self.body)

    def text(self, path: str) -> str | None:
        return self.root.findtext(path)

    @property
    def code(self) -> int:
        return int(self.text("responseCode") or "-1")


@pytest.fixture
def ncmec() -> Iterator[CybertipSimulator]:
    with CybertipSimulator(CREDENTIALS) as simulator:
        simulator.clock = lambda: CLOCK_START
        yield simulator


def send(
    simulator: CybertipSimulator,
    method: str,
    path: str,
    body: bytes = b"",
    content_type: str | None = None,
    *,
    credentials: str | None = CREDENTIALS,
    timeout: float = 10,
) -> Reply:
    connection = http.client.HTTPConnection(
        "127.0.0.1", urlsplit(simulator.url).port, timeout=timeout
    )
    headers = {}
    if credentials is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
    if content_type is not None:
        headers["Content-Type"] = content_type
    try:
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        return Reply(
            response.status,
            response.getheader("Content-Type", ""),
            response.getheader("Request-ID"),
            response.read(),
        )
    finally:
        connection.close()


def multipart(fields: dict[str, str], file: tuple[str, bytes] | None = None) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    if file is not None:
        name, data = file
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def submit(simulator: CybertipSimulator, xml: bytes = REPORT) -> Reply:
    return send(simulator, "POST", "/submit", xml, "text/xml; charset=utf-8")


def open_report(simulator: CybertipSimulator) -> str:
    reply = submit(simulator)
    assert reply.code == SUCCESS
    report_id = reply.text("reportId")
    assert report_id is not None
    return report_id


def upload(simulator: CybertipSimulator, report_id: str, data: bytes = PICTURE) -> Reply:
    return send(simulator, "POST", "/upload", *multipart({"id": report_id}, ("a.png", data)))


def file_info(simulator: CybertipSimulator, report_id: str, file_id: str) -> Reply:
    xml = (
        f"<fileDetails><reportId>{report_id}</reportId><fileId>{file_id}</fileId>"
        "<originalFileName>a.png</originalFileName><fileViewedByEsp>true</fileViewedByEsp>"
        "</fileDetails>"
    ).encode()
    return send(simulator, "POST", "/fileinfo", xml, "text/xml; charset=utf-8")


def form_call(simulator: CybertipSimulator, path: str, report_id: str) -> Reply:
    return send(simulator, "POST", path, *multipart({"id": report_id}))


# --- each endpoint's success path -------------------------------------------


def test_status_answers_success_with_a_fresh_request_id(ncmec: CybertipSimulator) -> None:
    first, second = send(ncmec, "GET", "/status"), send(ncmec, "GET", "/status")
    assert (first.status, first.root.tag, first.code) == (200, "reportResponse", SUCCESS)
    assert first.text("responseDescription") == "Success"
    assert first.request_id is not None
    assert second.request_id is not None
    assert uuid.UUID(first.request_id) != uuid.UUID(second.request_id)


def test_submit_opens_a_report_holding_the_xml(ncmec: CybertipSimulator) -> None:
    first, second = open_report(ncmec), open_report(ncmec)
    assert first.isdigit()
    assert first != second
    report = ncmec.report(first)
    assert (report.xml, report.status, report.files) == (REPORT, "open", {})
    assert report.opened_at == report.changed_at == CLOCK_START
    assert set(ncmec.reports) == {first, second}


def test_upload_echoes_the_md5_of_the_bytes_received(ncmec: CybertipSimulator) -> None:
    report_id = open_report(ncmec)
    reply = upload(ncmec, report_id)
    assert (reply.code, reply.text("reportId")) == (SUCCESS, report_id)
    file_id = reply.text("fileId")
    assert file_id is not None
    assert len(file_id) == 32
    assert int(file_id, 16) >= 0
    assert reply.text("hash") == hashlib.md5(PICTURE).hexdigest()
    stored = ncmec.report(report_id).files[file_id]
    assert (stored.name, stored.size, stored.md5) == ("a.png", len(PICTURE), reply.text("hash"))


def test_fileinfo_keeps_the_details_for_the_file(ncmec: CybertipSimulator) -> None:
    report_id = open_report(ncmec)
    file_id = upload(ncmec, report_id).text("fileId") or ""
    reply = file_info(ncmec, report_id, file_id)
    assert (reply.code, reply.text("reportId")) == (SUCCESS, report_id)
    details = ncmec.report(report_id).files[file_id].details
    assert details is not None
    assert b"<originalFileName>a.png</originalFileName>" in details


def test_finish_lists_the_reports_files(ncmec: CybertipSimulator) -> None:
    report_id = open_report(ncmec)
    file_ids = [upload(ncmec, report_id, bytes([n]) * 10).text("fileId") for n in range(3)]
    reply = form_call(ncmec, "/finish", report_id)
    assert (reply.root.tag, reply.code, reply.text("reportId")) == (
        "reportDoneResponse",
        SUCCESS,
        report_id,
    )
    assert [e.text for e in reply.root.iterfind("files/fileId")] == file_ids
    assert [r.report_id for r in ncmec.finished_reports()] == [report_id]


def test_finish_takes_an_urlencoded_form_too(ncmec: CybertipSimulator) -> None:
    report_id = open_report(ncmec)
    body = urlencode({"id": report_id}).encode()
    reply = send(ncmec, "POST", "/finish", body, "application/x-www-form-urlencoded")
    assert reply.code == SUCCESS
    assert ncmec.report(report_id).status == "finished"


def test_retract_withdraws_the_report(ncmec: CybertipSimulator) -> None:
    report_id = open_report(ncmec)
    reply = form_call(ncmec, "/retract", report_id)
    assert (reply.root.tag, reply.code, reply.text("reportId")) == (
        "reportResponse",
        SUCCESS,
        report_id,
    )
    assert ncmec.report(report_id).status == "retracted"
    assert ncmec.finished_reports() == []


def test_calls_log_what_each_endpoint_was_asked(ncmec: CybertipSimulator) -> None:
    report_id = open_report(ncmec)
    upload(ncmec, report_id)
    form_call(ncmec, "/finish", report_id)
    form_call(ncmec, "/finish", report_id)
    assert ncmec.calls == [
        SimulatorCall("POST", "/submit", report_id),
        SimulatorCall("POST", "/upload", report_id),
        SimulatorCall("POST", "/finish", report_id),
        SimulatorCall("POST", "/finish", report_id),
    ]


# --- refusals ----------------------------------------------------------------


def test_elements_out_of_order_are_refused_with_4100(ncmec: CybertipSimulator) -> None:
    reply = submit(ncmec, OUT_OF_ORDER_REPORT)
    assert reply.code == OUT_OF_ORDER
    assert "report/incidentSummary" in (reply.text("responseDescription") or "")
    assert reply.text("reportId") is None
    assert ncmec.reports == {}


def test_file_details_out_of_order_are_refused_with_4100(ncmec: CybertipSimulator) -> None:
    report_id = open_report(ncmec)
    file_id = upload(ncmec, report_id).text("fileId")
    xml = f"<fileDetails><fileId>{file_id}</fileId><reportId>{report_id}</reportId></fileDetails>"
    reply = send(ncmec, "POST", "/fileinfo", xml.encode(), "text/xml")
    assert reply.code == OUT_OF_ORDER
    assert "fileDetails/reportId" in (reply.text("responseDescription") or "")


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<report><incidentSummary>", "is not XML"),
        (b"", "is not XML"),
        (b"<fileDetails/>", "expected <report>"),
        (
            b'<!DOCTYPE report [<!ENTITY x SYSTEM "file:///etc/passwd">]><report>&x;</report>',
            "DOCTYPE",
        ),
    ],
)
def test_a_report_that_is_not_a_report_is_refused_with_4000(
    ncmec: CybertipSimulator, body: bytes, why: str
) -> None:
    reply = submit(ncmec, body)
    assert reply.code == INVALID_REQUEST
    assert why in (reply.text("responseDescription") or "")
    assert ncmec.reports == {}


def test_an_upload_without_a_file_is_refused(ncmec: CybertipSimulator) -> None:
    report_id = open_report(ncmec)
    reply = send(ncmec, "POST", "/upload", *multipart({"id": report_id}))
    assert reply.code == INVALID_REQUEST
    assert ncmec.report(report_id).files == {}


@pytest.mark.parametrize(
    "credentials", [None, "esp-user:wrong", "someone:esp-secret"], ids=["none", "password", "user"]
)
def test_wrong_credentials_get_401(ncmec: CybertipSimulator, credentials: str | None) -> None:
    reply = send(ncmec, "POST", "/submit", REPORT, "text/xml", credentials=credentials)
    assert reply.status == 401
    assert reply.request_id is not None
    assert ncmec.reports == {}
    assert ncmec.calls == []


def test_expired_credentials_get_401(ncmec: CybertipSimulator) -> None:
    ncmec.expired = True
    assert send(ncmec, "GET", "/status").status == 401
    ncmec.expired = False
    assert send(ncmec, "GET", "/status").status == 200


def test_an_unknown_endpoint_is_404(ncmec: CybertipSimulator) -> None:
    assert send(ncmec, "GET", "/submit").status == 404
    assert send(ncmec, "POST", "/xsd").status == 404


def test_an_unknown_report_is_5001(ncmec: CybertipSimulator) -> None:
    assert upload(ncmec, "999").code == UNKNOWN_REPORT
    assert form_call(ncmec, "/finish", "999").code == UNKNOWN_REPORT
    assert form_call(ncmec, "/retract", "999").code == UNKNOWN_REPORT
    assert file_info(ncmec, "999", "0" * 32).code == UNKNOWN_REPORT


def test_an_unknown_file_is_5002(ncmec: CybertipSimulator) -> None:
    report_id = open_report(ncmec)
    assert file_info(ncmec, report_id, "0" * 32).code == UNKNOWN_FILE


def test_a_finished_report_takes_nothing_more(ncmec: CybertipSimulator) -> None:
    report_id = open_report(ncmec)
    file_id = upload(ncmec, report_id).text("fileId") or ""
    assert form_call(ncmec, "/finish", report_id).code == SUCCESS
    again = form_call(ncmec, "/finish", report_id)
    assert (again.root.tag, again.code) == ("reportDoneResponse", ALREADY_FINISHED)
    assert upload(ncmec, report_id).code == ALREADY_FINISHED
    assert file_info(ncmec, report_id, file_id).code == ALREADY_FINISHED
    assert form_call(ncmec, "/retract", report_id).code == ALREADY_FINISHED
    assert len(ncmec.report(report_id).files) == 1


def test_a_retracted_report_takes_nothing_more(ncmec: CybertipSimulator) -> None:
    report_id = open_report(ncmec)
    assert form_call(ncmec, "/retract", report_id).code == SUCCESS
    assert form_call(ncmec, "/retract", report_id).code == ALREADY_RETRACTED
    assert form_call(ncmec, "/finish", report_id).code == ALREADY_RETRACTED
    assert upload(ncmec, report_id).code == ALREADY_RETRACTED


# --- expiry --------------------------------------------------------------------


def test_an_idle_report_is_gone_after_an_hour(ncmec: CybertipSimulator) -> None:
    report_id = open_report(ncmec)
    ncmec.advance(minutes=59)
    assert upload(ncmec, report_id).code == SUCCESS  # a change: the hour starts again
    ncmec.advance(minutes=59)
    assert ncmec.report(report_id).status == "open"
    ncmec.advance(minutes=2)  # 61 minutes after the last change
    assert form_call(ncmec, "/finish", report_id).code == UNKNOWN_REPORT
    with pytest.raises(KeyError):
        ncmec.report(report_id)


def test_a_report_is_gone_24_hours_after_it_was_opened(ncmec: CybertipSimulator) -> None:
    report_id = open_report(ncmec)
    for _ in range(28):  # a change every 50 minutes: 23 h 20 min
        ncmec.advance(minutes=50)
        assert upload(ncmec, report_id, b"x").code == SUCCESS
    ncmec.advance(minutes=50)  # 24 h 10 min after it was opened, 50 min after a change
    assert form_call(ncmec, "/finish", report_id).code == UNKNOWN_REPORT


def test_after_25_hours_an_open_report_is_unknown(ncmec: CybertipSimulator) -> None:
    report_id = open_report(ncmec)
    ncmec.advance(hours=25)
    assert form_call(ncmec, "/finish", report_id).code == UNKNOWN_REPORT
    assert ncmec.reports == {}


def test_finished_and_retracted_reports_do_not_expire(ncmec: CybertipSimulator) -> None:
    finished, retracted = open_report(ncmec), open_report(ncmec)
    form_call(ncmec, "/finish", finished)
    form_call(ncmec, "/retract", retracted)
    ncmec.advance(hours=25)
    assert form_call(ncmec, "/finish", finished).code == ALREADY_FINISHED
    assert form_call(ncmec, "/finish", retracted).code == ALREADY_RETRACTED


def test_the_clock_can_be_replaced(ncmec: CybertipSimulator) -> None:
    report_id = open_report(ncmec)
    ncmec.clock = lambda: datetime(2026, 1, 2, 13, 0, tzinfo=UTC)
    assert upload(ncmec, report_id).code == UNKNOWN_REPORT


# --- faults --------------------------------------------------------------------


def test_fault_500_does_nothing(ncmec: CybertipSimulator) -> None:
    ncmec.fail_next("500")
    reply = submit(ncmec)
    assert reply.status == 500
    assert reply.request_id is not None
    assert ncmec.reports == {}
    assert ncmec.calls == []
    assert submit(ncmec).code == SUCCESS  # one request only


def test_fault_code_answers_that_code_and_does_nothing(ncmec: CybertipSimulator) -> None:
    report_id = open_report(ncmec)
    ncmec.fail_next("code:1000", count=2)
    assert upload(ncmec, report_id).code == 1000
    done = form_call(ncmec, "/finish", report_id)
    assert (done.root.tag, done.code) == ("reportDoneResponse", 1000)
    assert ncmec.report(report_id).files == {}
    assert ncmec.report(report_id).status == "open"
    ncmec.fail_next("code:3100")
    assert "3100" in (send(ncmec, "GET", "/status").text("responseDescription") or "")


def test_fault_malformed_does_the_work_and_answers_no_xml(ncmec: CybertipSimulator) -> None:
    ncmec.fail_next("malformed")
    reply = submit(ncmec)
    assert reply.status == 200
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(reply.body)
    assert len(ncmec.reports) == 1


def test_fault_html_answers_an_error_page_and_does_nothing(ncmec: CybertipSimulator) -> None:
    ncmec.fail_next("html")
    reply = submit(ncmec)
    assert (reply.status, reply.content_type) == (200, "text/html")
    assert reply.body.startswith(b"<!DOCTYPE html>")
    assert ncmec.reports == {}


def test_fault_stall_answers_nothing_until_the_client_gives_up(ncmec: CybertipSimulator) -> None:
    ncmec.fail_next("stall")
    with pytest.raises(TimeoutError):
        submit_with_timeout(ncmec, 0.3)
    assert ncmec.reports == {}
    assert submit(ncmec).code == SUCCESS


def submit_with_timeout(simulator: CybertipSimulator, timeout: float) -> Reply:
    return send(simulator, "POST", "/submit", REPORT, "text/xml", timeout=timeout)


def test_fault_wrong_md5_echoes_another_hash(ncmec: CybertipSimulator) -> None:
    report_id = open_report(ncmec)
    ncmec.fail_next("wrong_md5")
    reply = upload(ncmec, report_id)
    real = hashlib.md5(PICTURE).hexdigest()
    assert reply.code == SUCCESS
    assert reply.text("hash") not in (None, real)
    (stored,) = ncmec.report(report_id).files.values()
    assert stored.md5 == real


def test_fault_drop_after_does_the_work_and_closes(ncmec: CybertipSimulator) -> None:
    ncmec.fail_next("drop_after")
    with pytest.raises(http.client.RemoteDisconnected):
        submit(ncmec)
    (report,) = ncmec.reports.values()
    assert ncmec.calls == [SimulatorCall("POST", "/submit", report.report_id)]
    report_id = report.report_id
    ncmec.fail_next("drop_after")
    with pytest.raises(http.client.RemoteDisconnected):
        form_call(ncmec, "/finish", report_id)
    assert [r.report_id for r in ncmec.finished_reports()] == [report_id]


def test_faults_are_taken_in_order_one_per_request(ncmec: CybertipSimulator) -> None:
    ncmec.fail_next("500", "html")
    assert send(ncmec, "GET", "/status").status == 500
    assert send(ncmec, "GET", "/status").content_type == "text/html"
    assert send(ncmec, "GET", "/status").code == SUCCESS


@pytest.mark.parametrize("fault", ["timeout", "code:", "code:12a", "503"])
def test_unknown_faults_are_refused(ncmec: CybertipSimulator, fault: str) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        ncmec.fail_next(fault)


# --- standalone ----------------------------------------------------------------


def test_it_runs_standalone_and_prints_its_url() -> None:
    command = [
        sys.executable,
        "-m",
        "hashmatch.reporting.cybertip.simulator",
        "--port",
        "0",
        "--credentials",
        CREDENTIALS,
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().split()[-1]
            connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=10)
            token = base64.b64encode(CREDENTIALS.encode()).decode()
            connection.request("GET", "/status", headers={"Authorization": f"Basic {token}"})
            response = connection.getresponse()
            assert response.status == 200
            assert b"<responseCode>0</responseCode>" in response.read()
            connection.close()
        finally:
            process.terminate()
