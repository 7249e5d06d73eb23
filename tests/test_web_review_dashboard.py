"""The review queue on the dashboard, on both engines: open and overdue items
for everyone, reveals per reviewer per day for admins only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from hashmatch.accounts.roles import ROLES
from hashmatch.review import Reviewer
from hashmatch.store.models import utcnow
from hashmatch.store.workflow import ReviewItem
from tests.review_world import ReviewWorld, review_settings
from tests.web_ui import Ui, open_ui

HEADING = "Reveals per reviewer per day (last 7 days)"
_FIGURE = re.compile(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>")
_REVEAL_ROW = re.compile(r"<tr><td>(\d{4}-\d\d-\d\d)</td><td>([^<]+)</td><td>(\d+)</td></tr>")


@pytest.fixture
def ui(database_url: str, tmp_path: Path) -> Iterator[Ui]:
    """The web UI with media kept (encrypted), so that items can be queued."""
    kept = review_settings(database_url, tmp_path)
    yield from open_ui(database_url, tmp_path, media_key_file=kept.media_key_file, keep_media=True)


@pytest.fixture
def world(ui: Ui) -> ReviewWorld:
    return ReviewWorld.make(ui.service.database, ui.settings)


def dashboard(ui: Ui, role: str) -> str:
    ui.sign_in(role)
    page = ui.get("/ui/")
    assert page.status_code == 200, page.text
    return page.text


def test_an_admin_sees_reveals_per_reviewer_per_day(ui: Ui, world: ReviewWorld) -> None:
    assert "No reveals in the last 7 days." in dashboard(ui, "admin")
    first, second = world.queue_photos(2)
    reveals = ui.service.review.reveals
    alice = Reviewer("user:reviewer", role="reviewer")
    for _ in range(3):
        reveals.grant(alice, first, kind="preview", seconds=4)
    reveals.grant(
        Reviewer("user:admin", role="admin", is_admin=True), second, kind="original", seconds=4
    )

    page = dashboard(ui, "admin")
    assert HEADING in page
    assert "for workload, not surveillance" in page.lower()
    today = utcnow().date().isoformat()
    assert _REVEAL_ROW.findall(page) == [(today, "user:admin", "1"), (today, "user:reviewer", "3")]


@pytest.mark.parametrize("role", [role for role in ROLES if role != "admin"])
def test_no_one_else_sees_reveals(ui: Ui, world: ReviewWorld, role: str) -> None:
    (item,) = world.queue_photos(1)
    ui.service.review.reveals.grant(
        Reviewer("user:reviewer", role="reviewer"), item, kind="preview", seconds=4
    )
    page = dashboard(ui, role)
    assert HEADING not in page
    assert _REVEAL_ROW.findall(page) == []
    assert "user:reviewer" not in page


def test_everyone_sees_open_and_overdue_items(ui: Ui, world: ReviewWorld) -> None:
    late, _, decided = world.queue_photos(3)
    with ui.service.database.transaction() as session:
        session.execute(
            update(ReviewItem)
            .where(ReviewItem.id.in_([late, decided]))
            .values(due_at=utcnow() - timedelta(minutes=5))
        )
        session.execute(update(ReviewItem).where(ReviewItem.id == decided).values(status="closed"))
    for role in ROLES:
        figures = dict(_FIGURE.findall(dashboard(ui, role)))
        assert (figures["Open items"], figures["Overdue"]) == ("2", "1"), role
