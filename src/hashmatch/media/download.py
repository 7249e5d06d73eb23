"""Downloading content by URL without becoming a server-side request forgery tool.

    policy = UrlPolicy.from_settings(settings)
    fetched = download("https://images.example.com/a.jpg", policy, folder / "content")

Off unless enabled.  A URL must be http(s), name a host on the allowlist (when
there is one), and resolve only to public addresses unless private ones are
allowed; the connection goes to the address that was checked (so a second DNS
answer cannot point it elsewhere), redirects are checked the same way, and
the size and the total time are capped.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from hashmatch import __version__
from hashmatch.errors import DownloadTooLargeError, FetchError, UrlNotAllowedError
from hashmatch.settings import Settings

CHUNK = 256 * 1024
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class UrlPolicy:
    enabled: bool = False
    #: Host names allowed; ".example.com" also allows its subdomains; empty: any.
    allowed_hosts: tuple[str, ...] = ()
    allow_private: bool = False
    max_bytes: int = 64 * 1024 * 1024
    timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> UrlPolicy:
        return cls(
            enabled=settings.url_fetch,
            allowed_hosts=tuple(host.lower() for host in settings.url_allowed_hosts),
            allow_private=settings.url_allow_private,
            max_bytes=settings.url_max_bytes,
            timeout_seconds=settings.url_timeout_seconds,
        )

    def allows_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        if not self.allowed_hosts:
            return True
        return any(
            host == allowed or (allowed.startswith(".") and host.endswith(allowed))
            for allowed in self.allowed_hosts
        )


@dataclass(frozen=True)
class Download:
    path: Path
    #: The final URL, after redirects.
    url: str
    #: The response's Content-Type, without parameters ("" when absent).
    content_type: str
    size: int


def download(url: str, policy: UrlPolicy, destination: Path) -> Download:
    """Fetch ``url`` into ``destination`` under ``policy``; FetchError says why not."""
    if not policy.enabled:
        raise UrlNotAllowedError("fetching content by URL is turned off (setting url_fetch)")
    deadline = time.monotonic() + policy.timeout_seconds
    for _ in range(MAX_REDIRECTS + 1):
        response, connection = _request(url, policy, deadline)
        try:
            location = response.getheader("Location")
            if response.status in (301, 302, 303, 307, 308) and location:
                url = urljoin(url, location)
                continue
            if not 200 <= response.status < 300:
                raise FetchError(f"{url}: the server answered HTTP {response.status}")
            size = _save(response, connection, policy, deadline, destination, url)
            kind = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
            return Download(destination, url, kind, size)
        finally:
            connection.close()
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _request(
    url: str, policy: UrlPolicy, deadline: float
) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlNotAllowedError(f"{url!r}: only http and https URLs with a host are fetched")
    if parts.username is not None or parts.password is not None:
        raise UrlNotAllowedError(f"{url!r}: URLs with credentials are not fetched")
    host = parts.hostname
    if not policy.allows_host(host):
        raise UrlNotAllowedError(f"{url}: host {host!r} is not in url_allowed_hosts")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UrlNotAllowedError(f"{url!r}: the port is not a number") from None
    address = _checked_address(host, port, policy)
    connection = _connection(parts.scheme, host, port, address, _remaining(deadline, url))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(
            "GET", target, headers={"User-Agent": f"hashmatch/{__version__}", "Accept": "*/*"}
        )
        return connection.getresponse(), connection
    except (OSError, http.client.HTTPException) as error:
        connection.close()
        raise FetchError(f"{url}: {_reason(error)}") from None


def _checked_address(host: str, port: int, policy: UrlPolicy) -> str:
    """The address to connect to; every address the name has must be allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise FetchError(f"cannot resolve {host!r}: {_reason(error)}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not policy.allow_private:
        for text in addresses:
            address = ipaddress.ip_address(text.split("%")[0])
            mapped = getattr(address, "ipv4_mapped", None) or address
            if not mapped.is_global or mapped.is_multicast:
                raise UrlNotAllowedError(
                    f"{host!r} resolves to {text}, a private or reserved address "
                    "(setting url_allow_private)"
                )
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address checked beforehand, whatever DNS says now."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    def connect(self) -> None:
        super().connect()
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(self.sock, server_hostname=self.host)


def _connection(
    scheme: str, host: str, port: int, address: str, timeout: float
) -> http.client.HTTPConnection:
    kind = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    return kind(host, port, address, timeout)


def _save(
    response: http.client.HTTPResponse,
    connection: http.client.HTTPConnection,
    policy: UrlPolicy,
    deadline: float,
    destination: Path,
    url: str,
) -> int:
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > policy.max_bytes:
        raise DownloadTooLargeError(
            f"{url}: {declared} bytes, over the {policy.max_bytes}-byte limit (url_max_bytes)"
        )
    size = 0
    with destination.open("wb") as stream:
        while True:
            # The response reads from the connection's socket: each read may
            # take only what is left of the total time.
            if connection.sock is not None:
                connection.sock.settimeout(_remaining(deadline, url))
            try:
                chunk = response.read1(CHUNK)
            except (OSError, http.client.HTTPException) as error:
                raise FetchError(f"{url}: {_reason(error)}") from None
            if not chunk:
                return size
            size += len(chunk)
            if size > policy.max_bytes:
                raise DownloadTooLargeError(
                    f"{url}: over the {policy.max_bytes}-byte limit (url_max_bytes)"
                )
            stream.write(chunk)
            _remaining(deadline, url)


def _remaining(deadline: float, url: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError(f"{url}: took longer than the time allowed (url_timeout_seconds)")
    return left


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    return str(error) or type(error).__name__
