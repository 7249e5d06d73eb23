"""The review queue in Chromium: media blurred and grey until revealed, and
blurred again after the reveal's seconds or when the pointer leaves; the
daily cap; a video's frame strip and its original, muted and paused; two
reviewers never on the same item; decisions by button and by key."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from hashmatch.actions.submissions import References
from hashmatch.audit import Actor, acting_as
from hashmatch.banks import Banks
from hashmatch.hashing import HashRequest, hash_file
from hashmatch.hashlists import Entry
from hashmatch.matching import Matcher
from hashmatch.store.models import AuditEntry
from hashmatch.store.workflow import ReportRequest, ReviewItem
from tests.browser.conftest import VIEWPORT, LiveServer
from tests.browser.helpers import look, path_of, sign_in, submit
from tests.clips import make_clip
from tests.review_world import ReviewWorld, review_settings

PASSWORD = "correct horse battery"
#: Reveals each reviewer has a day here: few enough to reach in a test.
CAP = 3


@pytest.fixture
def live(serve: Callable[..., LiveServer], tmp_path: Path) -> LiveServer:
    """A server that keeps media, with 1-second reveals and a small cap."""
    kept = review_settings("sqlite://", tmp_path)
    live = serve(
        media_key_file=kept.media_key_file,
        keep_media=True,
        review_reveal_seconds=1,
        review_daily_reveal_cap=CAP,
    )
    for name, role in (("rhea", "reviewer"), ("ravi", "reviewer"), ("ada", "admin")):
        live.add_user(name, role, PASSWORD)
    return live


@pytest.fixture
def world(live: LiveServer) -> ReviewWorld:
    return ReviewWorld.make(live.service.database, live.settings)


def queue_clip(world: ReviewWorld, folder: Path) -> int:
    """A benign clip banked in ``known`` and then submitted: its review item."""
    clip = make_clip(folder / "clip.mp4", frames=40, size=(128, 96))
    banked = hash_file(clip, HashRequest())
    Banks(world.database).add(
        "known",
        Entry(dict(banked.signals), "clip-1", frames=banked.frames.get("vpdq", [])),
    )
    with acting_as(Actor("key:platform")):
        done = world.submissions.submit_file(
            Matcher(world.database),  # world.matcher's index predates the clip
            References("clip-upload"),
            hash_file(clip, HashRequest(dihedral=True)),
            clip,
            filename=clip.name,
        )
    submission_id = done.answer["submission_id"]
    with world.database.reading() as session:
        item_id = session.scalar(
            select(ReviewItem.id).where(ReviewItem.submission_id == submission_id)
        )
    assert item_id is not None, done.answer
    return int(item_id)


def filter_of(page: Page, selector: str) -> str:
    return str(page.locator(selector).first.evaluate("e => getComputedStyle(e).filter"))


def start_reviewing(page: Page, base_url: str, queue: str = "default") -> int:
    page.goto(f"{base_url}/ui/review")
    submit(page, f"Start reviewing {queue}")
    assert path_of(page).startswith("/ui/review/items/"), page.url
    return int(path_of(page).rsplit("/", 1)[1])


def test_media_stays_blurred_and_grey_until_revealed_and_the_cap_holds(
    live: LiveServer, world: ReviewWorld, page: Page
) -> None:
    world.queue_photos(1)
    sign_in(page, live.url, "rhea", PASSWORD)
    page.get_by_role("link", name="Review", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review")
    look(page, "review-queues")
    start_reviewing(page, live.url)
    look(page, "review-item")

    shield = page.locator(".shielded").first
    image = shield.get_by_role("img")
    blurred = image.get_attribute("src")
    assert blurred
    assert blurred.startswith("data:image/jpeg;base64,")
    shown = filter_of(page, ".shielded img")
    assert "blur" in shown
    assert "grayscale" in shown
    button = shield.get_by_role("button", name="Reveal")
    expect(button).to_have_attribute("aria-keyshortcuts", "r")

    button.click()  # revealed, then blurred again after 1 second
    expect(shield).to_have_class(re.compile(r"\brevealed\b"))
    expect(image).not_to_have_attribute("src", blurred)
    expect(page.locator("#reveal-error")).to_be_hidden()
    expect(shield).not_to_have_class(re.compile(r"\brevealed\b"), timeout=5_000)
    expect(image).to_have_attribute("src", blurred)

    # Reveals of 10 seconds: what blurs the picture now is the pointer leaving.
    item_url = page.url
    page.goto(f"{live.url}/ui/review/preferences")
    page.get_by_label("Reveal seconds").fill("10")
    submit(page, "Save preferences")
    expect(page.get_by_role("status")).to_have_text("Preferences saved.")
    page.goto(item_url)
    button.hover()
    page.mouse.down()  # held: revealed
    expect(shield).to_have_class(re.compile(r"\brevealed\b"))
    page.mouse.move(0, 0)  # the pointer leaves: blurred again at once
    page.mouse.up()
    expect(shield).not_to_have_class(re.compile(r"\brevealed\b"), timeout=1_000)
    expect(image).to_have_attribute("src", blurred)

    page.keyboard.press("r")  # the third and last reveal of the day
    expect(shield).to_have_class(re.compile(r"\brevealed\b"))
    expect(page.locator("#reveals-left")).to_have_text("0")
    assert "blur" not in filter_of(page, ".shielded img")
    page.keyboard.press("r")  # r again: blurred again
    expect(shield).not_to_have_class(re.compile(r"\brevealed\b"), timeout=1_000)

    button.click()  # past the cap: refused, with the reason, nothing shown
    alert = page.locator("#reveal-error")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("daily limit")
    expect(alert).to_have_attribute("role", "alert")
    expect(shield).not_to_have_class(re.compile(r"\brevealed\b"))
    expect(image).to_have_attribute("src", blurred)
    look(page, "review-item-cap")


def test_a_video_shows_a_frame_strip_and_plays_only_when_asked_muted(
    live: LiveServer, world: ReviewWorld, page: Page, tmp_path: Path
) -> None:
    item_id = queue_clip(world, tmp_path)
    sign_in(page, live.url, "rhea", PASSWORD)
    page.goto(f"{live.url}/ui/review/items/{item_id}")
    strip = page.get_by_role("img", name="Frames of the video, blurred")
    expect(strip).to_be_visible()
    assert "blur" in filter_of(page, ".shielded.strip img")
    assert page.locator("video").count() == 1
    expect(page.locator("#original-media")).to_be_hidden()
    look(page, "review-video")

    page.get_by_role("button", name="Play video (counts as a reveal)").click()
    original = page.locator("#original-media")
    expect(original).to_be_visible()
    video = original.locator("video")
    expect(video).to_have_attribute("src", re.compile(r"^blob:"))
    state: dict[str, Any] = video.evaluate(
        "v => ({muted: v.muted, paused: v.paused, autoplay: v.autoplay, preload: v.preload})"
    )
    assert state == {"muted": True, "paused": True, "autoplay": False, "preload": "none"}
    video_filter = filter_of(page, "#original-media video")
    assert "blur" in video_filter
    assert "grayscale" in video_filter
    look(page, "review-video-original")


def test_two_reviewers_get_different_items_and_decide_by_button_and_key(
    live: LiveServer, world: ReviewWorld, page: Page, browser: Browser
) -> None:
    ids = world.queue_photos(3)
    sign_in(page, live.url, "rhea", PASSWORD)
    other_context = browser.new_context(viewport=VIEWPORT)
    other = other_context.new_page()
    try:
        sign_in(other, live.url, "ravi", PASSWORD)
        first = start_reviewing(page, live.url)
        second = start_reviewing(other, live.url)
        assert first != second
        assert {first, second} <= set(ids)

        # ravi: a false positive, added to the allowlist bank.
        other.get_by_label("Allowlist bank (false positive)").select_option("ours-ok")
        submit(other, "False positive")
        expect(other.get_by_role("status")).to_contain_text(
            f"Item {second} cleared as a false positive. Its hashes went to allowlist ours-ok."
        )
        third = int(path_of(other).rsplit("/", 1)[1])
        assert third not in (first, second)
        # ravi: the next one goes to the queue "senior".
        other.get_by_label("Escalate to queue").fill("senior")
        submit(other, "Escalate")
        expect(other.get_by_role("status")).to_contain_text(f"Item {third} escalated to senior.")
    finally:
        other_context.close()

    # rhea, by keyboard: classification 1 (A1), then c (confirm).
    confirm = page.get_by_role("button", name="Confirm")
    expect(confirm).to_have_attribute("aria-keyshortcuts", "c")
    page.keyboard.press("1")
    expect(page.get_by_label("A1")).to_be_checked()
    with page.expect_navigation():
        page.keyboard.press("c")
    expect(page.get_by_role("status")).to_contain_text(
        f"Item {first} confirmed as A1. A report was requested."
    )
    look(page, "review-after-decisions")

    review = live.service.review
    assert review.items.get(first)["decision"]["decision"] == "confirm"
    assert review.items.get(second)["decision"]["decision"] == "false_positive"
    escalated = review.items.get(third)["decision"]["escalated_to"]
    assert review.items.get(escalated)["queue"] == "senior"
    assert len(live.service.banks.content_ids("ours-ok")) == 1
    with live.service.database.reading() as session:
        reports = session.scalars(select(ReportRequest.review_item_id)).all()
        decided = session.execute(
            select(AuditEntry.actor, AuditEntry.target).where(AuditEntry.action == "review.decide")
        ).all()
    assert list(reports) == [first]
    assert sorted(decided) == sorted(
        [
            ("user:ravi", f"review_item:{second}"),
            ("user:ravi", f"review_item:{third}"),
            ("user:rhea", f"review_item:{first}"),
        ]
    )

    page.goto(f"{live.url}/ui/review")
    expect(page.get_by_role("cell", name="senior", exact=True)).to_be_visible()
