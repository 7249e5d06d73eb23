"""What browser tests do on a page: sign in, check accessibility, take a picture.

In a test, with the ``live_server`` and ``page`` fixtures:

    sign_in(page, live_server.url, "ada", PASSWORD)
    check_accessibility(page)           # fails on serious or critical problems
    screenshot(page, "dashboard")       # test-output/screenshots/dashboard.png
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

#: Where screenshots go (ignored by git): look at them after a run.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"

#: axe-core impacts that fail a test; "minor" and "moderate" are left to review.
FAILING_IMPACTS = ("serious", "critical")

_AXE = Axe()


class AccessibilityError(AssertionError):
    """axe-core found serious or critical problems on the page."""


def sign_in(page: Page, base_url: str, name: str, password: str) -> None:
    """Fill in the sign-in form as a person would, and wait for the answer.

    Fields are found by their accessible names, so a field that loses its
    label breaks this too."""
    page.goto(f"{base_url}/ui/login")
    page.get_by_role("textbox", name="Name", exact=True).fill(name)
    page.get_by_role("textbox", name="Password", exact=True).fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def check_accessibility(page: Page) -> None:
    """Run axe-core on the page as it is now; fail on any serious or critical violation."""
    violations = [
        violation
        for violation in _AXE.run(page).response["violations"]
        if violation["impact"] in FAILING_IMPACTS
    ]
    if violations:
        raise AccessibilityError(
            f"{len(violations)} accessibility violation(s) on {page.url}:\n"
            + "\n".join(_describe(violation) for violation in violations)
        )


def _describe(violation: dict[str, Any]) -> str:
    nodes = violation["nodes"]
    targets = [" ".join(map(str, node["target"])) for node in nodes[:3]]
    more = f" and {len(nodes) - 3} more" if len(nodes) > 3 else ""
    return (
        f"- {violation['id']} ({violation['impact']}): {violation['help']}\n"
        f"  at {', '.join(targets)}{more}\n  {violation['helpUrl']}"
    )


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page as test-output/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def path_of(page: Page) -> str:
    """The path of the page's address (no host, no query)."""
    return urlsplit(page.url).path


def look(page: Page, name: str) -> None:
    """Screenshot the page as ``name`` and check its accessibility."""
    screenshot(page, name)
    check_accessibility(page)


def submit(page: Page, button: str) -> None:
    """Click the button named ``button`` and wait for the page it leads to."""
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()
