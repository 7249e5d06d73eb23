"""What every route checks before it reads the request body.

    router = APIRouter(prefix="/v1", route_class=GuardedRoute)

FastAPI reads and parses a route's body (a JSON document, a multipart upload)
before it resolves the route's dependencies, so a key check written as a
dependency alone comes after the work it should spare: a request without a
key could have its 50 MB body parsed, or get a 422 for malformed JSON, before
its 401.  A GuardedRoute first runs every :class:`~hashmatch.api.auth.KeyCheck`
among its dependencies, then refuses NUL characters in the path and query
(no database stores them), and only then hands the request to FastAPI.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from hashmatch.api.auth import KeyCheck, bearer
from hashmatch.api.errors import ApiError


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def _refuse_nul(request: Request) -> None:
    if "\x00" in request.scope["path"] or b"%00" in request.scope["query_string"]:
        raise ApiError(400, "bad_request", "NUL characters are not allowed in paths or queries")


class GuardedRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        checks = [call for call in _calls(self.dependant) if isinstance(call, KeyCheck)]

        async def guarded(request: Request) -> Response:
            credentials = await bearer(request)
            for check in checks:
                await check.admit(request, credentials)
            _refuse_nul(request)
            return await handler(request)

        return guarded
