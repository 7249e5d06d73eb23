"""The appeals' pages in the review area, on both engines: the list and its
overdue count, the appeal page with the decision appealed shown through the
review item page's own parts (media blurred), and deciding from it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from hashmatch.audit import Actor, acting_as
from hashmatch.review import Review, Reviewer
from hashmatch.review.appeals import AppealTarget
from hashmatch.store.models import utcnow
from hashmatch.store.review_models import Appeal
from hashmatch.store.workflow import Submission
from tests.review_world import ReviewWorld, review_settings
from tests.test_review import CONFIRM
from tests.test_web_review import _DATA_URI, picture
from tests.web_ui import Ui, open_ui

#: The reviewer who made the decisions appealed (a web user: "reviewer" is another).
DECIDER = Reviewer("user:admin", role="admin", is_admin=True)


@pytest.fixture
def ui(database_url: str, tmp_path: Path) -> Iterator[Ui]:
    kept = review_settings(database_url, tmp_path)
    yield from open_ui(database_url, tmp_path, media_key_file=kept.media_key_file, keep_media=True)


def appealed(ui: Ui) -> tuple[int, int]:
    """A confirmed review item (by the admin) and an appeal of it."""
    world = ReviewWorld.make(ui.service.database, ui.settings)
    (item_id,) = world.queue_photos(1)
    review: Review = ui.service.review
    review.decisions.decide(item_id, DECIDER, CONFIRM)
    with acting_as(Actor("key:platform")):
        appeal = review.appeals.create(AppealTarget(review_item_id=item_id), text="my beach")
    return item_id, appeal["id"]


def test_a_reviewer_opens_the_next_appeal_and_overturns_it(ui: Ui) -> None:
    item_id, appeal_id = appealed(ui)
    ui.sign_in("reviewer")
    queues = ui.get("/ui/review")
    assert "1 open" in queues.text
    assert "0 overdue" in queues.text
    started = ui.post("/ui/review/appeals/next")
    assert started.headers["location"] == f"/ui/review/appeals/{appeal_id}"
    page = ui.get(f"/ui/review/appeals/{appeal_id}")
    assert page.status_code == 200
    assert "my beach" in page.text
    assert "confirm (A2) by user:admin" in page.text
    assert "known" in page.text
    assert "upload-0" in page.text
    [preview] = set(_DATA_URI.findall(page.text))
    assert picture(preview).mode == "L"  # grey, from the server's shielded preview
    assert f'action="/ui/review/items/{item_id}/reveal"' in page.text
    assert 'aria-keyshortcuts="o"' in page.text
    decided = ui.post(
        f"/ui/review/appeals/{appeal_id}/decide",
        {"decision": "overturn", "note": "a beach", "allowlist_bank": "ours-ok"},
    )
    assert decided.status_code == 303, decided.text
    with ui.service.database.reading() as session:
        assert session.scalar(select(Submission.verdict)) == "allow"
    page = ui.get(f"/ui/review/appeals/{appeal_id}")
    assert "overturn by user:reviewer" in page.text
    assert 'name="decision"' not in page.text  # decided: nothing left to press


def test_the_decider_is_not_handed_the_appeal_and_overdue_ones_are_counted(ui: Ui) -> None:
    _, appeal_id = appealed(ui)
    with ui.service.database.transaction() as session:
        session.execute(update(Appeal).values(due_at=utcnow() - timedelta(hours=1)))
    ui.sign_in("admin")
    dashboard = ui.get("/ui/")
    assert "Overdue appeals" in dashboard.text
    nothing = ui.post("/ui/review/appeals/next")
    assert nothing.headers["location"] == "/ui/review/appeals"
    listed = ui.get("/ui/review/appeals?overdue=true")
    assert f"/ui/review/appeals/{appeal_id}" in listed.text
    assert "overdue" in listed.text
    page = ui.get(f"/ui/review/appeals/{appeal_id}")
    assert "someone else decides it" in page.text
    assert 'name="decision"' not in page.text
    refused = ui.post(f"/ui/review/appeals/{appeal_id}/decide", {"decision": "uphold"})
    assert refused.status_code == 403
    assert ui.get("/ui/review/appeals/999999").status_code == 404
