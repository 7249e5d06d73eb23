"""A local stand-in for a service we cannot reach in tests (an exchange,
NCMEC's CyberTipline, the DSA Transparency Database): a threaded HTTP server
on 127.0.0.1 whose every GET, POST and PUT goes to ``_handle``.

    class Echo(LoopbackServer):
        def _handle(self, request):
            request.send_response(204)
            request.end_headers()

    with Echo() as server:          # started on a free port, stopped on exit
        urlopen(server.url)
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self


class LoopbackServer:
    def __init__(self) -> None:
        #: Set by :meth:`stop`: a request held open on purpose waits on it.
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def start(self, port: int = 0) -> Self:
        """Serve on loopback, on ``port`` (0: any free port)."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._handle(self)

            def do_POST(self) -> None:
                server._handle(self)

            def do_PUT(self) -> None:
                server._handle(self)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        # stop() waits for the serving loop's next poll.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
