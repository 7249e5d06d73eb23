"""API keys on every route but liveness: 401 without a valid key, 403 without
the scope, 429 over the key's rate limit.

    @router.get("/lookup")
    def lookup(..., _key: KeyInfo = Depends(require("match"))) -> ...

Routes declare the key they need as a dependency (which also puts the bearer
scheme in the OpenAPI document); :class:`~hashmatch.api.routing.GuardedRoute`
runs the same check before the request body is read, and the dependency then
finds its answer.  A verified key is remembered for a few seconds, so most
checks touch no database; the ones that do run in the thread pool.

The HMA-compatible routes take the same keys; with the setting
``hma_without_key`` they also admit requests without one, but only from a
loopback address (and the server refuses that setting on any other address).

An admitted request acts as its key (``key:<name>``, or ``anonymous:loopback``
without one) for the audit log, with its request id and client address: the
actor is set in the request's context, which FastAPI's thread pool copies
into the plain ``def`` routes (tests/test_audit_wiring.py holds that).
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from hashmatch.api.access_log import KEY_NAME, request_id
from hashmatch.api.errors import ApiError
from hashmatch.api.service import Service
from hashmatch.apikeys import KeyInfo
from hashmatch.audit import Actor, current_actor, set_actor
from hashmatch.settings import is_loopback

bearer = HTTPBearer(auto_error=False, description="An API key from `hashmatch keys create`.")
#: The actor of an admitted request without a key (see ``hma_without_key``).
ANONYMOUS = "anonymous:loopback"
#: Where a request keeps the answers of the key checks it passed.
_ADMITTED = "hashmatch.admitted"


class KeyCheck:
    """A dependency that admits keys with ``scope`` (or ``admin``); None: any
    valid key.  With ``keyless_loopback``, a request without a key passes when
    it comes from loopback and the setting ``hma_without_key`` is on."""

    def __init__(self, scope: str | None, *, keyless_loopback: bool = False) -> None:
        self.scope = scope
        self.keyless_loopback = keyless_loopback

    async def __call__(
        self, request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> KeyInfo | None:
        return await self.admit(request, credentials)

    async def admit(
        self, request: Request, credentials: HTTPAuthorizationCredentials | None
    ) -> KeyInfo | None:
        """The key that may make this request (None: a keyless loopback
        request), checked once per request however often it is asked; the
        request acts as that key from here on (the audit log's actor)."""
        admitted: dict[KeyCheck, KeyInfo | None] = request.scope.setdefault(_ADMITTED, {})
        if self not in admitted:
            admitted[self] = await self._check(request, credentials)
        info = admitted[self]
        # The request's task ends with the request: nothing to reset.
        set_actor(
            Actor(
                f"key:{info.name}" if info is not None else ANONYMOUS,
                request_id=request_id(request.scope) or None,
                client=_client(request),
            )
        )
        return info

    async def _check(
        self, request: Request, credentials: HTTPAuthorizationCredentials | None
    ) -> KeyInfo | None:
        service: Service = request.app.state.service
        if credentials is None:
            client = _client(request) or ""
            if self.keyless_loopback and service.settings.hma_without_key and is_loopback(client):
                return None
            raise ApiError(
                401, "unauthorized", "an API key is required: Authorization: Bearer <key>"
            )
        secret = credentials.credentials
        info = service.keys.remembered(secret) or await run_in_threadpool(
            service.keys.authenticate, secret
        )
        if info is None:
            raise ApiError(401, "unauthorized", "the API key is not valid or was revoked")
        request.scope[KEY_NAME] = info.name  # for the access log, a 403 or 429 included
        if self.scope is not None and not info.allows(self.scope):
            raise ApiError(403, "forbidden", f"this API key does not have the {self.scope!r} scope")
        if service.rate_limiter is not None:
            wait = service.rate_limiter.wait_for(info.prefix)
            if wait > 0:
                raise ApiError(
                    429,
                    "rate_limited",
                    f"API key {info.name!r} is over its rate limit; retry in {wait:.2f} s",
                    {"Retry-After": str(math.ceil(wait))},
                )
        return info


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def require(scope: str | None) -> KeyCheck:
    """A dependency that admits keys with ``scope`` (or ``admin``); None: any valid key."""
    return KeyCheck(scope)


def acting_key(scope: str) -> Any:
    """A dependency that admits keys with ``scope`` and gives the route the
    actor name the check set (``key:<name>``), for services told who acts:

        Actor = Annotated[str, acting_key("report")]
    """

    # The check as a default, not in the annotation: annotations are strings
    # here, and FastAPI resolves them in the module, where ``scope`` is unknown.
    async def actor(_key: KeyInfo | None = Depends(require(scope))) -> str:
        return current_actor().name

    return Depends(actor)


def require_hma(scope: str | None) -> KeyCheck:
    """As :func:`require`, but keyless loopback requests pass when ``hma_without_key`` is on."""
    return KeyCheck(scope, keyless_loopback=True)
