"""A platform user's history in Chromium: reached from the review item page,
every kind listed, kept media blurred and grey until revealed, the reveal
recorded against the item and blurred again after its second."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from hashmatch.store.review_models import ReviewReveal
from tests.browser.conftest import LiveServer
from tests.browser.helpers import look, path_of, sign_in
from tests.platform_users_world import UserWorld, user_settings

PASSWORD = "correct horse battery"


@pytest.fixture
def live(serve: Callable[..., LiveServer], tmp_path: Path) -> LiveServer:
    kept = user_settings("sqlite://", tmp_path)
    live = serve(
        media_key_file=kept.media_key_file,
        keep_media=True,
        dsa_statements_enabled=True,
        review_reveal_seconds=1,
    )
    live.add_user("rhea", "reviewer", PASSWORD)
    return live


def test_the_history_is_shielded_and_reveals_are_recorded(live: LiveServer, page: Page) -> None:
    world = UserWorld.make(live.service.database, live.settings)
    made = world.busy_user("user-7")
    sign_in(page, live.url, "rhea", PASSWORD)
    page.goto(f"{live.url}/ui/review/items/{made.items[1]}")
    page.get_by_role("link", name="user-7").click()
    assert path_of(page) == "/ui/platform-users/user-7"
    expect(page.get_by_role("heading", level=1)).to_contain_text("user-7")
    expect(page.locator("tr[data-kind]")).to_have_count(8)
    expect(page.get_by_role("link", name="confirm A1 by user:alice in default")).to_be_visible()
    look(page, "platform-user-history")

    shields = page.locator(".shielded")
    expect(shields).to_have_count(2)
    image = shields.first.locator("img")
    shown = str(image.evaluate("e => getComputedStyle(e).filter"))
    assert "blur" in shown
    assert "grayscale" in shown
    blurred = image.get_attribute("src")
    assert (blurred or "").startswith("data:image/jpeg;base64,")

    left = int(page.locator("#reveals-left").inner_text().replace(",", ""))
    shields.first.get_by_role("button", name="Reveal").click()
    expect(shields.first).to_have_class(re.compile(r"\brevealed\b"))
    expect(page.locator("#reveals-left")).to_have_text(f"{left - 1:,}")
    expect(shields.first).not_to_have_class(re.compile(r"\brevealed\b"), timeout=5_000)
    expect(image).to_have_attribute("src", blurred or "")
    with live.service.database.reading() as session:
        reveals = session.scalars(select(ReviewReveal)).all()
    assert [(r.reviewer, r.kind) for r in reveals] == [("user:rhea", "preview")]
    assert reveals[0].item_id in made.items
