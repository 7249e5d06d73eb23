"""Downloading content by URL without becoming a server-side request forgery tool.

    policy = UrlPolicy.from_settings(settings)
    fetched = download("https://images.example.com/a.jpg", policy, folder / "content")

Off unless enabled.  A URL must be http(s), name a host (and port, where the
entry gives one) on the allowlist when there is one, and resolve only to
public addresses unless private ones are allowed; an IPv6 address that
carries an IPv4 one (6to4, NAT64, IPv4-mapped and the like) is public only if
that IPv4 address is.  The connection goes to the address that was checked
(so a second DNS answer cannot point it elsewhere), every redirect is checked
the same way, and the size and the total time are capped: at the deadline
the socket is shut, whatever the server is trickling (headers included).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from hashmatch import __version__
from hashmatch.errors import DownloadTooLargeError, FetchError, UrlNotAllowedError
from hashmatch.settings import Settings, host_and_port

CHUNK = 256 * 1024
MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
#: IPv6 prefixes whose last 32 bits are an IPv4 address: IPv4-compatible,
#: IPv4-mapped, IPv4-translated and NAT64's well-known prefix (6to4 is
#: ``IPv6Address.sixtofour``).
IPV4_IN_LAST_32_BITS = tuple(
    ipaddress.IPv6Network(prefix)
    for prefix in ("::/96", "::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b::/96")
)
#: Never public, whatever Python's table says: site-local (deprecated, still
#: routed inside some networks) and NAT64's local-use prefix.
LOCAL_IPV6 = tuple(ipaddress.IPv6Network(prefix) for prefix in ("fec0::/10", "64:ff9b:1::/48"))


@dataclass(frozen=True)
class UrlPolicy:
    enabled: bool = False
    #: Hosts allowed, each optionally with a port ("cdn.example:8443",
    #: "[2001:db8::1]:443"); ".example.com" also allows its subdomains; empty: any.
    allowed_hosts: tuple[str, ...] = ()
    allow_private: bool = False
    max_bytes: int = 64 * 1024 * 1024
    timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> UrlPolicy:
        return cls(
            enabled=settings.url_fetch,
            allowed_hosts=tuple(settings.url_allowed_hosts),
            allow_private=settings.url_allow_private,
            max_bytes=settings.url_max_bytes,
            timeout_seconds=settings.url_timeout_seconds,
        )

    def __post_init__(self) -> None:
        for entry in self.allowed_hosts:
            host_and_port(entry)  # ValueError for a malformed entry

    def allows(self, host: str, port: int) -> bool:
        """Whether a URL may name ``host`` and ``port``."""
        if not self.allowed_hosts:
            return True
        host = host.lower().rstrip(".")
        for entry in self.allowed_hosts:
            allowed, allowed_port = host_and_port(entry)
            if allowed_port not in (None, port):
                continue
            if host == allowed or (allowed.startswith(".") and host.endswith(allowed)):
                return True
        return False


def is_public(address: Address) -> bool:
    """Whether ``address`` is on the public internet, and so is any IPv4
    address it carries."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = address.sixtofour or (
            ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
            if any(address in prefix for prefix in IPV4_IN_LAST_32_BITS)
            else None
        )
        if carried is not None:
            return is_public(carried)
        if any(address in prefix for prefix in LOCAL_IPV6):
            return False
    return address.is_global and not address.is_multicast


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
        connection, target = _connection_for(url, policy, deadline)
        cutoff = _cut_off_at(deadline, connection)
        try:
            response = _get(connection, target, url, deadline)
            location = response.getheader("Location")
            if response.status in REDIRECTS and location:
                url = urljoin(url, location)
                continue
            if not 200 <= response.status < 300:
                raise FetchError(f"{url}: the server answered HTTP {response.status}")
            size = _save(response, policy, deadline, destination, url)
            kind = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
            return Download(destination, url, kind, size)
        finally:
            cutoff.cancel()
            connection.close()
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _connection_for(
    url: str, policy: UrlPolicy, deadline: float
) -> tuple[http.client.HTTPConnection, str]:
    """A connection (not yet open) to the checked address, and the request target."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlNotAllowedError(f"{url!r}: only http and https URLs with a host are fetched")
    if parts.username is not None or parts.password is not None:
        raise UrlNotAllowedError(f"{url!r}: URLs with credentials are not fetched")
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UrlNotAllowedError(f"{url!r}: the port is not a number") from None
    if not policy.allows(host, port):
        raise UrlNotAllowedError(f"{url}: {host}:{port} is not in url_allowed_hosts")
    address = _checked_address(host, port, policy)
    kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = kind(host, port, address, deadline, _remaining(deadline, url))
    return connection, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _get(
    connection: http.client.HTTPConnection, target: str, url: str, deadline: float
) -> http.client.HTTPResponse:
    try:
        connection.request(
            "GET", target, headers={"User-Agent": f"hashmatch/{__version__}", "Accept": "*/*"}
        )
        return connection.getresponse()
    except (OSError, http.client.HTTPException) as error:
        raise _failed(url, error, deadline) from None


def _cut_off_at(deadline: float, connection: http.client.HTTPConnection) -> threading.Timer:
    """At the deadline, shut the connection's socket: a read blocked on it (a
    header line trickling in, a TLS handshake) returns at once."""

    def cut() -> None:
        if connection.sock is not None:
            with suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(max(0.0, deadline - time.monotonic()), cut)
    timer.daemon = True
    timer.start()
    return timer


def _checked_address(host: str, port: int, policy: UrlPolicy) -> str:
    """The address to connect to; every address the name has must be allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise FetchError(f"cannot resolve {host!r}: {_reason(error)}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not policy.allow_private:
        for text in addresses:
            if not is_public(ipaddress.ip_address(text.split("%")[0])):
                raise UrlNotAllowedError(
                    f"{host!r} resolves to {text}, a private or reserved address "
                    "(setting url_allow_private)"
                )
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address checked beforehand, whatever DNS says now."""

    def __init__(self, host: str, port: int, address: str, deadline: float, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address
        self.deadline = deadline

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        if time.monotonic() >= self.deadline:  # the cut-off may have found no socket yet
            self.sock.close()
            raise TimeoutError("connected after the deadline")


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    def connect(self) -> None:
        super().connect()
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(self.sock, server_hostname=self.host)


def _save(
    response: http.client.HTTPResponse,
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
            try:
                chunk = response.read1(CHUNK)
            except (OSError, http.client.HTTPException) as error:
                raise _failed(url, error, deadline) from None
            if not chunk:
                _remaining(deadline, url)  # an end of data may be the cut-off's
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


def _failed(url: str, error: BaseException, deadline: float) -> FetchError:
    """The error for a failed read or write; past the deadline, that is the reason."""
    if time.monotonic() >= deadline:
        return FetchError(f"{url}: took longer than the time allowed (url_timeout_seconds)")
    return FetchError(f"{url}: {_reason(error)}")


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    return str(error) or type(error).__name__
