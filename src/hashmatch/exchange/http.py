"""GETting a source's pages (and sending it opinions): each within a stall
timeout, at an allowed address, with the credentials kept out of every message.

    client = PageClient(policy, page_timeout=60, secrets=("user:pass",))
    body = client.get("https://example.org/v2/entries?from=...", headers={...})
    client.send("PUT", "https://example.org/v2/entries/1/a/MD5/feedback", xml, headers={...})

A page that has not fully arrived ``page_timeout`` seconds after it was
asked for is cut off (``net.cut_off_at``: a server trickling bytes cannot
hold a fetch forever).  Addresses follow the URL settings (``url_allowed_hosts``,
``url_allow_private``), as content downloads do; ``url_fetch`` is not asked,
since an exchange's address is set by a curator, not by whoever uploads.
Every error says what happened in words, with each secret replaced by ``***``
(URLs may carry a token, servers echo what they were sent).
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from hashmatch import __version__
from hashmatch.errors import ExchangeError, FetchError
from hashmatch.media.download import UrlPolicy
from hashmatch.net import (
    checked_address,
    cut_off_at,
    excerpt,
    http_target,
    pinned_connection,
    reason,
)

#: The largest page accepted (a whole hash list is one page of a URL source).
MAX_PAGE_BYTES = 1024 * 1024 * 1024
CHUNK = 1024 * 1024
#: Statuses that say "try again later".
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
CREDENTIALS_STATUSES = frozenset({401, 403})
#: How much of an error answer's body is kept (``HttpStatusError.body``).
ERROR_BODY_BYTES = 4096


class HttpStatusError(ExchangeError):
    """A response other than 2xx; ``status`` is its code, ``body`` the start
    of the answer (not redacted: :meth:`PageClient.redact` it before showing it)."""

    def __init__(self, message: str, status: int, body: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def retry_helps(error: ExchangeError) -> bool:
    """Whether asking again later may succeed: yes for a stall, a refused
    connection, a 5xx, 408/425/429, and rejected credentials (they may be
    renewed); no for any other answer the server gave (it refused this)."""
    if isinstance(error, HttpStatusError):
        return error.status in RETRY_STATUSES or error.status in CREDENTIALS_STATUSES
    return True


class PageClient:
    """GETs pages for one fetch run."""

    def __init__(
        self,
        policy: UrlPolicy,
        *,
        page_timeout: float = 60.0,
        max_bytes: int = MAX_PAGE_BYTES,
        secrets: Iterable[str] = (),
    ) -> None:
        self.policy = policy
        self.page_timeout = page_timeout
        self.max_bytes = max_bytes
        self.secrets = tuple(secret for secret in secrets if secret)

    def redact(self, text: str) -> str:
        """``text`` with every secret (as given, or quoted for a URL) as ``***``."""
        for secret in self.secrets:
            for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
                text = text.replace(form, "***")
        return text

    def refusal(self, error: HttpStatusError) -> str:
        """``error`` with the start of the server's answer (why it refused),
        as one line with every secret redacted."""
        answer = excerpt(self.redact(error.body.decode("utf-8", errors="replace")).encode())
        return f"{error}: {answer}" if answer else str(error)

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> bytes:
        """The body of a 2xx answer to GET ``url``; HttpStatusError for
        another status, ExchangeError when the page does not come in time or
        the address is refused (messages redacted)."""
        return self.send("GET", url, None, headers)

    def send(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str] | None = None,
    ) -> bytes:
        """The body of a 2xx answer to ``method url`` with ``body``; errors
        as :meth:`get`'s."""
        return self.exchange(method, url, body, headers)[0]

    def exchange(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[bytes, http.client.HTTPMessage]:
        """As :meth:`send`, with the answer's headers (TAXII puts its paging
        dates there)."""
        try:
            return self._request(method, url, body, dict(headers or {}))
        except HttpStatusError as error:
            raise HttpStatusError(self.redact(str(error)), error.status, error.body) from None
        except FetchError as error:
            raise ExchangeError(self.redact(str(error))) from None

    def get_json(self, url: str, headers: Mapping[str, str] | None = None) -> Any:
        body = self.get(url, headers)
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            raise ExchangeError(f"{self.redact(url)}: the page is not JSON") from None

    def _request(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[bytes, http.client.HTTPMessage]:
        deadline = time.monotonic() + self.page_timeout
        target = http_target(url)
        if not self.policy.allows(target.host, target.port):
            raise FetchError(f"{url}: {target.host}:{target.port} is not in url_allowed_hosts")
        address = checked_address(target.host, target.port, allow_private=self.policy.allow_private)
        connection = pinned_connection(target, address, deadline)
        cutoff = cut_off_at(deadline, connection)
        response: http.client.HTTPResponse | None = None
        try:
            connection.request(
                method,
                target.path,
                body=body,
                headers={"User-Agent": f"hashmatch/{__version__}", **headers},
            )
            response = connection.getresponse()
            answer = self._read(response, url, deadline)
        except (OSError, http.client.HTTPException) as error:
            raise FetchError(self._why(url, error, deadline)) from None
        finally:
            cutoff.cancel()
            if response is not None:
                response.close()  # a fully read body leaves it open, and its socket with it
            connection.close()
        if not 200 <= response.status < 300:
            raise HttpStatusError(
                f"{url}: the server answered HTTP {response.status}",
                response.status,
                answer[:ERROR_BODY_BYTES],
            )
        return answer, response.headers

    def _read(self, response: http.client.HTTPResponse, url: str, deadline: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while chunk := response.read1(CHUNK):
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(f"{url}: the page is over {self.max_bytes} bytes")
            chunks.append(chunk)
        if time.monotonic() >= deadline:  # an end of data may be the cut-off's
            raise FetchError(self._stalled(url))
        if response.length:  # the server said more was coming
            raise FetchError(f"{url}: the page ended early")
        return b"".join(chunks)

    def _why(self, url: str, error: BaseException, deadline: float) -> str:
        return self._stalled(url) if time.monotonic() >= deadline else f"{url}: {reason(error)}"

    def _stalled(self, url: str) -> str:
        return f"{url}: the page did not arrive within {self.page_timeout:g} s (page_timeout)"
