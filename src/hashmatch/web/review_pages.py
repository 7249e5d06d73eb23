"""The review queue's own pages: the queues that admit the viewer, the items
of a queue, the reviewer's view preferences and (admins) a queue's settings.

    GET  /ui/review                          queues, reveals left, the break reminder
    POST /ui/review/queues/{name}/next       claim the next item and open it
    GET  /ui/review/items?queue=&status=     items, newest first
    GET  /ui/review/preferences              blur, grayscale, reveal seconds

An item's own page, its reveals and its decisions are in ``review_item.py``.
Every page acts as ``Reviewer("user:<name>")`` with the viewer's role, so the
library's queue access lists decide what each person sees.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request, Response

from hashmatch.errors import ReviewError
from hashmatch.review import Review, Reviewer
from hashmatch.review.items import STATUSES
from hashmatch.review.queues import MAX_SLA_MINUTES
from hashmatch.review.wellness import View
from hashmatch.web.access import PageRoute, Viewer, page, service_of
from hashmatch.web.forms import FormState
from hashmatch.web.rendering import done, render

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

#: Items per page of the item list.
PAGE_SIZE = 50
#: The most blur a reviewer may choose (Wellness.choose's own bound).
MAX_BLUR_PX = 64


def shown_time(moment: str | None) -> str:
    """An ISO time from the review library as the other pages show times."""
    if moment is None:
        return "—"
    return datetime.fromisoformat(moment).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def reviewer_of(viewer: Viewer) -> Reviewer:
    """The person signed in, as the review library knows them."""
    return Reviewer(viewer.actor, role=viewer.role, is_admin=viewer.role == "admin")


def review_of(request: Request) -> Review:
    return service_of(request).review


def view_of(request: Request, viewer: Viewer) -> View:
    """How media is shown to the viewer, and whether a break is due."""
    return review_of(request).wellness.view_of(reviewer_of(viewer).name)


@router.get("/review")
def queues_page(request: Request, viewer: Viewer = Depends(page("review"))) -> Response:
    review = review_of(request)
    reviewer = reviewer_of(viewer)
    return render(
        request,
        "review/queues.html",
        viewer,
        queues=review.queues.overview(reviewer),
        appeals=review.appeals.counts(),
        reveals_left=review.reveals.left_today(reviewer.name),
        view=view_of(request, viewer),
        shown_time=shown_time,
    )


@router.post("/review/queues/{name}/next")
def start_reviewing(
    request: Request, name: str, viewer: Viewer = Depends(page("review"))
) -> Response:
    return next_item(request, viewer, name, "")


def next_item(request: Request, viewer: Viewer, queue: str, notice: str) -> Response:
    """On to the queue's next item (claimed for the viewer), or back to the
    queues when nothing waits; ``notice`` says what just happened."""
    item = review_of(request).items.claim_next(reviewer_of(viewer), queue)
    if item is None:
        said = f"{notice} Nothing waits in {queue}." if notice else f"Nothing waits in {queue}."
        return done("/ui/review", said)
    return done(f"/ui/review/items/{item['id']}", notice or f"Reviewing {queue}.")


@router.post("/review/break")
def take_break(request: Request, viewer: Viewer = Depends(page("review"))) -> Response:
    review_of(request).wellness.take_break(reviewer_of(viewer).name)
    return done("/ui/review", "Enjoy your break. The queue will be here when you come back.")


@router.get("/review/items")
def list_items(
    request: Request,
    queue: str = "",
    status: str = "",
    before: int | None = None,
    viewer: Viewer = Depends(page("review")),
) -> Response:
    items = review_of(request).items.list(
        queue=queue or None,
        status=status or None,
        before=before,
        limit=PAGE_SIZE,
        reviewer=reviewer_of(viewer),
    )
    filters = {key: value for key, value in (("queue", queue), ("status", status)) if value}
    newer = f"?{urlencode(filters)}" if before is not None else ""
    older = (
        f"?{urlencode({**filters, 'before': items[-1]['id']})}" if len(items) == PAGE_SIZE else ""
    )
    return render(
        request,
        "review/items.html",
        viewer,
        items=items,
        form=FormState({"queue": queue, "status": status}),
        statuses=[("", "any"), *((name, name) for name in STATUSES)],
        first_page_href=newer,
        older_href=older,
        shown_time=shown_time,
    )


def _preferences_page(
    request: Request, viewer: Viewer, form: FormState, *, status: int = 200
) -> Response:
    settings = service_of(request).settings
    return render(
        request,
        "review/preferences.html",
        viewer,
        status=status,
        form=form,
        color_allowed=settings.review_color_allowed,
        blur_bounds=(settings.review_blur_min_px, MAX_BLUR_PX),
        reveal_bounds=(1, settings.review_reveal_max_seconds),
    )


@router.get("/review/preferences")
def preferences(request: Request, viewer: Viewer = Depends(page("review"))) -> Response:
    view = view_of(request, viewer)
    form = FormState(
        {
            "blur_px": str(view.blur_px),
            "grayscale": "on" if view.grayscale else "",
            "reveal_seconds": str(view.reveal_seconds),
        }
    )
    return _preferences_page(request, viewer, form)


@router.post("/review/preferences")
def choose_preferences(
    request: Request,
    blur_px: str = Form(""),
    grayscale: str = Form(""),
    reveal_seconds: str = Form(""),
    viewer: Viewer = Depends(page("review")),
) -> Response:
    form = FormState({"blur_px": blur_px, "grayscale": grayscale, "reveal_seconds": reveal_seconds})
    chosen = {name: _whole_number(form, name) for name in ("blur_px", "reveal_seconds")}
    if not form.ok:
        return _preferences_page(request, viewer, form, status=422)
    color_allowed = service_of(request).settings.review_color_allowed
    try:
        review_of(request).wellness.choose(
            reviewer_of(viewer).name,
            blur_px=chosen["blur_px"],
            grayscale=grayscale == "on" if color_allowed else None,
            reveal_seconds=chosen["reveal_seconds"],
        )
    except ReviewError as error:
        field = "blur_px" if "blur" in str(error) else "reveal_seconds"
        form.errors[field] = str(error)
        return _preferences_page(request, viewer, form, status=422)
    return done("/ui/review/preferences", "Preferences saved.")


def _whole_number(form: FormState, name: str) -> int | None:
    """The field as a number (None: left empty), or None with the form's error set."""
    text = form.value(name).strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        form.errors[name] = "A whole number, please."
        return None


def _settings_page(
    request: Request, viewer: Viewer, name: str, form: FormState, *, status: int = 200
) -> Response:
    return render(
        request,
        "review/queue_settings.html",
        viewer,
        status=status,
        name=name,
        form=form,
        max_sla_minutes=MAX_SLA_MINUTES,
    )


@router.get("/review/queues/{name}/settings")
def queue_settings(
    request: Request, name: str, viewer: Viewer = Depends(page("admin"))
) -> Response:
    queue = review_of(request).queues.get(name)
    form = FormState(
        {
            "description": queue["description"],
            "sla_minutes": str(queue["sla_minutes"]),
            "access": "\n".join(queue["access"]),
        }
    )
    return _settings_page(request, viewer, name, form)


@router.post("/review/queues/{name}/settings")
def configure_queue(
    request: Request,
    name: str,
    description: str = Form(""),
    sla_minutes: str = Form(""),
    access: str = Form(""),
    viewer: Viewer = Depends(page("admin")),
) -> Response:
    form = FormState({"description": description, "sla_minutes": sla_minutes, "access": access})
    sla = _whole_number(form, "sla_minutes")
    if not form.ok:
        return _settings_page(request, viewer, name, form, status=422)
    changes: dict[str, Any] = {
        "description": description,
        "sla_minutes": sla,
        "access": [line.strip() for line in access.splitlines() if line.strip()],
    }
    try:
        review_of(request).queues.configure(name, **changes)
    except ReviewError as error:
        message = str(error)
        field = next((key for key in ("sla_minutes", "access") if key in message), "description")
        form.errors[field] = message
        return _settings_page(request, viewer, name, form, status=422)
    return done("/ui/review", f"Queue {name} saved.")
