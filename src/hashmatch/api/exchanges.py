"""Exchanges under ``/v1``: configure them, see their status, fetch one now,
see the opinions sent back to them and retry the failed ones.

Every route needs the ``curate`` scope.  Credentials are never sent here:
an exchange names where they are.  Through the API that can only be an
environment variable whose name starts with ``HASHMATCH_EXCHANGE_`` (so a
key cannot have the server send, say, its database password to an address
of its choosing); other variables and files are named with the CLI, on the
server's own machine.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from hashmatch.api.auth import require
from hashmatch.api.responses import KEYED, error_responses
from hashmatch.api.routing import GuardedRoute
from hashmatch.errors import InvalidFieldError
from hashmatch.exchange import Exchanges, Fetcher, statuses
from hashmatch.exchange.catalog import DEFAULT_INTERVAL, types_json
from hashmatch.exchange.opinions import OpinionSender, list_opinions
from hashmatch.media.download import UrlPolicy

#: The only environment variables the API may name as an exchange's credentials.
API_CREDENTIALS_PREFIX = "HASHMATCH_EXCHANGE_"

router = APIRouter(
    prefix="/v1",
    dependencies=[Depends(require("curate"))],
    tags=["exchanges"],
    route_class=GuardedRoute,
    responses=error_responses(*KEYED, 422),
)

Options = Annotated[dict[str, Annotated[str, Field(max_length=2000)]], Field(max_length=50)]


class ExchangeCreate(BaseModel):
    name: str = Field(..., max_length=100)
    type: str = Field(
        ..., max_length=32, description="ncmec, stopncii, threatexchange, file, url, hashmatch, ..."
    )
    bank: str = Field(..., max_length=100)
    options: Options = {}
    credentials_env: str | None = Field(
        None,
        max_length=200,
        description=f"An environment variable named {API_CREDENTIALS_PREFIX}*.",
    )
    enabled: bool = True
    interval_seconds: int = Field(DEFAULT_INTERVAL, ge=1)


class ExchangeUpdate(BaseModel):
    enabled: bool | None = None
    options: Options | None = Field(None, description="Merged; an empty value removes one.")
    credentials_env: str | None = Field(None, max_length=200)
    interval_seconds: int | None = Field(None, ge=1)


# -- response shapes -------------------------------------------------------------


class ExchangeOut(BaseModel):
    name: str
    type: str
    bank: str
    options: dict[str, str]
    credentials_env: str | None
    credentials_file: str | None
    enabled: bool
    interval_seconds: int
    created_at: str


class ExchangeList(BaseModel):
    exchanges: list[ExchangeOut]


class OptionOut(BaseModel):
    name: str
    help: str
    default: str | None
    required: bool


class ExchangeType(BaseModel):
    type: str
    description: str
    credentials: str | None = Field(description="What the credentials are; null: none needed.")
    options: list[OptionOut]
    takes_opinions: bool = Field(description="Whether reviewers' verdicts are sent back to it.")


class ExchangeTypeList(BaseModel):
    types: list[ExchangeType]


class OpinionCounts(BaseModel):
    """Opinions sent back to the exchange, by status."""

    pending: int
    sent: int
    failed: int
    not_sent: int
    withdrawn: int
    last_error: str | None = Field(description="Why the latest pending or failed one failed.")


class ExchangeStatusOut(BaseModel):
    name: str
    enabled: bool
    interval_seconds: int
    checkpoint: dict[str, Any] | None
    leased_by: str | None
    leased_until: str | None
    run_started_at: str | None
    run_finished_at: str | None
    running: bool
    succeeded: bool | None
    up_to_date: bool
    error: str | None
    counts: dict[str, int]
    malformed_samples: list[dict[str, str]]
    fetched_total: int
    opinions: OpinionCounts


class OpinionOut(BaseModel):
    id: int
    review_item_id: int | None = Field(description="The decided item (None for reported).")
    report_id: int | None = Field(description="The filed CyberTipline report (reported only).")
    bank: str
    content_id: int
    external_id: str | None
    opinion: str = Field(
        description="positive (confirmed), negative (a false positive) or reported "
        "(a match reported to the CyberTipline; TAXII exchanges only)."
    )
    signal_types: list[str]
    status: str = Field(description="pending, sent, failed, not_sent or withdrawn.")
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    created_at: str
    sent_at: str | None


class OpinionList(BaseModel):
    opinions: list[OpinionOut]


class OpinionsRetried(BaseModel):
    exchange: str
    retried: int


class FetchResultOut(BaseModel):
    exchange: str
    succeeded: bool
    up_to_date: bool
    counts: dict[str, int]
    error: str | None
    stopped: str | None = Field(description="max_records or max_seconds when a run stopped early.")


class ExchangeDeleted(BaseModel):
    deleted: str


def _exchanges(request: Request) -> Exchanges:
    return Exchanges(request.app.state.service.database)


def _credentials_env(name: str | None) -> str | None:
    if name and not name.startswith(API_CREDENTIALS_PREFIX):
        raise InvalidFieldError(
            f"through the API, credentials_env must name a variable starting with "
            f"{API_CREDENTIALS_PREFIX}; use the CLI for others"
        )
    return name


@router.get(
    "/exchange-types", summary="List the installed exchange types", response_model=ExchangeTypeList
)
def list_types() -> dict[str, Any]:
    return {"types": types_json()}


@router.get("/exchanges", summary="List exchanges", response_model=ExchangeList)
def list_exchanges(request: Request) -> dict[str, Any]:
    return {"exchanges": [info.to_json() for info in _exchanges(request).all()]}


@router.post(
    "/exchanges",
    summary="Add an exchange",
    status_code=201,
    response_model=ExchangeOut,
    responses=error_responses(404, 409),
)
def create_exchange(request: Request, body: ExchangeCreate) -> dict[str, Any]:
    info = _exchanges(request).create(
        body.name,
        body.type,
        bank=body.bank,
        options=body.options,
        credentials_env=_credentials_env(body.credentials_env),
        enabled=body.enabled,
        interval_seconds=body.interval_seconds,
    )
    return info.to_json()


@router.get(
    "/exchanges/{name}",
    summary="Show an exchange",
    response_model=ExchangeOut,
    responses=error_responses(404),
)
def show_exchange(request: Request, name: str) -> dict[str, Any]:
    return _exchanges(request).get(name).to_json()


@router.patch(
    "/exchanges/{name}",
    summary="Change an exchange",
    response_model=ExchangeOut,
    responses=error_responses(404),
)
def update_exchange(request: Request, name: str, body: ExchangeUpdate) -> dict[str, Any]:
    info = _exchanges(request).update(
        name,
        enabled=body.enabled,
        options=body.options,
        credentials_env=_credentials_env(body.credentials_env),
        interval_seconds=body.interval_seconds,
    )
    return info.to_json()


@router.delete(
    "/exchanges/{name}",
    summary="Forget an exchange",
    response_model=ExchangeDeleted,
    responses=error_responses(404),
)
def delete_exchange(request: Request, name: str) -> dict[str, str]:
    _exchanges(request).delete(name)
    return {"deleted": name}


@router.get(
    "/exchanges/{name}/status",
    summary="Where an exchange's fetching stands",
    response_model=ExchangeStatusOut,
    responses=error_responses(404),
)
def exchange_status(request: Request, name: str) -> dict[str, Any]:
    [status] = statuses(request.app.state.service.database, name)
    return status.to_json()


@router.post(
    "/exchanges/{name}/fetch",
    summary="Fetch an exchange now (one bounded run)",
    response_model=FetchResultOut,
    responses=error_responses(404, 409),
)
def fetch_exchange(request: Request, name: str) -> dict[str, Any]:
    service = request.app.state.service
    fetcher = Fetcher(service.database, UrlPolicy.from_settings(service.settings))
    result = fetcher.fetch(name)
    service.refresh_soon()
    return result.to_json()


@router.get(
    "/exchanges/{name}/opinions",
    summary="Reviewers' opinions sent back to an exchange (newest first)",
    response_model=OpinionList,
    responses=error_responses(400, 404),
)
def exchange_opinions(
    request: Request,
    name: str,
    status: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    database = request.app.state.service.database
    return {"opinions": list_opinions(database, name, status=status, limit=limit)}


@router.post(
    "/exchanges/{name}/opinions/retry",
    summary="Send an exchange's failed opinions again",
    response_model=OpinionsRetried,
    responses=error_responses(404),
)
def retry_exchange_opinions(request: Request, name: str) -> dict[str, Any]:
    service = request.app.state.service
    sender = OpinionSender.from_settings(service.database, service.settings)
    return {"exchange": name, "retried": sender.retry_failed(name)}
