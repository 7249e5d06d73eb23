"""Downloading content by URL without becoming a server-side request forgery tool.

    policy = UrlPolicy.from_settings(settings)
    fetched = download("https://images.example.com/a.jpg", policy, folder / "content")

Off unless enabled.  A URL must be http(s), name a host (and port, where the
entry gives one) on the allowlist when there is one, and pass the address
policy webhooks share (``hashmatch.net``): public addresses only unless
private ones are allowed, the connection pinned to the address checked, and
the socket shut at the deadline.  Every redirect is checked the same way,
and the size and the total time are capped.
"""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from hashmatch import __version__
from hashmatch.errors import DownloadTooLargeError, FetchError, UrlNotAllowedError
from hashmatch.net import (
    checked_address,
    cut_off_at,
    http_target,
    is_public,
    pinned_connection,
    reason,
)
from hashmatch.settings import Settings, host_and_port

__all__ = ["Download", "UrlPolicy", "download", "is_public"]

CHUNK = 256 * 1024
MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)


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
        cutoff = cut_off_at(deadline, connection)
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
    target = http_target(url)
    if not policy.allows(target.host, target.port):
        raise UrlNotAllowedError(f"{url}: {target.host}:{target.port} is not in url_allowed_hosts")
    address = checked_address(target.host, target.port, allow_private=policy.allow_private)
    _remaining(deadline, url)
    return pinned_connection(target, address, deadline), target.path


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
    return FetchError(f"{url}: {reason(error)}")
