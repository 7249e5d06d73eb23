"""Every error becomes a JSON response here, and only here.

Shape: ``{"error": {"code": "<machine-readable>", "message": "<for people>",
"request_id": "<as in the log>"}}``; on the HMA-compatible routes (``/h``,
``/m``, ``/c``) it is HMA's own ``{"message": "..."}``, and its request
validation errors are pydantic's list, as HMA sends them (there the request
id is in the ``X-Request-ID`` header only, as on every response); on the
hub's TAXII routes (``/taxii2/``) it is TAXII 2.1's error message.  Library
errors map to 4xx by type; anything unexpected is a 500 whose body says
nothing about the internals (the traceback goes to the server log).  A 405
names the methods the path takes (``Allow``).  api/responses.py documents
these shapes in the OpenAPI document.
"""

from __future__ import annotations

import logging
import math
from typing import Any, get_args

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic.version import version_short
from pydantic_core.core_schema import ErrorType
from starlette.exceptions import HTTPException
from starlette.routing import Match

from hashmatch.api.access_log import HEADER, request_id
from hashmatch.errors import (
    ApiKeyError,
    AppealConflictError,
    AppealError,
    BankError,
    BankExistsError,
    CanonicalJsonError,
    CollectionAccessError,
    CollectionError,
    CybertipError,
    DownloadTooLargeError,
    EvidenceError,
    ExchangeBusyError,
    ExchangeError,
    ExchangeExistsError,
    FetchError,
    FileTooLargeError,
    HashmatchError,
    HubKeyError,
    ImageTooLargeError,
    ImportFormatError,
    InvalidFieldError,
    InvalidHashError,
    MediaError,
    MembershipAccessError,
    MembershipConflictError,
    MembershipError,
    NoIdentifierKeyError,
    PlatformUserError,
    ReportConflictError,
    ReportingError,
    RevealCapError,
    ReviewAccessError,
    ReviewConflictError,
    ReviewError,
    RuleError,
    RuleExistsError,
    SignatureError,
    StatementError,
    StixError,
    SubmissionError,
    TransparencyError,
    UnknownAppealError,
    UnknownApplicationError,
    UnknownBankError,
    UnknownCollectionError,
    UnknownContentError,
    UnknownDeliveryError,
    UnknownEvidenceError,
    UnknownExchangeError,
    UnknownHoldError,
    UnknownHubObjectError,
    UnknownMemberError,
    UnknownMemberKeyError,
    UnknownPlatformUserError,
    UnknownReportError,
    UnknownReviewItemError,
    UnknownRuleError,
    UnknownSignalTypeError,
    UnknownStatementError,
    UnknownSubmissionError,
    UnknownWebhookError,
    UrlNotAllowedError,
    WebhookError,
    WebhookExistsError,
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
    (UnknownRuleError, 404, "unknown_rule"),
    (RuleExistsError, 409, "rule_exists"),
    (RuleError, 400, "invalid_rule"),
    (UnknownWebhookError, 404, "unknown_webhook"),
    (WebhookExistsError, 409, "webhook_exists"),
    (UnknownDeliveryError, 404, "unknown_delivery"),
    (WebhookError, 400, "bad_webhook_request"),
    (UnknownSubmissionError, 404, "unknown_submission"),
    (SubmissionError, 400, "invalid_submission"),
    (UnknownAppealError, 404, "unknown_appeal"),
    (AppealConflictError, 409, "appeal_conflict"),
    (AppealError, 400, "invalid_appeal"),
    (UnknownReviewItemError, 404, "unknown_review_item"),
    (ReviewConflictError, 409, "review_conflict"),
    (ReviewAccessError, 403, "queue_not_allowed"),
    (RevealCapError, 429, "reveal_cap_reached"),
    (ReviewError, 400, "invalid_review"),
    (UnknownStatementError, 404, "unknown_statement"),
    (StatementError, 409, "statement_conflict"),
    (UnknownReportError, 404, "unknown_report"),
    (ReportConflictError, 409, "report_conflict"),
    (CybertipError, 502, "cybertip_error"),
    (ReportingError, 400, "invalid_report"),
    (UnknownEvidenceError, 404, "unknown_evidence"),
    (UnknownHoldError, 404, "unknown_hold"),
    (EvidenceError, 400, "evidence_error"),
    (TransparencyError, 400, "invalid_period"),
    (UnknownPlatformUserError, 404, "unknown_platform_user"),
    (PlatformUserError, 400, "invalid_history_request"),
    (UnknownExchangeError, 404, "unknown_exchange"),
    (ExchangeExistsError, 409, "exchange_exists"),
    (ExchangeBusyError, 409, "exchange_busy"),
    (ExchangeError, 400, "exchange_error"),
    (UnknownApplicationError, 404, "unknown_application"),
    (UnknownMemberError, 404, "unknown_member"),
    (UnknownMemberKeyError, 404, "unknown_member_key"),
    (MembershipConflictError, 409, "membership_conflict"),
    (MembershipAccessError, 403, "membership_inactive"),
    (MembershipError, 400, "invalid_membership_request"),
    (UnknownCollectionError, 404, "unknown_collection"),
    (UnknownHubObjectError, 404, "unknown_object"),
    (CollectionAccessError, 403, "collection_not_allowed"),
    (CollectionError, 400, "invalid_collection_request"),
    (SignatureError, 422, "bad_signature"),
    (StixError, 400, "invalid_stix"),
    (NoIdentifierKeyError, 404, "no_identifier_key"),
    (HubKeyError, 400, "invalid_key"),
    (CanonicalJsonError, 400, "invalid_json"),
    (HashmatchError, 400, "bad_request"),
]


#: Route prefixes of the HMA 2.0-compatible API, which answers in HMA's error shape.
HMA_PREFIXES = ("/h/", "/m/", "/c/")


def error_body(code: str, message: str, request: str) -> dict[str, dict[str, str]]:
    """hashmatch's error shape; ``request`` is the request's id."""
    return {"error": {"code": code, "message": message, "request_id": request}}


#: The hub's TAXII 2.1 routes (api/taxii.py) answer in TAXII's error shape, in its media type.
TAXII_PREFIX = "/taxii2/"
TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"


def taxii_error_body(status: int, code: str, message: str, request: str) -> dict[str, str]:
    """TAXII 2.1's error message (section 3.6.1): title, description, http_status."""
    return {
        "title": code.replace("_", " "),
        "description": message,
        "error_code": code,
        "error_id": request,
        "http_status": str(status),
    }


def _is_hma(request: Request) -> bool:
    return request.url.path.startswith(HMA_PREFIXES)


def _printable(text: str) -> str:
    """``text`` without lone surrogates (from JSON escapes), which no UTF-8 body can carry."""
    return text.encode("utf-8", "replace").decode("utf-8")


def error_response(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    message = _printable(message)
    given = request_id(request.scope)
    if request.url.path.startswith(TAXII_PREFIX):
        return JSONResponse(
            taxii_error_body(status, code, message, given),
            status,
            headers={**(headers or {}), HEADER: given},
            media_type=TAXII_MEDIA_TYPE,
        )
    body: dict[str, Any] = (
        {"message": message} if _is_hma(request) else error_body(code, message, given)
    )
    # Set here too: a 500 is answered outside the middleware that adds it.
    return JSONResponse(body, status, headers={**(headers or {}), HEADER: given})


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


#: pydantic's own error types: those have a page at errors.pydantic.dev.
_PYDANTIC_TYPES = frozenset(get_args(ErrorType))


def _hma_invalid(request: Request, item: Any) -> dict[str, Any]:
    """One problem as HMA (flask-openapi3) lists it: pydantic's error with its
    ``input``, ``ctx`` and ``url``, the location without "query" or "body",
    and for a missing field the whole query or body as the input (HMA
    validates them as one model)."""
    where, loc = item["loc"][:1], item["loc"][1:]
    given = item.get("input")
    if item["type"] == "missing" and where == ("query",):
        given = dict(request.query_params)
    invalid: dict[str, Any] = {
        "type": item["type"],
        "loc": [part if isinstance(part, int) else _printable(str(part)) for part in loc],
        "msg": _printable(item["msg"]),
        "input": _json_safe(given),
    }
    if "ctx" in item:
        invalid["ctx"] = _json_safe(item["ctx"])
    if item["type"] in _PYDANTIC_TYPES:
        invalid["url"] = f"https://errors.pydantic.dev/{version_short()}/v/{item['type']}"
    return invalid


def _json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON a UTF-8 body can carry: text without lone surrogates,
    finite numbers, anything else (an exception in ``ctx``) as its text, and
    nothing past 32 levels (an input nested deeper is cut off there)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str | bytes):
        text = value if isinstance(value, str) else value.decode("utf-8", "replace")
        return _printable(text)
    if depth >= 32:
        return None
    if isinstance(value, dict):
        return {_printable(str(key)): _json_safe(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item, depth + 1) for item in value]
    return _printable(str(value))


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
            return JSONResponse([_hma_invalid(request, item) for item in error.errors()], 422)
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
        log.exception(
            "unhandled error on %s %s (request_id=%s)",
            request.method,
            request.url.path,
            request_id(request.scope),
        )
        return error_response(request, 500, "internal", "internal server error")
