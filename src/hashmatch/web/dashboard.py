"""The dashboard: what came in and what was done about it, today and over 7 days.

Every figure is one aggregate query over indexed columns (the submissions'
``created_at``, the review items' and deliveries' status), so the page costs
the same with 1,000 or 1,000,000 banked hashes.

Admins also see how many reveals each reviewer had each day of the last 7:
numbers only, to spread the load of looking at the worst content (not which
items, not when in the day), and no one else sees them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import String, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from hashmatch.actions.outbox import backlog
from hashmatch.api.service import Service
from hashmatch.store import Database
from hashmatch.store.models import utcnow
from hashmatch.store.workflow import Delivery, ReportRequest, ReviewItem, Submission, Webhook
from hashmatch.web.access import PageRoute, Viewer, page
from hashmatch.web.rendering import render

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

#: Recent matches shown on the dashboard.
RECENT = 10


@dataclass
class Window:
    """Submissions in one window: by verdict, with how many matched."""

    submissions: int = 0
    matched: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    reviews_queued: int = 0
    reports_requested: int = 0
    deliveries: int = 0


@dataclass
class Figures:
    today: Window
    week: Window
    queue_depth: int
    queue_oldest: datetime | None
    #: Open review items past their due time.
    queue_overdue: int
    outbox_depth: int
    recent: list[Submission]
    #: (webhook, deliveries retrying or given up on in 7 days, the latest error)
    failing_webhooks: list[tuple[str, int, str | None]]


def _window(session: Session, since: datetime) -> Window:
    window = Window()
    matched = case((cast(Submission.matches, String) != "[]", 1), else_=0)
    rows: Any = session.execute(
        select(Submission.verdict, func.count(), func.sum(matched))
        .where(Submission.created_at >= since)
        .group_by(Submission.verdict)
    )
    for verdict, count, matches in rows:
        window.verdicts[verdict] = int(count)
        window.submissions += int(count)
        window.matched += int(matches or 0)
    window.reviews_queued = (
        session.scalar(
            select(func.count()).select_from(ReviewItem).where(ReviewItem.created_at >= since)
        )
        or 0
    )
    window.reports_requested = (
        session.scalar(
            select(func.count()).select_from(ReportRequest).where(ReportRequest.created_at >= since)
        )
        or 0
    )
    window.deliveries = (
        session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.created_at >= since)
        )
        or 0
    )
    return window


def figures(database: Database) -> Figures:
    now = utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    week_ago = now - timedelta(days=7)
    with database.reading() as session:
        depth, oldest, overdue = session.execute(
            select(
                func.count(),
                func.min(ReviewItem.created_at),
                func.count(ReviewItem.due_at).filter(ReviewItem.due_at < now),
            ).where(ReviewItem.status == "open")
        ).one()
        recent = list(
            session.scalars(
                select(Submission)
                .where(cast(Submission.matches, String) != "[]")
                .order_by(Submission.id.desc())
                .limit(RECENT)
            )
        )
        failing = [
            (name, count, error)
            for name, count, error in session.execute(
                select(Webhook.name, func.count(), func.max(Delivery.last_error))
                .join(Delivery, Delivery.webhook_id == Webhook.id)
                .where(
                    or_(
                        and_(Delivery.status == "pending", Delivery.attempts > 0),
                        and_(Delivery.status == "dead", Delivery.created_at >= week_ago),
                    )
                )
                .group_by(Webhook.name)
                .order_by(Webhook.name)
            )
        ]
        return Figures(
            today=_window(session, midnight),
            week=_window(session, week_ago),
            queue_depth=depth,
            queue_oldest=oldest,
            queue_overdue=overdue,
            outbox_depth=backlog(database).depth,
            recent=recent,
            failing_webhooks=failing,
        )


def index_state(service: Service) -> dict[str, Any]:
    """The live index's size and how long ago it last caught up (None while loading)."""
    problem = service.loading_problem
    if problem is not None:
        return {"loaded": False, "problem": problem}
    matcher = service.matcher()
    return {
        "loaded": True,
        "hashes": len(matcher),
        "sizes": matcher.sizes(),
        "seq": matcher.seq,
        "age_seconds": max(0.0, time.time() - service.current_at),
        "stale": service.staleness(),
    }


@router.get("/")
def dashboard(request: Request, viewer: Viewer = Depends(page("view"))) -> Response:
    service: Service = request.app.state.service
    return render(
        request,
        "dashboard.html",
        viewer,
        figures=figures(service.database),
        index=index_state(service),
        appeals=service.review.appeals.counts(),
        # Workload, not surveillance: admins only.
        reveals=service.review.reveals.per_day(days=7) if viewer.can("admin") else None,
    )
