"""The match tester in Chromium: a banked photo's edited copy (smaller, a
poorer JPEG) is found, with its distance and the rules' verdict, and the
upload is shown blurred and grey until held."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.helpers import check_accessibility, screenshot, sign_in

PASSWORD = "correct horse battery"


def edited_copy(photo: Path, folder: Path) -> Path:
    copy = folder / "copy.jpg"
    with Image.open(photo) as image:
        image.convert("RGB").resize((image.width * 2 // 3, image.height * 2 // 3)).save(
            copy, format="JPEG", quality=35
        )
    return copy


def test_the_match_tester_finds_an_edited_copy(
    live_server: LiveServer, page: Page, photo_path: Path, tmp_path: Path
) -> None:
    live_server.add_user("cora", "curator", PASSWORD)
    sign_in(page, live_server.url, "cora", PASSWORD)
    page.goto(f"{live_server.url}/ui/banks/new")
    page.get_by_label("Name").fill("known")
    page.get_by_label("Labels").fill("A1")
    page.get_by_role("button", name="Create bank").click()
    page.goto(f"{live_server.url}/ui/banks/known/add")
    page.locator("#f-file").set_input_files(str(photo_path))
    page.get_by_label("External id").first.fill("beach-1")
    page.get_by_role("button", name="Hash and add").click()
    expect(page.get_by_role("status")).to_contain_text("Content added.")

    page.get_by_role("link", name="Match tester").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Match tester")
    screenshot(page, "match-tester")
    check_accessibility(page)
    page.get_by_role("button", name="Find matches").click()
    expect(page.locator("#e-file")).to_be_visible()

    page.get_by_label("Image or video").set_input_files(str(edited_copy(photo_path, tmp_path)))
    page.get_by_role("button", name="Find matches").click()
    result = page.locator(".match-result")
    expect(result.get_by_role("link", name="known")).to_be_visible()
    expect(result).to_contain_text("beach-1")
    expect(result.locator(".verdict")).to_be_visible()
    shield = result.locator(".shielded")
    image = shield.get_by_role("img", name="Your upload, blurred")
    expect(image).to_be_visible()
    assert "blur" in image.evaluate("element => getComputedStyle(element).filter")
    reveal = shield.get_by_role("button", name="Hold to reveal")
    expect(reveal).to_have_attribute("aria-pressed", "false")
    screenshot(page, "match-tester-result")
    check_accessibility(page)
    reveal.hover()
    page.mouse.down()  # held: revealed
    expect(reveal).to_have_attribute("aria-pressed", "true")
    expect(shield).to_have_class(re.compile(r"\brevealed\b"))
    page.mouse.up()
    page.mouse.move(0, 0)  # the pointer leaves: blurred again
    expect(reveal).to_have_attribute("aria-pressed", "false")
    reveal.click()  # a click reveals for a few seconds, then blurs again by itself
    expect(reveal).to_have_attribute("aria-pressed", "true")
    expect(reveal).to_have_attribute("aria-pressed", "false", timeout=10_000)
