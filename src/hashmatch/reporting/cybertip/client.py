"""NCMEC's CyberTipline Reporting API over HTTP(S), one call at a time, each
returned (or carried by its error) as a ``Call`` the caller stores.

    client = CybertipClient("https://exttest.cybertip.org/ispws", user, password)
    call = client.submit(report_xml(content))          # call.answer.report_id
    call = client.upload(report_id, "a.jpg", data)      # call.answer.file_id
    client.file_info(file_details_xml(details))
    client.finish(report_id)                            # call.answer.file_ids

A call that does not succeed raises ``CybertipCallError`` (a CybertipError)
whose ``kind`` says what to do (``responses.kind_of``; 401/403 are
"credentials", 5xx and a network failure or timeout "retry", an answer that is
not the API's "protocol") and whose ``call`` is the record to store.
Requests go out the way ``hashmatch.net`` sends everything: to an address
checked once (public only, unless ``allow_private``) and cut off at the
deadline, so a server that trickles cannot hold a worker.  The password and
the Authorization header never appear in a Call or a message: whatever a
server echoes is redacted.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import secrets
import time
from dataclasses import dataclass, replace

from hashmatch import __version__
from hashmatch.errors import CybertipError, FetchError, UrlNotAllowedError
from hashmatch.net import checked_address, cut_off_at, http_target, pinned_connection, reason
from hashmatch.reporting.cybertip.responses import Answer, kind_of, parse_answer

#: The most of an answer that is read (NCMEC's answers are a few hundred bytes).
MAX_ANSWER_BYTES = 1024 * 1024
#: The most of an answer a Call keeps.
MAX_RESPONSE_TEXT = 64 * 1024
CHUNK = 64 * 1024
XML_CONTENT_TYPE = "text/xml; charset=utf-8"
#: HTTP statuses that say "try again later" (with every 5xx).
RETRY_STATUSES = frozenset({408, 429})
CREDENTIALS_STATUSES = frozenset({401, 403})


@dataclass(frozen=True)
class Call:
    """One request to NCMEC and what came of it, to be stored as it is."""

    endpoint: str
    #: None when no answer came (connection refused, timed out).
    http_status: int | None
    #: NCMEC's ``Request-ID`` header, which its support asks for.
    request_id: str | None
    answer: Answer | None
    #: The XML sent, or for an upload "file NAME, N bytes, md5 ...".
    request_summary: str
    #: The answer's body as text, at most MAX_RESPONSE_TEXT characters.
    response_text: str
    elapsed_ms: int
    #: Why the call failed; None when it succeeded.
    error: str | None


class CybertipCallError(CybertipError):
    """A CybertipError that carries the ``Call`` it came from."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        kind: str = "protocol",
        call: Call | None = None,
    ) -> None:
        super().__init__(message, code=code, kind=kind)
        self.call = call

    def __reduce__(self) -> tuple[type, tuple[str], dict[str, object]]:
        return type(self), (str(self),), {"code": self.code, "kind": self.kind, "call": self.call}


@dataclass(frozen=True)
class _Outcome:
    """What came back over the wire, before it is judged."""

    status: int | None = None
    request_id: str | None = None
    body: bytes = b""
    #: (kind, message) when nothing usable came back.
    failure: tuple[str, str] | None = None


class CybertipClient:
    """The API's endpoints at ``base_url`` (``.../ispws``), with HTTP Basic
    credentials.  ``timeout`` bounds each call as a whole, headers and body
    included."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        timeout: float = 60.0,
        allow_private: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.allow_private = allow_private
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._authorization = f"Basic {token}"
        self._secrets = tuple(s for s in (token, f"{username}:{password}", password) if s)

    def status(self) -> Call:
        """GET /status: whether we can reach NCMEC and sign in."""
        return self._call("/status", "GET", b"", None, "")

    def submit(self, xml: bytes) -> Call:
        """POST /submit: open a report; ``call.answer.report_id`` is NCMEC's id."""
        call = self._call("/submit", "POST", xml, XML_CONTENT_TYPE, _xml_summary(xml))
        return self._require(call, "reportId", call.answer is not None and call.answer.report_id)

    def upload(self, report_id: str, filename: str, data: bytes) -> Call:
        """POST /upload: one file for the report; ``call.answer.file_id`` is
        its id.  The MD5 NCMEC answers with must be the bytes' MD5 (kind
        "invalid" otherwise: the file did not arrive as sent)."""
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        body, content_type = _multipart(
            [("id", None, report_id.encode()), ("file", filename, data)]
        )
        summary = f"file {filename}, {len(data)} bytes, md5 {md5}"
        call = self._call("/upload", "POST", body, content_type, summary)
        answer = call.answer
        call = self._require(call, "fileId", answer is not None and answer.file_id)
        call = self._require(call, "hash", answer is not None and answer.md5)
        if answer is not None and answer.md5 is not None and answer.md5.lower() != md5:
            message = f"/upload: NCMEC received md5 {answer.md5}, the file sent has md5 {md5}"
            raise CybertipCallError(
                message, code=answer.code, kind="invalid", call=replace(call, error=message)
            )
        return call

    def file_info(self, xml: bytes) -> Call:
        """POST /fileinfo: an uploaded file's ``fileDetails``."""
        return self._call("/fileinfo", "POST", xml, XML_CONTENT_TYPE, _xml_summary(xml))

    def finish(self, report_id: str) -> Call:
        """POST /finish: close the report; ``call.answer.file_ids`` are its files."""
        return self._form_call("/finish", report_id)

    def retract(self, report_id: str) -> Call:
        """POST /retract: withdraw a report that is not finished."""
        return self._form_call("/retract", report_id)

    def _form_call(self, endpoint: str, report_id: str) -> Call:
        body, content_type = _multipart([("id", None, report_id.encode())])
        return self._call(endpoint, "POST", body, content_type, f"id {report_id}")

    def _require(self, call: Call, element: str, present: object) -> Call:
        """``call``, or a protocol error when a successful answer lacks ``element``."""
        if present:
            return call
        message = f"{call.endpoint}: NCMEC's answer has no {element}"
        code = None if call.answer is None else call.answer.code
        raise CybertipCallError(
            message, code=code, kind="protocol", call=replace(call, error=message)
        )

    def _call(
        self, endpoint: str, method: str, body: bytes, content_type: str | None, summary: str
    ) -> Call:
        started = time.monotonic()
        outcome = self._exchange(endpoint, method, body, content_type)
        answer: Answer | None = None
        failure = outcome.failure
        if failure is None:
            try:
                answer = parse_answer(outcome.body)
            except CybertipError as error:
                failure = _judged(outcome.status, None) or ("protocol", str(error))
            else:
                answer = replace(answer, description=self._redact(answer.description))
                failure = _judged(outcome.status, answer)
        call = Call(
            endpoint=endpoint,
            http_status=outcome.status,
            request_id=outcome.request_id,
            answer=answer,
            request_summary=summary,
            response_text=self._redact(
                outcome.body[: MAX_RESPONSE_TEXT * 4].decode("utf-8", errors="replace")
            )[:MAX_RESPONSE_TEXT],
            elapsed_ms=round((time.monotonic() - started) * 1000),
            error=None,
        )
        if failure is None:
            return call
        kind, message = failure
        message = self._redact(f"{endpoint}: {message}")
        code = None if answer is None else answer.code
        raise CybertipCallError(message, code=code, kind=kind, call=replace(call, error=message))

    def _exchange(
        self, endpoint: str, method: str, body: bytes, content_type: str | None
    ) -> _Outcome:
        deadline = time.monotonic() + self.timeout
        try:
            target = http_target(self.base_url + endpoint)
            address = checked_address(target.host, target.port, allow_private=self.allow_private)
            connection = pinned_connection(target, address, deadline)
        except UrlNotAllowedError as error:  # settings an admin must change
            return _Outcome(failure=("credentials", str(error)))
        except FetchError as error:
            return _Outcome(failure=("retry", str(error)))
        headers = {
            "Authorization": self._authorization,
            "User-Agent": f"hashmatch/{__version__}",
            "Accept": "application/xml, text/xml",
        }
        if content_type is not None:
            headers["Content-Type"] = content_type
        cutoff = cut_off_at(deadline, connection)
        response: http.client.HTTPResponse | None = None
        try:
            connection.request(method, target.path, body=body or None, headers=headers)
            response = connection.getresponse()
            data = _read(response)
        except (OSError, http.client.HTTPException) as error:
            why = "timed out" if time.monotonic() >= deadline else reason(error)
            status = None if response is None else response.status
            request_id = None if response is None else response.getheader("Request-ID")
            return _Outcome(status, request_id, failure=("retry", f"no answer: {why}"))
        except _AnswerTooLargeError:
            return _Outcome(
                response.status if response else None,
                response.getheader("Request-ID") if response else None,
                failure=("protocol", f"the answer is over {MAX_ANSWER_BYTES} bytes"),
            )
        finally:
            cutoff.cancel()
            if response is not None:
                response.close()
            connection.close()
        request_id = response.getheader("Request-ID")
        if time.monotonic() >= deadline:  # an end of data may be the cut-off's
            failure = ("retry", f"no answer within {self.timeout:g} s")
            return _Outcome(response.status, request_id, data, failure)
        return _Outcome(response.status, request_id, data)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


class _AnswerTooLargeError(Exception):
    pass


def _judged(status: int | None, answer: Answer | None) -> tuple[str, str] | None:
    """(kind, message) for a call that failed, None for one that worked."""
    if status in CREDENTIALS_STATUSES:
        return "credentials", f"NCMEC refused the credentials (HTTP {status})"
    if answer is not None and answer.code != 0:
        return kind_of(answer.code), f"NCMEC answered {answer.code}: {answer.description}"
    if status is not None and (status >= 500 or status in RETRY_STATUSES):
        return "retry", f"NCMEC answered HTTP {status}"
    if status is None or not 200 <= status < 300:
        return "protocol", f"NCMEC answered HTTP {status}"
    return None


def _read(response: http.client.HTTPResponse) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read1(CHUNK):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise _AnswerTooLargeError
        chunks.append(chunk)
    if response.length:  # the server said more was coming
        raise http.client.IncompleteRead(b"".join(chunks), response.length)
    return b"".join(chunks)


def _xml_summary(xml: bytes) -> str:
    return xml.decode("utf-8", errors="replace")


def _multipart(fields: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body of (name, filename or None, bytes) fields,
    and its Content-Type."""
    boundary = secrets.token_hex(16)
    while any(boundary.encode() in data for _, _, data in fields):
        boundary = secrets.token_hex(16)
    parts: list[bytes] = []
    for name, filename, data in fields:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{_quoted(filename)}"'
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        if filename is not None:
            head += "Content-Type: application/octet-stream\r\n"
        parts.append(head.encode() + b"\r\n" + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _quoted(filename: str) -> str:
    """A filename for a Content-Disposition parameter: UTF-8, with the
    characters that would end it percent-encoded (as browsers do, RFC 7578)."""
    return filename.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
