"""Outbound HTTP that cannot be turned against the network it runs in.

    target = http_target(url)
    address = checked_address(target.host, target.port, allow_private=False)
    connection = pinned_connection(target, address, deadline)
    cutoff = cut_off_at(deadline, connection)

Fetching content by URL (``media/download.py``) and delivering webhooks
(``actions/delivery.py``) share these rules: a URL must be http(s) with a
host and no credentials; every address its host resolves to must be public
unless private ones are allowed (an IPv6 address that carries an IPv4 one,
6to4, NAT64, IPv4-mapped and the like, is public only if that IPv4 address
is); the connection goes to the address that was checked, so a second DNS
answer cannot point it elsewhere; and at the deadline the socket is shut,
whatever the server is trickling (headers included).
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
from urllib.parse import urlsplit

from hashmatch.errors import FetchError, UrlNotAllowedError

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
class Target:
    """Where an http(s) URL points, and what to ask for there."""

    scheme: str
    host: str
    port: int
    #: The request target: path and query.
    path: str


def http_target(url: str) -> Target:
    """The parts of an http(s) URL with a host and no credentials, else UrlNotAllowedError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlNotAllowedError(f"{url!r}: only http and https URLs with a host are allowed")
    if parts.username is not None or parts.password is not None:
        raise UrlNotAllowedError(f"{url!r}: URLs with credentials are not allowed")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UrlNotAllowedError(f"{url!r}: the port is not a number") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port, path)


def checked_address(host: str, port: int, *, allow_private: bool) -> str:
    """The address to connect to; every address the name has must be allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise FetchError(f"cannot resolve {host!r}: {reason(error)}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not allow_private:
        for text in addresses:
            if not is_public(ipaddress.ip_address(text.split("%")[0])):
                raise UrlNotAllowedError(
                    f"{host!r} resolves to {text}, a private or reserved address "
                    "(setting url_allow_private)"
                )
    return addresses[0]


class PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address checked beforehand, whatever DNS says now.
    ``deadline`` (``time.monotonic()``) may be moved on for each request of a
    kept-alive connection."""

    def __init__(self, host: str, port: int, address: str, deadline: float, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address
        self.deadline = deadline

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        if time.monotonic() >= self.deadline:  # the cut-off may have found no socket yet
            self.sock.close()
            raise TimeoutError("connected after the deadline")
        # http.client sends a request's headers and its body in two writes: with
        # Nagle's algorithm on, the body waited for the receiver's delayed ACK
        # (40 ms a POST on Linux).
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class PinnedHTTPSConnection(PinnedHTTPConnection):
    def connect(self) -> None:
        super().connect()
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(self.sock, server_hostname=self.host)


def pinned_connection(target: Target, address: str, deadline: float) -> PinnedHTTPConnection:
    """A connection (not yet open) to ``address`` for ``target``; FetchError
    when the deadline has passed already."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError(f"{target.host}: out of time before connecting")
    kind = PinnedHTTPSConnection if target.scheme == "https" else PinnedHTTPConnection
    return kind(target.host, target.port, address, deadline, left)


def cut_off_at(deadline: float, connection: http.client.HTTPConnection) -> threading.Timer:
    """At the deadline, shut the connection's socket: a read blocked on it (a
    header line trickling in, a TLS handshake) returns at once.  Cancel the
    timer when the exchange is over."""

    def cut() -> None:
        if connection.sock is not None:
            with suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(max(0.0, deadline - time.monotonic()), cut)
    timer.daemon = True
    timer.start()
    return timer


#: Characters of a server's answer quoted in a message.
EXCERPT_CHARS = 120


def excerpt(body: bytes) -> str:
    """The start of a server's answer ``body`` as one printable line, for a message."""
    text = body[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
    line = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return line[:EXCERPT_CHARS] + ("…" if len(line) > EXCERPT_CHARS else "")


def reason(error: BaseException) -> str:
    """A network error in a few words."""
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    return str(error) or type(error).__name__
