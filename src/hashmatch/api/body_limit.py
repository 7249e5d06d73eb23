"""A cap on request bodies, enforced while they arrive.

Starlette parses a multipart upload completely (to a temporary file) before a
route runs, so a route cannot refuse an oversized upload in time.  This plain
ASGI middleware does: a declared Content-Length over the cap is answered 413
at once, and a body that grows past it is cut off, and whatever the app made
of the cut-off body is replaced by the 413.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hashmatch.api.access_log import request_id
from hashmatch.api.errors import HMA_PREFIXES, error_body

#: Room for multipart framing and form fields around the largest upload.
FRAMING_BYTES = 64 * 1024


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_upload_bytes: int) -> None:
        self.app = app
        self.limit = max_upload_bytes + FRAMING_BYTES
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, send)
            return
        received = 0
        over = False

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    over = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        refused = False

        async def guarded_send(message: Message) -> None:
            nonlocal refused
            if not over:
                await send(message)
            elif not refused:
                refused = True
                await self._refuse(scope, send)

        await self.app(scope, counting_receive, guarded_send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        message = f"request bodies are limited to {self.max_upload_bytes} bytes of content"
        hma = str(scope.get("path", "")).startswith(HMA_PREFIXES)
        body = json.dumps(
            {"message": message} if hma else error_body("too_large", message, request_id(scope))
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})
