"""One log line per request, and the request id that ties it to its response.

    app.add_middleware(AccessLogMiddleware, metrics=Metrics())
    configure_logging("json")

Each request gets an id: the client's ``X-Request-ID`` when it is a sane
token (letters, digits and ``._:-``, at most 128 characters), else a new
one.  The response carries it back in ``X-Request-ID``, and every error body
in hashmatch's shape names it (api/errors.py), so a client's report of a
failed call finds its line in the log.

The line (logger ``hashmatch.access``) says the method, the route's template
(``/v1/banks/{name}``: never the path or query the client sent), the status,
the time taken and the API key's name; never the key itself, a query string
or a body (a hash list is a secret of its own).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hashmatch.api.metrics import Metrics

#: Where a request keeps its id, and the name of the API key that made it.
REQUEST_ID = "hashmatch.request_id"
KEY_NAME = "hashmatch.key_name"
HEADER = "X-Request-ID"
_HEADER_KEY = HEADER.lower().encode()
_SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
#: Marks the handler configure_logging installs, so a second call replaces it.
_HANDLER_NAME = "hashmatch-log"

log = logging.getLogger("hashmatch.access")


def request_id(scope: Scope) -> str:
    """The request's id ("" outside :class:`AccessLogMiddleware`)."""
    return str(scope.get(REQUEST_ID, ""))


def _given_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == _HEADER_KEY:
            return value.decode("ascii") if _SANE_ID.fullmatch(value) else None
    return None


class AccessLogMiddleware:
    """Plain ASGI middleware (Starlette's decorator-style middleware costs far
    more per request): gives each request its id, returns it in a header,
    and once the response has gone (or failed) logs the request and counts
    it in the metrics, timed once for both."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _given_id(scope) or uuid.uuid4().hex
        scope[REQUEST_ID] = given
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if not any(name.lower() == _HEADER_KEY for name, _ in headers):
                    headers.append((_HEADER_KEY, given.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = str(getattr(scope.get("route"), "path", "unmatched"))
            self.metrics.observe(scope["method"], route, status, seconds)
            _log_request(scope, route, status, seconds)


def _log_request(scope: Scope, route: str, status: int, seconds: float) -> None:
    fields: dict[str, Any] = {
        "method": scope["method"],
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 1),
        "key": scope.get(KEY_NAME),
        "request_id": request_id(scope),
    }
    log.info(
        "%s %s %d %.1f ms key=%s request_id=%s",
        fields["method"],
        fields["route"],
        status,
        fields["duration_ms"],
        fields["key"] or "-",
        fields["request_id"],
        extra={"access": fields},
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger and message, the access
    log's fields, and a traceback as ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "access", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(log_format: str) -> None:
    """Write hashmatch's log, INFO and up, to stderr as ``text`` or ``json``.

    Where logging is set up already (the root logger has handlers: an
    application that embeds the API, or pytest), that set-up decides where
    the lines go, and this does nothing."""
    logger = logging.getLogger("hashmatch")
    ours = [handler for handler in logger.handlers if handler.get_name() == _HANDLER_NAME]
    if not ours and logging.getLogger().handlers:
        return
    handler = ours[0] if ours else logging.StreamHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        JsonFormatter()
        if log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    if not ours:
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
