"""Webhooks and their deliveries under ``/v1``: create, list, change, rotate
and delete webhooks; look at a webhook's deliveries and their attempts; send
delivered or dead-lettered ones again.

Every route needs the ``curate`` scope.  A webhook's signing secret is in the
answer to its creation and to a rotation, and nowhere else.  docs/webhooks.md
describes the deliveries.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from hashmatch.actions import outbox
from hashmatch.actions.webhook_store import MAX_URL_CHARS, Webhooks
from hashmatch.api.auth import require
from hashmatch.api.response_models import EXACT
from hashmatch.api.responses import KEYED, error_responses
from hashmatch.api.routing import GuardedRoute
from hashmatch.fieldlimits import MAX_ID

router = APIRouter(
    prefix="/v1",
    dependencies=[Depends(require("curate"))],
    tags=["webhooks"],
    route_class=GuardedRoute,
    responses=error_responses(*KEYED, 422),
)

EventType = Annotated[str, Field(max_length=64, description=", ".join(outbox.EVENT_TYPES))]
Url = Annotated[str, Field(max_length=MAX_URL_CHARS, description="http(s); no redirects followed.")]
DeliveryId = Annotated[int, Path(ge=0, le=MAX_ID)]


@EXACT
class Webhook(TypedDict):
    name: str
    url: str
    events: list[str]
    enabled: bool
    previous_secret_until: Annotated[
        str | None, Field(description="Until when the secret before the last rotation also signs.")
    ]
    created_at: str
    updated_at: str


@EXACT
class WebhookWithSecret(Webhook):
    secret: Annotated[str, Field(description="The signing secret: shown this once.")]


@EXACT
class WebhookList(TypedDict):
    webhooks: list[Webhook]


@EXACT
class WebhookDeleted(TypedDict):
    deleted: str


@EXACT
class Delivery(TypedDict):
    id: int
    webhook: str
    event_id: str
    event_type: str
    status: Annotated[str, Field(description="pending, delivered or dead.")]
    attempts: int
    next_attempt_at: Annotated[str | None, Field(description="When pending: the next try.")]
    last_status: Annotated[int | None, Field(description="The last answer's HTTP status.")]
    last_error: str | None
    created_at: str
    delivered_at: str | None


@EXACT
class Attempt(TypedDict):
    attempted_at: str
    status_code: int | None
    latency_ms: float
    error: str | None


@EXACT
class DeliveryWithLog(Delivery):
    log: Annotated[list[Attempt], Field(description="Every attempt kept, newest first.")]


@EXACT
class DeliveryPage(TypedDict):
    deliveries: Annotated[list[Delivery], Field(description="Newest first.")]
    next_before: Annotated[int | None, Field(description="Pass as before= for the next page.")]


@EXACT
class Redelivered(TypedDict):
    redelivered: list[int]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., max_length=100)
    url: Url
    events: list[EventType] = Field([], max_length=len(outbox.EVENT_TYPES) * 4)
    enabled: bool = True


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    events: list[EventType] | None = Field(None, max_length=len(outbox.EVENT_TYPES) * 4)
    enabled: bool | None = None


def _webhooks(request: Request) -> Webhooks:
    service = request.app.state.service
    return Webhooks(service.database, service.settings)


@router.get("/webhooks", summary="List webhooks", response_model=WebhookList)
def list_webhooks(request: Request) -> dict[str, Any]:
    return {"webhooks": [hook.to_json() for hook in _webhooks(request).all()]}


@router.post(
    "/webhooks",
    summary="Create a webhook (answers its secret, once)",
    status_code=201,
    response_model=WebhookWithSecret,
    responses=error_responses(400, 409),
)
def create_webhook(request: Request, body: WebhookCreate) -> dict[str, Any]:
    secret, hook = _webhooks(request).create(body.name, body.url, body.events, enabled=body.enabled)
    return {**hook.to_json(), "secret": secret}


@router.get(
    "/webhooks/{name}",
    summary="Show a webhook",
    response_model=Webhook,
    responses=error_responses(404),
)
def show_webhook(request: Request, name: str) -> dict[str, Any]:
    return _webhooks(request).get(name).to_json()


@router.patch(
    "/webhooks/{name}",
    summary="Change a webhook's URL, events or whether it is enabled",
    response_model=Webhook,
    responses=error_responses(400, 404),
)
def update_webhook(request: Request, name: str, body: WebhookUpdate) -> dict[str, Any]:
    return _webhooks(request).update(name, **body.model_dump(exclude_none=True)).to_json()


@router.delete(
    "/webhooks/{name}",
    summary="Delete a webhook and its deliveries",
    response_model=WebhookDeleted,
    responses=error_responses(404),
)
def delete_webhook(request: Request, name: str) -> dict[str, str]:
    _webhooks(request).delete(name)
    return {"deleted": name}


@router.post(
    "/webhooks/{name}/rotate",
    summary="Give a webhook a new secret (answers it, once)",
    response_model=WebhookWithSecret,
    responses=error_responses(404),
)
def rotate_secret(request: Request, name: str) -> dict[str, Any]:
    """The old secret keeps signing deliveries, beside the new one, for
    ``webhook_secret_grace_hours``."""
    secret, hook = _webhooks(request).rotate(name)
    return {**hook.to_json(), "secret": secret}


@router.get(
    "/webhooks/{name}/deliveries",
    summary="List a webhook's deliveries, a page at a time",
    response_model=DeliveryPage,
    responses=error_responses(404),
)
def list_deliveries(
    request: Request,
    name: str,
    status: str | None = Query(
        None, max_length=16, description=", ".join(outbox.DELIVERY_STATUSES)
    ),
    before: int | None = Query(None, ge=0, le=MAX_ID, description="Delivery ids below this one."),
    limit: int = Query(100, ge=1, le=1000, description="At most this many."),
) -> dict[str, Any]:
    page = _webhooks(request).deliveries(name, status=status, before=before, limit=limit)
    return {
        "deliveries": page,
        "next_before": page[-1]["id"] if len(page) == limit else None,
    }


@router.get(
    "/deliveries/{delivery_id}",
    summary="Show a delivery and its attempts",
    response_model=DeliveryWithLog,
    responses=error_responses(404),
)
def show_delivery(request: Request, delivery_id: DeliveryId) -> dict[str, Any]:
    return outbox.show_delivery(request.app.state.service.database, delivery_id)


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    summary="Send a delivered or dead delivery again",
    response_model=Redelivered,
    responses=error_responses(400, 404),
)
def redeliver(request: Request, delivery_id: DeliveryId) -> dict[str, Any]:
    """Back to pending with its attempts reset (a pending one is refused: 400)."""
    return {"redelivered": outbox.redeliver(request.app.state.service.database, [delivery_id])}
