"""The browser harness itself: Chromium starts, the live server answers, axe
finds what it should and nothing else."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import LiveServer
from tests.browser.helpers import AccessibilityError, check_accessibility, screenshot

ACCESSIBLE = """<!doctype html>
<html lang="en"><head><title>Fine</title></head>
<body><main>
  <h1>Fine</h1>
  <form><label for="q">Search</label> <input id="q" name="q"><button>Go</button></form>
  <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="A dot">
</main></body></html>"""


def test_the_live_server_serves_the_api_docs(live_server: LiveServer, page: Page) -> None:
    page.goto(f"{live_server.url}/docs")
    # Swagger UI builds the page in a script from files this server serves.
    page.get_by_text("/status/live").first.wait_for()
    assert "hashmatch" in page.title().lower()
    path = screenshot(page, "harness-api-docs")
    assert path.stat().st_size > 0

    answer = page.goto(f"{live_server.url}/status/live")
    assert answer is not None
    assert answer.status == 200
    assert answer.json() == {"status": "live"}


@pytest.mark.parametrize(
    ("problem", "rule"),
    [
        ('<input name="q">', "label"),
        ('<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">', "image-alt"),
    ],
    ids=["input-without-label", "image-without-alt"],
)
def test_the_accessibility_check_fails_on_a_serious_violation(
    page: Page, problem: str, rule: str
) -> None:
    page.set_content(ACCESSIBLE.replace("</main>", f"{problem}</main>"))
    with pytest.raises(AccessibilityError, match=rf"(?m)^- {rule} \(") as failure:
        check_accessibility(page)
    assert "at " in str(failure.value)  # names where the problem is


def test_the_accessibility_check_passes_a_clean_page(page: Page) -> None:
    page.set_content(ACCESSIBLE)
    check_accessibility(page)
