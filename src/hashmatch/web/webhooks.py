"""The webhooks pages: list, create, change, rotate and delete webhooks; page
through a webhook's deliveries and send them again.

A webhook's signing secret is shown in the answer to its creation and to a
rotation (rendered in that POST's response, never carried by a redirect),
and nowhere else.  Deliveries are read a page at a time by id
(``id < before``), newest first, as the API's listing does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request, Response

from hashmatch.actions import outbox
from hashmatch.actions.webhook_store import WebhookInfo, Webhooks
from hashmatch.api.service import Service
from hashmatch.errors import WebhookError
from hashmatch.web.access import PageRoute, Viewer, page
from hashmatch.web.forms import FormState
from hashmatch.web.rendering import done, render

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

#: Deliveries shown per page.
PAGE_SIZE = 50
#: Dead deliveries sent again by one press of "Redeliver the dead ones".
REDELIVER_AT_ONCE = 1000


def _webhooks(request: Request) -> Webhooks:
    service: Service = request.app.state.service
    return Webhooks(service.database, service.settings)


def _field_of(message: str) -> str:
    """Which form field a library message is about."""
    lowered = message.lower()
    if "url" in lowered:
        return "url"
    if "event" in lowered:
        return "events"
    return "name"


def _readable(delivery: dict[str, Any]) -> dict[str, Any]:
    """A delivery as the API lists it, with its times as times (for ``|moment``)."""
    times = ("created_at", "next_attempt_at", "delivered_at")
    return {
        key: datetime.fromisoformat(value) if key in times and value else value
        for key, value in delivery.items()
    }


def _webhook_page(
    request: Request,
    viewer: Viewer,
    hook: WebhookInfo,
    *,
    status: str = "",
    before: int | None = None,
    secret: str = "",
    form: FormState | None = None,
    code: int = 200,
) -> Response:
    chosen = status if status in outbox.DELIVERY_STATUSES else None
    deliveries = _webhooks(request).deliveries(
        hook.name, status=chosen, before=before, limit=PAGE_SIZE
    )
    next_href = ""
    if len(deliveries) == PAGE_SIZE:
        query: dict[str, Any] = {"before": deliveries[-1]["id"]}
        if chosen:
            query["status"] = chosen
        next_href = f"/ui/webhooks/{hook.name}?{urlencode(query)}#deliveries"
    first_href = f"/ui/webhooks/{hook.name}" + (f"?status={chosen}" if chosen else "")
    if form is None:
        form = FormState(
            {
                "url": hook.url,
                "events": ",".join(hook.events),
                "enabled": "on" if hook.enabled else "",
            }
        )
    return render(
        request,
        "webhooks/show.html",
        viewer,
        status=code,
        hook=hook,
        deliveries=[_readable(delivery) for delivery in deliveries],
        chosen_status=chosen or "",
        statuses=outbox.DELIVERY_STATUSES,
        next_href=next_href,
        first_href=first_href if before is not None else "",
        secret=secret,
        form=form,
        event_types=outbox.EVENT_TYPES,
    )


@router.get("/webhooks")
def list_webhooks(request: Request, viewer: Viewer = Depends(page("read"))) -> Response:
    hooks = _webhooks(request).all()
    return render(request, "webhooks/list.html", viewer, hooks=hooks)


@router.get("/webhooks/new")
def new_webhook(request: Request, viewer: Viewer = Depends(page("curate"))) -> Response:
    form = FormState({"enabled": "on", "events": ",".join(outbox.EVENT_TYPES)})
    return render(request, "webhooks/new.html", viewer, form=form, event_types=outbox.EVENT_TYPES)


@router.post("/webhooks")
def create_webhook(
    request: Request,
    name: str = Form(""),
    url: str = Form(""),
    events: list[str] = Form([]),
    enabled: str = Form(""),
    viewer: Viewer = Depends(page("curate")),
) -> Response:
    form = FormState({"name": name, "url": url, "events": ",".join(events), "enabled": enabled})
    if not name.strip():
        form.errors["name"] = "A webhook needs a name."
    if not url.strip():
        form.errors["url"] = "Give the URL to POST events to (http or https)."
    if not events:
        form.errors["events"] = "Choose at least one event."
    if form.ok:
        try:
            secret, hook = _webhooks(request).create(
                name.strip(), url.strip(), events, enabled=enabled == "on"
            )
        except WebhookError as error:
            form.errors[_field_of(str(error))] = str(error)
        else:
            return render(
                request,
                "webhooks/secret.html",
                viewer,
                hook=hook,
                secret=secret,
                created=True,
            )
    return render(
        request,
        "webhooks/new.html",
        viewer,
        status=422,
        form=form,
        event_types=outbox.EVENT_TYPES,
    )


@router.get("/webhooks/{name}")
def show_webhook(
    request: Request,
    name: str,
    status: str = "",
    before: int | None = None,
    viewer: Viewer = Depends(page("read")),
) -> Response:
    hook = _webhooks(request).get(name)
    return _webhook_page(request, viewer, hook, status=status, before=before)


@router.post("/webhooks/{name}/edit")
def update_webhook(
    request: Request,
    name: str,
    url: str = Form(""),
    events: list[str] = Form([]),
    enabled: str = Form(""),
    viewer: Viewer = Depends(page("curate")),
) -> Response:
    webhooks = _webhooks(request)
    form = FormState({"url": url, "events": ",".join(events), "enabled": enabled})
    if not url.strip():
        form.errors["url"] = "Give the URL to POST events to (http or https)."
    if not events:
        form.errors["events"] = "Choose at least one event."
    if form.ok:
        try:
            webhooks.update(name, url=url.strip(), events=events, enabled=enabled == "on")
        except WebhookError as error:
            form.errors[_field_of(str(error))] = str(error)
        else:
            return done(f"/ui/webhooks/{name}", "Webhook saved.")
    return _webhook_page(request, viewer, webhooks.get(name), form=form, code=422)


@router.post("/webhooks/{name}/enable")
def enable_webhook(
    request: Request, name: str, viewer: Viewer = Depends(page("curate"))
) -> Response:
    _webhooks(request).update(name, enabled=True)
    return done(f"/ui/webhooks/{name}", "Webhook enabled.")


@router.post("/webhooks/{name}/disable")
def disable_webhook(
    request: Request, name: str, viewer: Viewer = Depends(page("curate"))
) -> Response:
    _webhooks(request).update(name, enabled=False)
    return done(f"/ui/webhooks/{name}", "Webhook disabled: no new deliveries are made for it.")


@router.post("/webhooks/{name}/rotate")
def rotate_secret(
    request: Request, name: str, viewer: Viewer = Depends(page("curate"))
) -> Response:
    secret, hook = _webhooks(request).rotate(name)
    return render(request, "webhooks/secret.html", viewer, hook=hook, secret=secret, created=False)


@router.get("/webhooks/{name}/delete")
def confirm_delete(
    request: Request, name: str, viewer: Viewer = Depends(page("curate"))
) -> Response:
    hook = _webhooks(request).get(name)
    return render(request, "webhooks/delete.html", viewer, hook=hook)


@router.post("/webhooks/{name}/delete")
def delete_webhook(
    request: Request, name: str, viewer: Viewer = Depends(page("curate"))
) -> Response:
    _webhooks(request).delete(name)
    return done("/ui/webhooks", f"Webhook {name} deleted, with its deliveries.")


@router.post("/webhooks/{name}/deliveries/{delivery_id}/redeliver")
def redeliver(
    request: Request, name: str, delivery_id: int, viewer: Viewer = Depends(page("curate"))
) -> Response:
    service: Service = request.app.state.service
    ours = {d["id"] for d in _webhooks(request).deliveries(name, before=delivery_id + 1, limit=1)}
    if delivery_id not in ours:
        return done(f"/ui/webhooks/{name}", f"Delivery {delivery_id} is not this webhook's.")
    try:
        outbox.redeliver(service.database, [delivery_id])
    except WebhookError as error:
        return done(f"/ui/webhooks/{name}#deliveries", f"Not sent again: {error}.")
    return done(f"/ui/webhooks/{name}#deliveries", f"Delivery {delivery_id} will be sent again.")


@router.post("/webhooks/{name}/redeliver-dead")
def redeliver_dead(
    request: Request, name: str, viewer: Viewer = Depends(page("curate"))
) -> Response:
    service: Service = request.app.state.service
    dead = _webhooks(request).deliveries(name, status="dead", limit=REDELIVER_AT_ONCE)
    if not dead:
        return done(f"/ui/webhooks/{name}", "No dead deliveries to send again.")
    sent = outbox.redeliver(service.database, [delivery["id"] for delivery in dead])
    return done(
        f"/ui/webhooks/{name}#deliveries", f"{len(sent):,} dead deliveries will be sent again."
    )
