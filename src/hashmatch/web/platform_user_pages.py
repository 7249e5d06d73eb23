"""One platform user's history, in the review area.

    GET /ui/platform-users/{user_ref}?cursor=&kind=   the history, newest first

For reviewers (the ``review`` permission): what a person looks at before
acting on an account.  A submission on the page whose media is kept shows
it as the review item page does: downscaled, grayscale and blurred on the
server by the viewer's own blur, revealed one at a time for a few seconds
through the item's reveal (granted, counted against the day's cap and
recorded by ``review.reveals``, as on the item page).  Only submissions
with a review item can be revealed: a reveal is always a review item's.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import func, select

from hashmatch.platform_users import user_history
from hashmatch.platform_users.history import HistoryPage
from hashmatch.platform_users.kinds import KINDS
from hashmatch.store.workflow import KeptMedia, ReviewItem
from hashmatch.web.access import PageRoute, Viewer, page, service_of
from hashmatch.web.rendering import render
from hashmatch.web.review_item import shielded_kept_preview
from hashmatch.web.review_media import Preview
from hashmatch.web.review_pages import review_of, reviewer_of, shown_time, view_of

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

#: Entries per page: each kept upload on it is decrypted and blurred for the page.
PAGE_SIZE = 25


def history_href(user_ref: str, **params: str) -> str:
    """The page of ``user_ref``'s history (any characters, a slash included)."""
    query = urlencode({name: value for name, value in params.items() if value})
    return f"/ui/platform-users/{quote(user_ref, safe='')}" + (f"?{query}" if query else "")


def _reviewable(request: Request, history: HistoryPage) -> dict[int, int]:
    """Submission id -> its newest review item, for the page's submissions
    whose media is kept (what a reveal needs)."""
    shown = [e.ids["submission_id"] for e in history.entries if e.kind == "submission"]
    if not shown:
        return {}
    with service_of(request).database.reading() as session:
        rows = session.execute(
            select(ReviewItem.submission_id, func.max(ReviewItem.id))
            .join(KeptMedia, KeptMedia.submission_id == ReviewItem.submission_id)
            .where(ReviewItem.submission_id.in_(shown))
            .group_by(ReviewItem.submission_id)
        )
        return {int(submission): int(item) for submission, item in rows}


def _previews(
    request: Request, viewer: Viewer, items: dict[int, int]
) -> dict[int, tuple[int, Preview]]:
    """Submission id -> (its review item, its shielded preview)."""
    if not items:
        return {}
    view = view_of(request, viewer)
    previews = {}
    for submission_id, item_id in items.items():
        preview = shielded_kept_preview(request, view, submission_id)
        if preview is not None:
            previews[submission_id] = (item_id, preview)
    return previews


@router.get("/platform-users/{user_ref:path}")
def show_history(
    request: Request,
    user_ref: str,
    cursor: str = "",
    kind: str = "",
    viewer: Viewer = Depends(page("review")),
) -> Response:
    history = user_history(
        service_of(request).database,
        user_ref,
        limit=PAGE_SIZE,
        cursor=cursor or None,
        kinds=[kind] if kind else None,
    )
    context: dict[str, Any] = {
        "history": history,
        "kinds": KINDS,
        "kind_filter": kind,
        "previews": _previews(request, viewer, _reviewable(request, history)),
        "view": view_of(request, viewer),
        "reveals_left": review_of(request).reveals.left_today(reviewer_of(viewer).name),
        "shown_time": shown_time,
        "first_href": history_href(user_ref, kind=kind),
        "next_href": (
            history_href(user_ref, kind=kind, cursor=history.next_cursor)
            if history.next_cursor
            else ""
        ),
        "kind_href": lambda name: history_href(user_ref, kind=name),
    }
    return render(request, "platform_users/history.html", viewer, **context)
