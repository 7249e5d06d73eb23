"""The error responses each route documents in the OpenAPI document.

    router = APIRouter(prefix="/v1", responses=error_responses(*KEYED, 422))
    @router.get("/banks/{name}", responses=error_responses(404))

Bodies are the shapes api/errors.py writes: ``{"error": {"code", "message", "request_id"}}``
under ``/v1`` and ``/status``, HMA's ``{"message"}`` (and, for a 422, pydantic's
list) on the HMA-compatible routes.  The documented statuses are the ones the
route gives, so a client generated from the document (or schemathesis'
conformance checks) meets no undocumented response.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

WHY = {
    400: "A request that cannot be done as asked; the message says why.",
    401: "No API key, or one that is not valid or was revoked.",
    403: "The API key lacks the scope this route needs.",
    404: "No bank or content by that name or id.",
    409: "A bank by that name already exists.",
    413: "Over a size limit: the request body, an upload, a download or a batch.",
    415: "The body is not JSON (Content-Type application/json).",
    422: "Parameters or body that do not fit the route.",
    429: "The API key is over its rate limit; Retry-After says when to try again.",
    503: "The index is loading, or cannot follow the change log.",
}

#: Headers of the responses that carry them.
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    429: {
        "Retry-After": {
            "description": "Seconds until the key may make a request again.",
            "schema": {"type": "integer"},
        }
    },
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    request_id: str = Field(description="The request's id, as in X-Request-ID and the log.")


class ErrorBody(BaseModel):
    """hashmatch's error shape."""

    error: ErrorDetail


class HmaError(BaseModel):
    """HMA's error shape."""

    message: str


class HmaInvalidItem(BaseModel):
    """One problem in HMA's 422 (pydantic's own list, locations without "query" or "body")."""

    type: str
    loc: list[str | int]
    msg: str
    input: Any = Field(description="What was given (for a missing field, all that was).")
    ctx: dict[str, Any] | None = Field(None, description="The rule's parameters, if it has any.")
    url: str | None = Field(None, description="pydantic's page on this kind of error.")


def _documented(statuses: tuple[int, ...], body: Any, invalid: Any) -> dict[int | str, Any]:
    documented: dict[int | str, Any] = {}
    for status in statuses:
        documented[status] = {
            "description": WHY[status],
            "model": invalid if status == 422 else body,
        }
        if status in _HEADERS:
            documented[status]["headers"] = _HEADERS[status]
    return documented


def error_responses(*statuses: int) -> dict[int | str, Any]:
    """The ``responses`` of a hashmatch route that answers these error statuses."""
    return _documented(statuses, ErrorBody, ErrorBody)


def hma_error_responses(*statuses: int) -> dict[int | str, Any]:
    """As :func:`error_responses`, for an HMA-compatible route."""
    return _documented(statuses, HmaError, list[HmaInvalidItem])


def plain_text(description: str) -> dict[int | str, Any]:
    """The ``responses`` entry of a route that answers 200 with plain text.

    Give it with ``response_class=Response`` (which has no media type of its
    own): FastAPI documents a route's error models under its response
    class's media type, and errors are JSON whatever the route answers."""
    return {
        200: {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}
    }


#: What every route behind an API key may answer (400: a NUL in the path or
#: query); routes with parameters add 422.
KEYED = (400, 401, 403, 429)
