"""API keys on every route but liveness: 401 without a valid key, 403 without
the scope, 429 over the key's rate limit.

The HMA-compatible routes take the same keys; with the setting
``hma_without_key`` they also admit requests without one, but only from a
loopback address (and the server refuses that setting on any other address).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hashmatch.api.errors import ApiError
from hashmatch.api.service import Service
from hashmatch.apikeys import KeyInfo
from hashmatch.settings import is_loopback

bearer = HTTPBearer(auto_error=False, description="An API key from `hashmatch keys create`.")


def _checked_key(
    request: Request, credentials: HTTPAuthorizationCredentials | None, scope: str | None
) -> KeyInfo:
    if credentials is None:
        raise ApiError(401, "unauthorized", "an API key is required: Authorization: Bearer <key>")
    service: Service = request.app.state.service
    info = service.keys.authenticate(credentials.credentials)
    if info is None:
        raise ApiError(401, "unauthorized", "the API key is not valid or was revoked")
    if scope is not None and not info.allows(scope):
        raise ApiError(403, "forbidden", f"this API key does not have the {scope!r} scope")
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


def require(scope: str | None) -> Callable[..., Awaitable[KeyInfo]]:
    """A dependency that admits keys with ``scope`` (or ``admin``); None: any valid key."""

    # async: FastAPI would run a plain function in a thread, which costs more
    # than the check (a cached digest lookup).
    async def check(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> KeyInfo:
        return _checked_key(request, credentials, scope)

    return check


def require_hma(scope: str) -> Callable[..., Awaitable[KeyInfo | None]]:
    """As :func:`require`, but keyless loopback requests pass when ``hma_without_key`` is on."""

    async def check(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> KeyInfo | None:
        service: Service = request.app.state.service
        client = request.client.host if request.client else ""
        if credentials is None and service.settings.hma_without_key and is_loopback(client):
            return None
        return _checked_key(request, credentials, scope)

    return check
