"""A local stand-in for the DSA Transparency Database's statement API, on
its documented request and response shapes: for tests, benchmarks and
trying the sending out.

    python -m hashmatch.statements.simulator --token t0ken --port 8765   # from a shell

    with TransparencyDatabaseSimulator(token="t0ken") as api:
        # HASHMATCH_DSA_API_URL=<api.url> HASHMATCH_DSA_API_TOKEN=t0ken
        api.fail_next(500)                     # the next call gets a 500
        api.refuse_next("category", "The selected category is invalid.")
        ...
        api.statements                         # what it took, by puid

``POST /api/v1/statement`` takes one statement, ``POST /api/v1/statements``
up to 100 (``{"statements": [...]}``), all or none.  A wrong or missing
Bearer token gets 401; a refused field 422 with ``errors`` by field (by
``statement_<index>`` for a batch); a puid it holds already is refused the
same way; a created statement comes back with ``uuid``, ``id`` and
``created_at``.  The fields are checked with ``statements.fields``.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from hashmatch.loopback import LoopbackServer
from hashmatch.statements.fields import field_errors

MAX_BATCH = 100


class TransparencyDatabaseSimulator(LoopbackServer):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.statements: dict[str, dict[str, Any]] = {}
        #: Every call's path and how many statements it carried.
        self.calls: list[tuple[str, int]] = []
        self._faults: deque[int] = deque()
        self._refusals: deque[tuple[str, str]] = deque()
        self._lock = threading.Lock()

    def fail_next(self, status: int, *, count: int = 1) -> None:
        """The next ``count`` calls get ``status`` (500, 429, ...) and create nothing."""
        with self._lock:
            self._faults.extend([status] * count)

    def refuse_next(self, field: str, message: str) -> None:
        """The next call's first statement is refused on ``field``."""
        with self._lock:
            self._refusals.append((field, message))

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _reply(request, 401, {"message": "Unauthenticated."})
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            payload = {}
        if request.path == "/api/v1/statement":
            statements, batch = [payload] if isinstance(payload, dict) else [{}], False
        elif request.path == "/api/v1/statements":
            found = payload.get("statements") if isinstance(payload, dict) else None
            statements, batch = (found if isinstance(found, list) else []), True
        else:
            return _reply(request, 404, {"message": "Not found."})
        with self._lock:
            self.calls.append((request.path, len(statements)))
            if self._faults:
                status = self._faults.popleft()
                return _reply(request, status, {"message": f"Simulated {status}."})
            refusal = self._refusals.popleft() if self._refusals else None
            return self._create(request, statements, batch, refusal)

    def _create(
        self,
        request: BaseHTTPRequestHandler,
        statements: list[Any],
        batch: bool,
        refusal: tuple[str, str] | None,
    ) -> None:
        if batch and not 1 <= len(statements) <= MAX_BATCH:
            message = f"The statements field must have between 1 and {MAX_BATCH} items."
            return _reply(request, 422, {"message": message, "errors": {"statements": [message]}})
        errors: dict[str, dict[str, list[str]]] = {}
        for index, statement in enumerate(statements):
            own = field_errors(statement) if isinstance(statement, dict) else {"statement": ["?"]}
            if isinstance(statement, dict) and statement.get("puid") in self.statements:
                own.setdefault("puid", []).append(
                    "The identifier given is not unique within this platform."
                )
            if refusal is not None and index == 0:
                own.setdefault(refusal[0], []).append(refusal[1])
            if own:
                errors[f"statement_{index}"] = own
        if errors:
            if not batch:
                own = errors["statement_0"]
                first = next(iter(own.values()))[0]
                return _reply(request, 422, {"message": first, "errors": own})
            return _reply(request, 422, {"errors": errors})
        created = []
        for statement in statements:
            made = {
                **statement,
                "uuid": str(uuid.uuid4()),
                "id": len(self.statements) + 1,
                "created_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            }
            self.statements[statement["puid"]] = made
            created.append(made)
        _reply(request, 201, {"statements": created} if batch else created[0])


def _reply(request: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)


def main() -> None:
    """Serve on loopback until interrupted, printing the URL to set as ``dsa_api_url``."""
    import argparse

    parser = argparse.ArgumentParser(description="A local DSA Transparency Database API.")
    parser.add_argument("--token", required=True, help="The Bearer token it accepts.")
    parser.add_argument("--port", type=int, default=0, help="Port on 127.0.0.1 (0: any free).")
    args = parser.parse_args()
    api = TransparencyDatabaseSimulator(args.token).start(args.port)
    print(api.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        api.stop()


if __name__ == "__main__":
    main()
