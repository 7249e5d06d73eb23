"""Fetching by URL: the policy refuses what it must, the caps hold, good downloads land."""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from hashmatch.errors import DownloadTooLargeError, FetchError, UrlNotAllowedError
from hashmatch.media.download import UrlPolicy, download
from tests.servers import http_server

BODY = b"\x89PNG not really, but bytes" * 100


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/file":
            self._send(200, BODY, {"Content-Type": "image/png; charset=binary"})
        elif self.path == "/redirect":
            self._send(302, b"", {"Location": "/file"})
        elif self.path == "/redirect-away":
            port = self.server.server_address[1]
            self._send(302, b"", {"Location": f"http://localhost:{port}/file"})
        elif self.path == "/loop":
            self._send(302, b"", {"Location": "/loop"})
        elif self.path == "/undeclared":  # no Content-Length: read until the close
            self.send_response(200)
            self.end_headers()
            self.wfile.write(BODY * 10)
            self.close_connection = True
        elif self.path == "/slow-headers":  # one header line at a time, slowly
            try:
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                for number in range(100):
                    self.wfile.write(f"X-Line-{number}: {number}\r\n".encode())
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:  # the client gave up, as it should
                return
        elif self.path == "/slow":
            self.send_response(200)
            self.end_headers()
            self.close_connection = True
            try:
                for _ in range(100):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:  # the client gave up, as it should
                return
        else:
            self._send(404, b"nope", {})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with http_server(Handler) as url:
        yield url


LOCAL = UrlPolicy(enabled=True, allowed_hosts=("127.0.0.1",), allow_private=True)


def test_downloads_follow_redirects(base: str, tmp_path: Path) -> None:
    fetched = download(f"{base}/redirect", LOCAL, tmp_path / "out")
    assert fetched.path.read_bytes() == BODY
    assert (fetched.url, fetched.content_type, fetched.size) == (
        f"{base}/file",
        "image/png",
        len(BODY),
    )


def test_off_by_default(base: str, tmp_path: Path) -> None:
    with pytest.raises(UrlNotAllowedError, match="url_fetch"):
        download(f"{base}/file", UrlPolicy(), tmp_path / "out")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1/file",
        "http://[::1]/x",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://10.0.0.8/x",
        "http://100.64.0.1/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://localhost/x",
    ],
)
def test_private_addresses_are_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(UrlNotAllowedError, match="private or reserved"):
        download(url, UrlPolicy(enabled=True), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1/file", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("http://user:secret@127.0.0.1/file", "credentials"),
        ("http://example.org/file", "not in url_allowed_hosts"),
    ],
)
def test_urls_outside_the_policy(url: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(UrlNotAllowedError, match=message):
        download(url, LOCAL, tmp_path / "out")


def test_redirects_are_checked_too(base: str, tmp_path: Path) -> None:
    with pytest.raises(UrlNotAllowedError, match=r"localhost:\d+ is not in url_allowed_hosts"):
        download(f"{base}/redirect-away", LOCAL, tmp_path / "out")
    with pytest.raises(FetchError, match="redirects"):
        download(f"{base}/loop", LOCAL, tmp_path / "out")


def test_subdomain_rule() -> None:
    policy = UrlPolicy(enabled=True, allowed_hosts=(".example.com", "cdn.test"))
    assert policy.allows("img.example.com", 443)
    assert policy.allows("CDN.test.", 8080)  # no port in the entry: any port
    assert not policy.allows("example.com.evil.org", 443)
    assert not policy.allows("sub.cdn.test", 443)


def test_size_caps(base: str, tmp_path: Path) -> None:
    small = UrlPolicy(enabled=True, allow_private=True, max_bytes=len(BODY) - 1)
    with pytest.raises(DownloadTooLargeError, match="url_max_bytes"):
        download(f"{base}/file", small, tmp_path / "out")
    capped = UrlPolicy(enabled=True, allow_private=True, max_bytes=len(BODY) * 5)
    with pytest.raises(DownloadTooLargeError, match="url_max_bytes"):
        download(f"{base}/undeclared", capped, tmp_path / "out")


def test_time_cap(base: str, tmp_path: Path) -> None:
    policy = UrlPolicy(enabled=True, allow_private=True, timeout_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"url_timeout_seconds|timed out"):
        download(f"{base}/slow", policy, tmp_path / "out")
    assert time.monotonic() - started < 4  # the whole answer would take 5 s


def test_time_cap_covers_headers_trickling_in(base: str, tmp_path: Path) -> None:
    """The server sends a header line every 0.1 s for 10 s: the deadline holds."""
    policy = UrlPolicy(enabled=True, allow_private=True, timeout_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(FetchError, match="url_timeout_seconds"):
        download(f"{base}/slow-headers", policy, tmp_path / "out")
    assert time.monotonic() - started < 4


def test_http_errors_and_dead_ports(base: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        download(f"{base}/missing", LOCAL, tmp_path / "out")
    with pytest.raises(FetchError, match=r"127\.0\.0\.1:1/"):
        download("http://127.0.0.1:1/", LOCAL, tmp_path / "out")
