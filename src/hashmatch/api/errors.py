"""Every error becomes a JSON response here, and only here.

Shape: ``{"error": {"code": "<machine-readable>", "message": "<for people>"}}``.
Library errors map to 4xx by type; anything unexpected is a 500 whose body
says nothing about the internals (the traceback goes to the server log).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from hashmatch.errors import (
    ApiKeyError,
    BankError,
    BankExistsError,
    FileTooLargeError,
    HashmatchError,
    ImageTooLargeError,
    ImportFormatError,
    InvalidHashError,
    MediaError,
    UnknownBankError,
    UnknownSignalTypeError,
)

log = logging.getLogger("hashmatch.api")


class ApiError(Exception):
    """An error the API raises itself, with its status and code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# Most specific first.
_BY_TYPE: list[tuple[type[HashmatchError], int, str]] = [
    (UnknownBankError, 404, "unknown_bank"),
    (BankExistsError, 409, "bank_exists"),
    (ImportFormatError, 400, "invalid_list"),
    (BankError, 400, "bad_bank_request"),
    (InvalidHashError, 400, "invalid_hash"),
    (UnknownSignalTypeError, 400, "unknown_signal_type"),
    (FileTooLargeError, 413, "file_too_large"),
    (ImageTooLargeError, 413, "image_too_large"),
    (MediaError, 400, "bad_media"),
    (ApiKeyError, 400, "bad_api_key_request"),
    (HashmatchError, 400, "bad_request"),
]


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, error: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        return JSONResponse(error_body(error.code, error.message), error.status, headers=headers)

    @app.exception_handler(HashmatchError)
    async def _library_error(_request: Request, error: HashmatchError) -> JSONResponse:
        for kind, status, code in _BY_TYPE:
            if isinstance(error, kind):
                return JSONResponse(error_body(code, str(error)), status)
        raise error  # unreachable: HashmatchError is in the table

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()
        )
        return JSONResponse(error_body("invalid_request", problems), 422)

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, error: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return JSONResponse(error_body(code, str(error.detail)), error.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal", "internal server error"), 500)
