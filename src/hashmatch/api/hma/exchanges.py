"""HMA's exchange routes under ``/c``: ``/c/exchanges``, ``/c/exchange/<name>``
(and its ``/status``), ``/c/exchanges/apis`` and ``/c/exchanges/api/<name>``,
in HMA 2.0's shapes (docs/research/hma-2.0-api.md, section 5).

Where hashmatch differs on purpose (docs/hma.md): credentials are never
taken through the API (``POST /c/exchanges/api/<name>`` with
``credential_json`` is refused: name an environment variable with the CLI),
``PUT /c/exchange/<name>`` answers the exchange as JSON (HMA's body is
garbled), and the API names are HMA's (``fb_threatexchange``, ``ncmec``,
``stop_ncii``) where the type has one, else hashmatch's own.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from hashmatch.api.auth import require_hma
from hashmatch.api.errors import ApiError
from hashmatch.api.hma.shapes import bad_request, json_body
from hashmatch.api.responses import KEYED, hma_error_responses
from hashmatch.api.routing import GuardedRoute
from hashmatch.banks import Banks
from hashmatch.errors import HashmatchError, UnknownBankError, UnknownExchangeError
from hashmatch.exchange import ExchangeInfo, Exchanges, ExchangeSource, source_types, statuses

router = APIRouter(
    prefix="/c",
    tags=["hma"],
    dependencies=[Depends(require_hma("curate"))],
    route_class=GuardedRoute,
    responses=hma_error_responses(*KEYED, 422),
)
EXPECTS_OBJECT = "this endpoint expects a json object payload"
OBJECT = json_body(required=False, not_an_object=EXPECTS_OBJECT)
_BANK = re.compile(r"^[A-Z0-9_]+$")


def api_name(cls: type[ExchangeSource]) -> str:
    return cls.hma_name or cls.name


def _api(name: str) -> type[ExchangeSource] | None:
    return next((cls for cls in source_types().values() if api_name(cls) == name), None)


def _exchanges(request: Request) -> Exchanges:
    return Exchanges(request.app.state.service.database)


def _exchange(request: Request, name: str) -> ExchangeInfo:
    try:
        return _exchanges(request).get(name)
    except UnknownExchangeError:
        raise ApiError(404, "unknown_exchange", f"Exchange '{name}' not found") from None


def _config(info: ExchangeInfo) -> dict[str, Any]:
    cls = source_types().get(info.source_type)
    return {
        "name": info.name,
        "api": api_name(cls) if cls is not None else info.source_type,
        "enabled": info.enabled,
    }


@router.get("/exchanges/apis", summary="List exchange APIs (HMA 2.0)")
def list_apis() -> list[str]:
    return sorted(api_name(cls) for cls in source_types().values())


def _credentials_state(api: str) -> dict[str, bool]:
    cls = _api(api)
    if cls is None:
        raise bad_request(f"no such Exchange API '{api}'")
    return {"has_set_authentification": False, "supports_authentification": cls.needs_credentials()}


@router.get("/exchanges/api/{api}", summary="An exchange API's credentials state (HMA 2.0)")
def api_credentials(api: str) -> dict[str, bool]:
    return _credentials_state(api)


@router.post("/exchanges/api/{api}", summary="Set an exchange API's credentials (HMA 2.0)")
def set_api_credentials(api: str, body: dict[str, Any] = Depends(OBJECT)) -> dict[str, bool]:
    state = _credentials_state(api)
    if body.get("credential_json"):
        raise bad_request(
            "hashmatch does not take exchange credentials through the API: name an "
            "environment variable or file with `hashmatch exchange set --credentials-env`"
        )
    return state


@router.get(
    "/exchanges/api/{api}/schema",
    summary="An exchange API's options (HMA 2.0)",
    responses=hma_error_responses(404),
)
def api_schema(api: str) -> dict[str, Any]:
    cls = _api(api)
    if cls is None:
        raise ApiError(404, "unknown_api", f"Exchange API '{api}' not found")
    fields = [
        {
            "name": option.name,
            "type": "str",
            "required": option.required,
            "default": option.default,
            "help": option.help,
            "choices": None,
        }
        for option in cls.options
    ]
    credentials = (
        {
            "fields": [
                {
                    "name": "credentials",
                    "type": "str",
                    "required": True,
                    "default": None,
                    "help": cls.credentials_help,
                    "choices": None,
                }
            ]
        }
        if cls.needs_credentials()
        else None
    )
    return {"config_schema": {"fields": fields}, "credentials_schema": credentials}


@router.get("/exchanges", summary="List exchanges (HMA 2.0)")
def list_exchanges(request: Request) -> list[str]:
    return [info.name for info in _exchanges(request).all()]


@router.post("/exchanges", summary="Create an exchange and its bank (HMA 2.0)", status_code=201)
def create_exchange(request: Request, body: dict[str, Any] = Depends(OBJECT)) -> dict[str, str]:
    bank = body.get("bank")
    if not bank:
        raise bad_request("bank is required")
    if not isinstance(bank, str) or not _BANK.match(bank):
        raise bad_request("Field `bank` must match /^[A-Z0-9_]+$/")
    api_json = body.get("api_json", {})
    if not isinstance(api_json, dict):
        raise bad_request("Field `api_json` must be object")
    api = body.get("api")
    if not api:
        raise bad_request("Field `api_type` is required")
    cls = _api(str(api))
    if cls is None:
        raise bad_request(f"No such exchange type '{api}'")
    options = {str(key): str(value) for key, value in api_json.items()}
    banks = Banks(request.app.state.service.database)
    try:
        banks.get(bank)
    except UnknownBankError:
        banks.create(bank)
    try:
        _exchanges(request).create(bank, cls.name, bank=bank, options=options)
    except HashmatchError as error:
        raise bad_request(f"Failed to parse `api_json` - {error}") from None
    return {"message": "Created successfully"}


@router.get(
    "/exchange/{name}", summary="Show an exchange (HMA 2.0)", responses=hma_error_responses(404)
)
def show_exchange(request: Request, name: str) -> dict[str, Any]:
    return _config(_exchange(request, name))


class ExchangeUpdateRequest(BaseModel):
    enabled: bool


@router.put(
    "/exchange/{name}",
    summary="Switch an exchange on or off (HMA 2.0)",
    responses=hma_error_responses(404),
)
def update_exchange(request: Request, name: str, body: ExchangeUpdateRequest) -> dict[str, Any]:
    _exchange(request, name)
    return _config(_exchanges(request).update(name, enabled=body.enabled))


@router.delete("/exchange/{name}", summary="Delete an exchange (HMA 2.0)")
def delete_exchange(request: Request, name: str) -> dict[str, str]:
    with contextlib.suppress(UnknownExchangeError):  # HMA's answer either way
        _exchanges(request).delete(name)
    return {"message": "Exchange deleted"}


@router.get(
    "/exchange/{name}/status",
    summary="An exchange's fetch status (HMA 2.0)",
    responses=hma_error_responses(404),
)
def exchange_status(request: Request, name: str) -> dict[str, Any]:
    _exchange(request, name)
    [status] = statuses(request.app.state.service.database, name, with_opinions=False)
    return status.to_hma_json()
