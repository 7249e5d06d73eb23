"""Appeals in Chromium: the appeal queue in the review area, the decision
appealed shown blurred and grey, and deciding by key and by button; the
reviewer who decided is never handed the appeal while someone else can."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from hashmatch.audit import Actor, acting_as
from hashmatch.review import Reviewer
from hashmatch.review.appeals import AppealTarget
from hashmatch.store.workflow import Submission
from tests.browser.conftest import LiveServer
from tests.browser.helpers import look, path_of, sign_in, submit
from tests.review_world import ReviewWorld, review_settings
from tests.test_review import CONFIRM

PASSWORD = "correct horse battery"
RHEA = Reviewer("user:rhea", role="reviewer")


@pytest.fixture
def live(serve: Callable[..., LiveServer], tmp_path: Path) -> LiveServer:
    kept = review_settings("sqlite://", tmp_path)
    live = serve(media_key_file=kept.media_key_file, keep_media=True)
    for name, role in (("rhea", "reviewer"), ("ravi", "reviewer")):
        live.add_user(name, role, PASSWORD)
    return live


def appeals_of_rheas_decisions(live: LiveServer, count: int) -> list[int]:
    """``count`` items confirmed by rhea, each appealed by its user."""
    world = ReviewWorld.make(live.service.database, live.settings)
    review = live.service.review
    appeal_ids = []
    for item_id in world.queue_photos(count):
        review.decisions.decide(item_id, RHEA, CONFIRM)
        with acting_as(Actor("key:platform")):
            target = AppealTarget(review_item_id=item_id)
            appeal_ids.append(review.appeals.create(target, text="my holiday")["id"])
    return appeal_ids


def start_appeals(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/ui/review")
    page.get_by_role("link", name="Appeals", exact=True).click()
    submit(page, "Start reviewing appeals")


def test_appeals_are_decided_by_someone_else_by_key_and_by_button(
    live: LiveServer, page: Page
) -> None:
    first, second = appeals_of_rheas_decisions(live, 2)

    sign_in(page, live.url, "rhea", PASSWORD)  # rhea decided both: none for her
    start_appeals(page, live.url)
    assert path_of(page) == "/ui/review/appeals"
    expect(page.get_by_role("status")).to_contain_text("No appeal waits for you.")
    page.context.clear_cookies()

    sign_in(page, live.url, "ravi", PASSWORD)
    start_appeals(page, live.url)
    assert path_of(page) == f"/ui/review/appeals/{first}"
    expect(page.get_by_text("my holiday")).to_be_visible()
    look(page, "appeal")
    image = page.locator(".shielded img").first
    shown = str(image.evaluate("e => getComputedStyle(e).filter"))
    assert "blur" in shown
    assert "grayscale" in shown
    assert (image.get_attribute("src") or "").startswith("data:image/jpeg;base64,")

    overturn = page.get_by_role("button", name="Overturn")
    expect(overturn).to_have_attribute("aria-keyshortcuts", "o")
    page.get_by_label("Allowlist bank (overturn)").select_option("ours-ok")
    page.locator("body").click(position={"x": 1, "y": 1})  # the focus leaves the select
    with page.expect_navigation():
        page.keyboard.press("o")
    expect(page.get_by_role("status")).to_contain_text(
        f"Appeal {first} overturned. Its hashes went to allowlist ours-ok."
    )
    assert path_of(page) == f"/ui/review/appeals/{second}"
    submit(page, "Uphold")
    expect(page.get_by_role("status")).to_contain_text(f"Appeal {second} upheld.")

    appeals = live.service.review.appeals
    assert appeals.get(first)["decision"] == "overturn"
    assert appeals.get(second)["decided_by"] == "user:ravi"
    assert len(live.service.banks.content_ids("ours-ok")) == 1
    with live.service.database.reading() as session:
        verdicts = session.scalars(select(Submission.verdict).order_by(Submission.id)).all()
    assert list(verdicts) == ["allow", "review"]
