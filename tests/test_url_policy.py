"""The URL policy: addresses that carry private IPv4 ones, host:port
allowlist entries, and the checks made again on every redirect hop."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from hashmatch.errors import ConfigurationError, UrlNotAllowedError
from hashmatch.media.download import UrlPolicy, download, is_public
from hashmatch.settings import Settings, host_and_port
from tests.servers import free_port, http_server

OPEN = UrlPolicy(enabled=True)


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b:1::808:808",  # NAT64 local-use prefix
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:c0a8:101::",  # 6to4 of 192.168.1.1
        "::a00:1",  # IPv4-compatible 10.0.0.1
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "::ffff:0:a00:1",  # IPv4-translated 10.0.0.1
        "::ffff:0:7f00:1",  # IPv4-translated 127.0.0.1
        "::ffff:10.0.0.1",  # IPv4-mapped
        "fec0::1",  # site-local
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "fc00::1",
        "fe80::1",
        "::1",
        "::",
    ],
)
def test_private_addresses_in_ipv6_clothing(address: str, tmp_path: Path) -> None:
    assert not is_public(ipaddress.ip_address(address))
    with pytest.raises(UrlNotAllowedError, match="private or reserved"):
        download(f"http://[{address}]/x", OPEN, tmp_path / "out")


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8"],
)
def test_public_addresses_pass(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_host_and_port_entries() -> None:
    assert host_and_port("CDN.example:8443") == ("cdn.example", 8443)
    assert host_and_port(".example.com") == (".example.com", None)
    assert host_and_port("[2001:db8::1]:443") == ("2001:db8::1", 443)
    assert host_and_port("2001:db8::1") == ("2001:db8::1", None)
    for bad in ("cdn.example:http", "cdn.example:0", "[2001:db8::1]x", "[::1]:", ":80"):
        with pytest.raises(ValueError, match="expected"):
            host_and_port(bad)
    with pytest.raises(ConfigurationError, match="url_allowed_hosts"):
        Settings.load({"url_allowed_hosts": ["cdn.example:99999"]})


def test_an_entry_with_a_port_allows_that_port_only() -> None:
    policy = UrlPolicy(enabled=True, allowed_hosts=("cdn.example:8443", "[2001:db8::1]:443"))
    assert policy.allows("cdn.example", 8443)
    assert not policy.allows("cdn.example", 443)
    assert policy.allows("2001:db8::1", 443)
    assert not policy.allows("2001:db8::1", 80)


def _redirecting_to(location: str) -> type[BaseHTTPRequestHandler]:
    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/file":
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                return
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Redirect


def test_allowlist_ports_hold_on_every_hop(tmp_path: Path) -> None:
    other = free_port()
    with http_server(_redirecting_to(f"http://127.0.0.1:{other}/file")) as base:
        port = int(base.rsplit(":", 1)[1])
        policy = UrlPolicy(enabled=True, allowed_hosts=(f"127.0.0.1:{port}",), allow_private=True)
        assert download(f"{base}/file", policy, tmp_path / "out").size == 2
        with pytest.raises(UrlNotAllowedError, match=rf"127\.0\.0\.1:{other} is not in"):
            download(f"{base}/away", policy, tmp_path / "out")


PUBLIC = "93.184.215.14"


@dataclass
class FakeNetwork:
    """Names resolve as the test says; connections to the public address
    ``PUBLIC`` reach the local test server on ``local_port`` instead."""

    answers: dict[str, str] = field(default_factory=dict)
    local_port: int = 0


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> FakeNetwork:
    fake = FakeNetwork()
    resolve = socket.getaddrinfo
    connect = socket.create_connection

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        if host in fake.answers:
            address = fake.answers[host]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, port))]
        return resolve(host, port, *args, **kwargs)

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        if address[0] == PUBLIC:
            address = ("127.0.0.1", fake.local_port)
        return connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return fake


@pytest.mark.parametrize(
    ("target", "address"),
    [("internal.example", "10.1.2.3"), ("nat64.example", "64:ff9b::a01:203")],
)
def test_the_address_policy_holds_on_every_hop(
    network: FakeNetwork, target: str, address: str, tmp_path: Path
) -> None:
    network.answers.update({"public.example": PUBLIC, target: address})
    with http_server(_redirecting_to(f"http://{target}/file")) as base:
        network.local_port = int(base.rsplit(":", 1)[1])
        assert download("http://public.example/file", OPEN, tmp_path / "out").size == 2
        with pytest.raises(UrlNotAllowedError, match=f"resolves to {address}"):
            download("http://public.example/away", OPEN, tmp_path / "out")
