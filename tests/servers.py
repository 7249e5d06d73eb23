"""Real servers on loopback, for tests: ``hashmatch serve`` processes, and
small HTTP servers that stand in for the web (content to fetch by URL)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A threaded HTTP server on loopback running ``handler``; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def static_handler(files: dict[str, tuple[str, bytes]]) -> type[BaseHTTPRequestHandler]:
    """A handler serving ``{path: (content type, body)}``, 404 for the rest."""

    class Static(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            content_type, body = files.get(self.path, ("text/plain", b"not found"))
            self.send_response(200 if self.path in files else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Static


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(url: str, key: str | None = None, body: Any = None) -> tuple[int, Any]:
    """One JSON request: (status, decoded body)."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def start_server(
    database_url: str,
    data_dir: Path,
    *,
    capture: bool = False,
    workers: int = 1,
    port: int | None = None,
) -> tuple[subprocess.Popen[str], str]:
    """A ``hashmatch serve`` process and its base URL (not yet ready)."""
    port = port or free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hashmatch.cli",
            "--database-url",
            database_url,
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env={**os.environ, "HASHMATCH_DATA_DIR": str(data_dir)},
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.STDOUT if capture else subprocess.DEVNULL,
        text=True,
    )
    return process, f"http://127.0.0.1:{port}"


def wait_ready(base: str, key: str | None, seconds: float = 90, *, workers: int = 1) -> set[int]:
    """Until ``/status`` answers 200 from ``workers`` distinct workers (each has
    loaded its index; without a key: until ``/status/live`` answers), or
    AssertionError.  The workers' process ids."""
    deadline = time.monotonic() + seconds
    ready: set[int] = set()
    while time.monotonic() < deadline:
        try:
            if key is None:
                if call(f"{base}/status/live")[0] == 200:
                    return ready
            else:
                status, body = call(f"{base}/status", key)  # a new connection each time
                if status == 200:
                    ready.add(body["worker"])
                    if len(ready) >= workers:
                        return ready
                    continue
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base} did not become ready in {seconds} s")
