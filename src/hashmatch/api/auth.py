"""API keys on every route but liveness: 401 without a valid key, 403 without the scope."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hashmatch.api.errors import ApiError
from hashmatch.apikeys import KeyInfo

bearer = HTTPBearer(auto_error=False, description="An API key from `hashmatch keys create`.")


def require(scope: str | None) -> Callable[..., KeyInfo]:
    """A dependency that admits keys with ``scope`` (or ``admin``); None: any valid key."""

    def check(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> KeyInfo:
        if credentials is None:
            raise ApiError(
                401, "unauthorized", "an API key is required: Authorization: Bearer <key>"
            )
        info: KeyInfo | None = request.app.state.service.keys.authenticate(credentials.credentials)
        if info is None:
            raise ApiError(401, "unauthorized", "the API key is not valid or was revoked")
        if scope is not None and not info.allows(scope):
            raise ApiError(403, "forbidden", f"this API key does not have the {scope!r} scope")
        return info

    return check
