"""Rules and webhooks in Chromium: a rule made with a dry run first, a
webhook made and its secret rotated (each shown once), and every page's
accessibility and picture."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect
from sqlalchemy import update

from hashmatch.actions import outbox
from hashmatch.banks.catalog import Banks
from hashmatch.store import Database
from hashmatch.store.workflow import Delivery, Submission
from tests.browser.conftest import LiveServer
from tests.browser.helpers import look, path_of, sign_in, submit

PASSWORD = "correct horse battery"


def test_a_curator_makes_a_rule_after_a_dry_run(live_server: LiveServer, page: Page) -> None:
    live_server.add_user("cleo", "curator", PASSWORD)
    database = Database.open(live_server.database_url)
    try:
        Banks(database).create("known")
        match = {"bank": "known", "content_id": 1, "signal_type": "pdq", "distance": 3}
        with database.transaction() as session:
            session.add(
                Submission(
                    content_ref="upload-1",
                    content_type="photo",
                    matches=[match],
                    verdict="review",
                    actor="key:app",
                )
            )
    finally:
        database.close()
    sign_in(page, live_server.url, "cleo", PASSWORD)
    page.get_by_role("link", name="Rules").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rules")
    look(page, "rules-list")

    page.get_by_role("link", name="New rule").click()
    look(page, "rules-new")
    page.get_by_label("Name").fill("block-known")
    page.get_by_label("When (JSON)").fill(json.dumps({"banks": ["known"], "max_distance": 10}))
    page.get_by_label("Then (JSON)").fill('[{"action": "explode"}]')
    submit(page, "Create rule")
    expect(page.locator("#e-then")).to_contain_text("then.0.action")
    look(page, "rules-new-errors")

    page.get_by_label("Then (JSON)").fill(json.dumps([{"action": "block"}]))
    submit(page, "Dry run (saves nothing)")
    dry_run = page.get_by_role("region", name="Dry run")
    expect(dry_run.get_by_role("row").nth(1)).to_contain_text("block")
    look(page, "rules-new-dry-run")

    submit(page, "Create rule")
    assert path_of(page) == "/ui/rules/block-known"
    expect(page.get_by_role("status")).to_have_text("Rule created.")
    look(page, "rules-show")
    page.get_by_role("link", name="Dry run over recent submissions").click()
    expect(page.get_by_role("region", name="Dry run")).to_contain_text("photo")
    look(page, "rules-show-dry-run")

    submit(page, "Disable")
    expect(page.get_by_role("status")).to_contain_text("Rule disabled")
    page.get_by_role("link", name="Edit").click()
    look(page, "rules-edit")
    page.get_by_label("Priority").fill("-5")
    submit(page, "Save rule")
    expect(page.get_by_role("status")).to_have_text("Rule saved.")
    page.get_by_role("link", name="Delete").click()
    look(page, "rules-delete")
    submit(page, "Delete rule block-known")
    assert path_of(page) == "/ui/rules"
    expect(page.get_by_role("link", name="block-known")).to_have_count(0)


def test_a_curator_makes_a_webhook_and_rotates_its_secret(
    live_server: LiveServer, page: Page
) -> None:
    live_server.add_user("cleo", "curator", PASSWORD)
    sign_in(page, live_server.url, "cleo", PASSWORD)
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_text("No webhooks yet")).to_be_visible()
    look(page, "webhooks-empty")

    page.get_by_role("link", name="New webhook").click()
    look(page, "webhooks-new")
    page.get_by_label("Name").fill("ops")
    page.get_by_label("URL").fill("https://hooks.example.com/hashmatch")
    page.get_by_label("report.filed").uncheck()
    submit(page, "Create webhook")
    secret = page.locator("#new-secret").inner_text()
    assert len(secret) > 20
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    look(page, "webhooks-created")

    page.get_by_role("link", name="Done: go to the webhook").click()
    assert secret not in page.content()
    database = Database.open(live_server.database_url)
    try:
        with database.transaction() as session:
            outbox.enqueue(session, "submission.verdict", {"n": 1}, webhooks=["ops"])
            session.execute(
                update(Delivery).values(
                    status="dead", attempts=5, last_error="the receiver answered 503"
                )
            )
    finally:
        database.close()
    page.reload()
    expect(page.get_by_role("cell", name="the receiver answered 503")).to_be_visible()
    look(page, "webhooks-show")

    submit(page, "Rotate secret")
    rotated = page.locator("#new-secret").inner_text()
    assert rotated != secret
    look(page, "webhooks-rotated")
    page.goto(f"{live_server.url}/ui/webhooks/ops")
    assert rotated not in page.content()
    assert secret not in page.content()

    submit(page, "Redeliver delivery 1")
    expect(page.get_by_role("status")).to_contain_text("will be sent again")
    page.get_by_role("link", name="Delete").click()
    look(page, "webhooks-delete")
    submit(page, "Delete webhook ops")
    expect(page.get_by_text("No webhooks yet")).to_be_visible()
