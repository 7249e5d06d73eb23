"""Every error becomes a JSON response here, and only here.

Shape: ``{"error": {"code": "<machine-readable>", "message": "<for people>"}}``;
on the HMA-compatible routes (``/h``, ``/m``, ``/c``) it is HMA's own
``{"message": "..."}``, and its request validation errors are pydantic's
list, as HMA sends them.  Library errors map to 4xx by type; anything
unexpected is a 500 whose body says nothing about the internals (the
traceback goes to the server log).  A 405 names the methods the path takes
(``Allow``).  api/responses.py documents these shapes in the OpenAPI document.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from hashmatch.errors import (
    ApiKeyError,
    BankError,
    BankExistsError,
    DownloadTooLargeError,
    FetchError,
    FileTooLargeError,
    HashmatchError,
    ImageTooLargeError,
    ImportFormatError,
    InvalidFieldError,
    InvalidHashError,
    MediaError,
    UnknownBankError,
    UnknownContentError,
    UnknownSignalTypeError,
    UrlNotAllowedError,
)

log = logging.getLogger("hashmatch.api")


class ApiError(Exception):
    """An error the API raises itself, with its status and code."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


# Most specific first.
_BY_TYPE: list[tuple[type[HashmatchError], int, str]] = [
    (UnknownBankError, 404, "unknown_bank"),
    (UnknownContentError, 404, "unknown_content"),
    (BankExistsError, 409, "bank_exists"),
    (ImportFormatError, 400, "invalid_list"),
    (BankError, 400, "bad_bank_request"),
    (InvalidHashError, 400, "invalid_hash"),
    (InvalidFieldError, 400, "invalid_field"),
    (UnknownSignalTypeError, 400, "unknown_signal_type"),
    (UrlNotAllowedError, 400, "url_not_allowed"),
    (DownloadTooLargeError, 413, "download_too_large"),
    (FetchError, 400, "fetch_failed"),
    (FileTooLargeError, 413, "file_too_large"),
    (ImageTooLargeError, 413, "image_too_large"),
    (MediaError, 400, "bad_media"),
    (ApiKeyError, 400, "bad_api_key_request"),
    (HashmatchError, 400, "bad_request"),
]


#: Route prefixes of the HMA 2.0-compatible API, which answers in HMA's error shape.
HMA_PREFIXES = ("/h/", "/m/", "/c/")


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def _is_hma(request: Request) -> bool:
    return request.url.path.startswith(HMA_PREFIXES)


def _printable(text: str) -> str:
    """``text`` without lone surrogates (from JSON escapes), which no UTF-8 body can carry."""
    return text.encode("utf-8", "replace").decode("utf-8")


def error_response(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    message = _printable(message)
    body: dict[str, Any] = {"message": message} if _is_hma(request) else error_body(code, message)
    return JSONResponse(body, status, headers=headers)


#: The methods a 405's ``Allow`` may name.
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed(request: Request) -> str:
    """The methods some route takes at the request's path."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    return ", ".join(allowed)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        headers = dict(error.headers or {})
        if error.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return error_response(request, error.status, error.code, error.message, headers)

    @app.exception_handler(HashmatchError)
    async def _library_error(request: Request, error: HashmatchError) -> JSONResponse:
        for kind, status, code in _BY_TYPE:
            if isinstance(error, kind):
                return error_response(request, status, code, str(error))
        raise error  # unreachable: HashmatchError is in the table

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        if _is_hma(request):
            # HMA (flask-openapi3) answers with pydantic's own list, locations
            # without the "query"/"body" part.
            items = [
                {
                    "type": item["type"],
                    "loc": [
                        part if isinstance(part, int) else _printable(str(part))
                        for part in item["loc"][1:]
                    ],
                    "msg": _printable(item["msg"]),
                }
                for item in error.errors()
            ]
            return JSONResponse(jsonable_encoder(items), 422)
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()
        )
        return error_response(request, 422, "invalid_request", problems)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, error: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = _allowed(request)
        return error_response(request, error.status_code, code, str(error.detail), headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "internal", "internal server error")
