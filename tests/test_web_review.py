"""The review queue's pages, on both engines: queues, an item, reveals,
decisions, preferences, queue settings and the break reminder."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageFilter, ImageStat
from sqlalchemy import func, select

from hashmatch.accounts.users import Users
from hashmatch.review import Reviewer
from hashmatch.store.models import AuditEntry, utcnow
from hashmatch.store.review_models import ReviewerPreference, ReviewReveal
from hashmatch.store.workflow import ReportRequest, ReviewItem
from tests.review_world import ReviewWorld, review_settings
from tests.web_ui import PASSWORD, Ui, open_ui

#: A reveal cap small enough to reach in a test.
CAP = 3
_DATA_URI = re.compile(r"data:image/jpeg;base64,[A-Za-z0-9+/=]+")


@pytest.fixture
def ui(database_url: str, tmp_path: Path) -> Iterator[Ui]:
    """The web UI with media kept (encrypted) and a small reveal cap."""
    kept = review_settings(database_url, tmp_path)
    yield from open_ui(
        database_url,
        tmp_path,
        media_key_file=kept.media_key_file,
        keep_media=True,
        review_daily_reveal_cap=CAP,
    )


@pytest.fixture
def world(ui: Ui) -> ReviewWorld:
    return ReviewWorld.make(ui.service.database, ui.settings)


def picture(uri: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    image.load()
    return image


def sharpness(image: Image.Image) -> float:
    """Mean edge strength: high for a sharp picture, low for a blurred one."""
    return float(ImageStat.Stat(image.convert("L").filter(ImageFilter.FIND_EDGES)).mean[0])


def reveal(ui: Ui, item_id: int) -> Any:
    """A reveal as the page's script asks for it."""
    return ui.http.post(
        f"/ui/review/items/{item_id}/reveal",
        headers={"X-CSRF-Token": ui.csrf_token, "Accept": "application/json"},
        follow_redirects=False,
    )


def rows(ui: Ui, query: Any) -> list[Any]:
    with ui.service.database.reading() as session:
        return list(session.execute(query).all())


def start(ui: Ui, queue: str = "default") -> int:
    """Press "Start reviewing" on ``queue``; the item it opened."""
    answer = ui.post(f"/ui/review/queues/{queue}/next")
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith("/ui/review/items/"), location
    return int(location.rsplit("/", 1)[1])


def test_a_reviewer_starts_reviewing_and_sees_the_matches_but_no_clear_image(
    ui: Ui, world: ReviewWorld
) -> None:
    ids = world.queue_photos(2)
    ui.sign_in("reviewer")
    home = ui.get("/ui/")
    assert 'href="/ui/review"' in home.text
    queues = ui.get("/ui/review")
    assert queues.status_code == 200
    assert "default" in queues.text
    assert "Start reviewing" in queues.text
    assert f"Reveals left today: <strong>{CAP}</strong>" in queues.text

    assert start(ui) == ids[0]
    page = ui.get(f"/ui/review/items/{ids[0]}")
    assert page.status_code == 200
    assert "claimed by user:reviewer" in page.text
    assert "known" in page.text  # the bank
    assert "A1" in page.text  # its label
    assert "upload-0" in page.text  # the content_ref
    assert "pdq" in page.text
    assert "review-known" in page.text  # the rule

    shown = set(_DATA_URI.findall(page.text))
    assert len(shown) == 1, "one preview, and nothing else of the media"
    blurred = picture(shown.pop())
    assert blurred.format == "JPEG"
    assert blurred.mode == "L"
    assert max(blurred.size) <= 320
    kept = ui.service.submissions.media(page_submission(ui, ids[0]))
    with Image.open(io.BytesIO(kept.data)) as original:
        assert blurred.size[0] < original.size[0]
        small = original.convert("L").resize(blurred.size)
    assert sharpness(blurred) < sharpness(small) / 3
    assert "/original" not in page.text.split('id="media-heading"')[0]
    assert "<video" not in page.text


def page_submission(ui: Ui, item_id: int) -> int:
    [(submission_id,)] = rows(ui, select(ReviewItem.submission_id).where(ReviewItem.id == item_id))
    return int(submission_id)


def test_a_reveal_lends_a_clear_image_and_is_counted_until_the_cap(
    ui: Ui, world: ReviewWorld
) -> None:
    [item_id] = world.queue_photos(1)
    ui.sign_in("reviewer")
    page = ui.get(f"/ui/review/items/{item_id}")
    [blurred] = set(_DATA_URI.findall(page.text))

    answer = reveal(ui, item_id)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    lent = answer.json()
    assert lent["seconds"] == 4
    assert lent["left"] == CAP - 1
    clear = picture(lent["image"])
    assert clear.mode == "L"
    assert sharpness(clear) > 3 * sharpness(picture(blurred))
    assert lent["image"] not in ui.get(f"/ui/review/items/{item_id}").text

    reveals = rows(ui, select(ReviewReveal.reviewer, ReviewReveal.kind, ReviewReveal.seconds))
    assert reveals == [("user:reviewer", "preview", 4)]
    audited = rows(
        ui,
        select(AuditEntry.actor, AuditEntry.target).where(AuditEntry.action == "review.reveal"),
    )
    assert audited == [("user:reviewer", f"review_item:{item_id}")]

    for _ in range(CAP - 1):
        assert reveal(ui, item_id).status_code == 200
    refused = reveal(ui, item_id)
    assert refused.status_code == 429
    assert "image" not in refused.json()
    assert "daily limit" in refused.json()["error"]["message"]
    assert rows(ui, select(func.count()).select_from(ReviewReveal)) == [(CAP,)]
    queues = ui.get("/ui/review").text
    assert "Reveals left today: <strong>0</strong>" in queues


def test_without_scripts_a_reveal_is_the_page_with_the_clear_preview(
    ui: Ui, world: ReviewWorld
) -> None:
    [item_id] = world.queue_photos(1)
    ui.sign_in("reviewer")
    page = ui.post(f"/ui/review/items/{item_id}/reveal")
    assert page.status_code == 200
    clear, blurred = (picture(uri) for uri in _DATA_URI.findall(page.text))
    assert sharpness(clear) > 3 * sharpness(blurred)
    assert 'class="shielded grayscale revealed"' in page.text
    for _ in range(CAP - 1):
        ui.post(f"/ui/review/items/{item_id}/reveal")
    refused = ui.post(f"/ui/review/items/{item_id}/reveal")
    assert refused.status_code == 429
    assert "daily limit" in refused.text
    assert len(set(_DATA_URI.findall(refused.text))) == 1


def test_the_original_comes_only_when_asked_and_counts_as_a_reveal(
    ui: Ui, world: ReviewWorld
) -> None:
    [item_id] = world.queue_photos(1)
    ui.sign_in("reviewer")
    ui.get(f"/ui/review/items/{item_id}")
    answer = ui.post(f"/ui/review/items/{item_id}/original")
    assert answer.status_code == 200
    assert answer.content == ui.service.submissions.media(page_submission(ui, item_id)).data
    assert answer.headers["content-type"] == "image/jpeg"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-disposition"] == "inline"
    assert "sandbox" in answer.headers["content-security-policy"]
    assert rows(ui, select(ReviewReveal.kind)) == [("original",)]


def decide(ui: Ui, item_id: int, decision: str, **fields: Any) -> Any:
    return ui.post(f"/ui/review/items/{item_id}/decide", {"decision": decision, **fields})


def test_a_confirmation_needs_a_classification_then_requests_a_report(
    ui: Ui, world: ReviewWorld
) -> None:
    ids = world.queue_photos(2)
    ui.sign_in("reviewer")
    first = start(ui)
    refused = decide(ui, first, "confirm", note="no class")
    assert refused.status_code == 422
    assert "Choose a classification to confirm" in refused.text
    assert 'id="e-classification"' in refused.text
    assert ui.service.review.items.get(first)["status"] == "open"

    decided = decide(ui, first, "confirm", classification="A2", annotations=["viral", "infant"])
    assert decided.status_code == 303
    assert decided.headers["location"] == f"/ui/review/items/{ids[1]}"
    landed = ui.get(decided.headers["location"])
    assert f"Item {first} confirmed as A2. A report was requested." in landed.text
    item = ui.service.review.items.get(first)
    assert item["decision"]["decision"] == "confirm"
    assert item["decision"]["annotations"] == ["viral", "infant"]
    assert item["decision"]["decided_by"] == "user:reviewer"
    requested = rows(ui, select(ReportRequest.review_item_id, ReportRequest.status))
    assert requested == [(first, "pending")]
    audited = rows(ui, select(AuditEntry.actor).where(AuditEntry.action == "review.decide"))
    assert audited == [("user:reviewer",)]

    decided = decide(ui, ids[1], "confirm", classification="B1")
    assert decided.headers["location"] == "/ui/review"
    assert "Nothing waits in default" in ui.get("/ui/review").text


def test_a_false_positive_adds_the_upload_to_an_allowlist_bank(ui: Ui, world: ReviewWorld) -> None:
    [item_id] = world.queue_photos(1)
    ui.sign_in("reviewer")
    page = ui.get(f"/ui/review/items/{item_id}")
    assert '<option value="ours-ok">ours-ok</option>' in page.text
    assert '<option value="known">' not in page.text  # not an allowlist
    not_allowlist = decide(ui, item_id, "false_positive", allowlist_bank="known")
    assert not_allowlist.status_code == 422
    assert "bank &#39;known&#39; is not an allowlist" in not_allowlist.text
    decided = decide(ui, item_id, "false_positive", allowlist_bank="ours-ok", note="a beach")
    assert decided.status_code == 303
    assert "went to allowlist ours-ok" in ui.get(decided.headers["location"]).text
    assert len(ui.service.banks.content_ids("ours-ok")) == 1
    item = ui.service.review.items.get(item_id)
    assert (item["decision"]["decision"], item["decision"]["note"]) == ("false_positive", "a beach")
    assert rows(ui, select(ReportRequest.id)) == []


def test_an_escalation_queues_the_item_again_and_a_skip_gives_it_back(
    ui: Ui, world: ReviewWorld
) -> None:
    ids = world.queue_photos(2)
    ui.sign_in("reviewer")
    no_queue = decide(ui, ids[0], "escalate")
    assert no_queue.status_code == 422
    assert "Name the queue to escalate to" in no_queue.text
    same_queue = decide(ui, ids[0], "escalate", queue="default")
    assert same_queue.status_code == 422
    assert "is in queue &#39;default&#39; already" in same_queue.text
    assert decide(ui, ids[0], "escalate", queue="x", priority="soon").status_code == 422
    escalated = decide(ui, ids[0], "escalate", queue="senior", priority="-5")
    assert escalated.status_code == 303
    item = ui.service.review.items.get(ids[0])
    new_id = item["decision"]["escalated_to"]
    moved = ui.service.review.items.get(new_id)
    assert (moved["queue"], moved["priority"], moved["status"]) == ("senior", -5, "open")
    assert "senior" in ui.get("/ui/review").text

    skipped = decide(ui, ids[1], "skip")
    assert skipped.status_code == 303
    assert skipped.headers["location"] == "/ui/review"  # nothing else waits for this reviewer
    back = ui.service.review.items.get(ids[1])
    assert (back["status"], back["claimed_by"]) == ("open", None)


def test_a_second_reviewer_sees_a_claimed_item_read_only(ui: Ui, world: ReviewWorld) -> None:
    [item_id] = world.queue_photos(1)
    Users(ui.service.database, ui.settings).create("rita", "reviewer", PASSWORD)
    ui.sign_in("reviewer")
    start(ui)
    ui.sign_in("rita")
    page = ui.get(f"/ui/review/items/{item_id}")
    assert page.status_code == 200
    assert f"review item {item_id} is claimed by user:reviewer" in page.text
    assert "/decide" not in page.text
    assert "known" in page.text  # still readable
    refused = decide(ui, item_id, "confirm", classification="A1")
    assert refused.status_code == 409
    assert "claimed by user:reviewer" in refused.text
    assert reveal(ui, item_id).status_code == 409
    assert ui.service.review.items.get(item_id)["status"] == "open"


@pytest.mark.parametrize("role", ["viewer", "curator", "legal"])
def test_roles_without_review_are_refused(ui: Ui, world: ReviewWorld, role: str) -> None:
    [item_id] = world.queue_photos(1)
    ui.sign_in(role)
    assert 'href="/ui/review"' not in ui.get("/ui/").text
    for path in ("/ui/review", f"/ui/review/items/{item_id}", "/ui/review/preferences"):
        assert ui.get(path).status_code == 403, path
    assert ui.post(f"/ui/review/items/{item_id}/reveal").status_code == 403
    assert decide(ui, item_id, "confirm", classification="A1").status_code == 403
    assert rows(ui, select(func.count()).select_from(ReviewReveal)) == [(0,)]


def test_every_change_needs_the_csrf_token(ui: Ui, world: ReviewWorld) -> None:
    [item_id] = world.queue_photos(1)
    ui.sign_in("admin")
    for path in (
        "/ui/review/queues/default/next",
        "/ui/review/break",
        "/ui/review/preferences",
        "/ui/review/queues/default/settings",
        f"/ui/review/items/{item_id}/reveal",
        f"/ui/review/items/{item_id}/original",
        f"/ui/review/items/{item_id}/decide",
        f"/ui/review/items/{item_id}/reopen",
    ):
        answer = ui.http.post(path, data={"decision": "skip"}, follow_redirects=False)
        assert answer.status_code == 403, path
        assert "did not come from this site" in answer.text
    assert ui.service.review.items.get(item_id)["claimed_by"] is None
    assert rows(ui, select(func.count()).select_from(ReviewReveal)) == [(0,)]


def test_preferences_stay_within_the_bounds(ui: Ui) -> None:
    ui.sign_in("reviewer")
    page = ui.get("/ui/review/preferences")
    assert "From 8 to 64 pixels" in page.text
    assert "from 1 to 10 seconds" in page.text
    assert 'name="grayscale"' not in page.text  # review_color_allowed is off
    too_little = ui.post("/ui/review/preferences", {"blur_px": "4", "reveal_seconds": "3"})
    assert too_little.status_code == 422
    assert "blur must be from 8 to 64 pixels" in too_little.text
    too_long = ui.post("/ui/review/preferences", {"blur_px": "20", "reveal_seconds": "30"})
    assert too_long.status_code == 422
    assert "a reveal lasts from 1 to 10 seconds" in too_long.text
    assert ui.post("/ui/review/preferences", {"blur_px": "x"}).status_code == 422
    saved = ui.post("/ui/review/preferences", {"blur_px": "24", "reveal_seconds": "2"})
    assert saved.status_code == 303
    view = ui.service.review.wellness.view_of("user:reviewer")
    assert (view.blur_px, view.grayscale, view.reveal_seconds) == (24, True, 2)
    assert 'value="24"' in ui.get("/ui/review/preferences").text


def test_queue_settings_are_for_admins(ui: Ui, world: ReviewWorld) -> None:
    world.queue_photos(1)
    ui.sign_in("reviewer")
    assert "/settings" not in ui.get("/ui/review").text
    assert ui.get("/ui/review/queues/default/settings").status_code == 403
    assert ui.post("/ui/review/queues/default/settings", {"sla_minutes": "5"}).status_code == 403

    ui.sign_in("admin")
    assert "/ui/review/queues/default/settings" in ui.get("/ui/review").text
    bad = ui.post("/ui/review/queues/default/settings", {"access": "group:x"})
    assert bad.status_code == 422
    assert "must be role:&lt;role&gt;" in bad.text
    saved = ui.post(
        "/ui/review/queues/default/settings",
        {"description": "first look", "sla_minutes": "60", "access": "role:admin\nuser:rita\n"},
    )
    assert saved.status_code == 303
    queue = ui.service.review.queues.get("default")
    assert queue["access"] == ["role:admin", "user:rita"]
    assert (queue["description"], queue["sla_minutes"]) == ("first look", 60)
    ui.sign_in("reviewer")  # no longer admitted
    assert "Start reviewing" not in ui.get("/ui/review").text
    assert ui.post("/ui/review/queues/default/next").status_code == 403


def test_the_break_reminder(ui: Ui, world: ReviewWorld) -> None:
    world.queue_photos(1)
    ui.sign_in("reviewer")
    start(ui)
    assert "Take a break" not in ui.get("/ui/review").text
    now = utcnow()
    with ui.service.database.transaction() as session:
        row = session.get(ReviewerPreference, "user:reviewer")
        assert row is not None
        row.stretch_started_at = now - timedelta(minutes=50)
        row.last_active_at = now
    page = ui.get("/ui/review").text
    assert "You have been reviewing for 50 minutes. Take a break." in page
    taken = ui.post("/ui/review/break")
    assert taken.status_code == 303
    assert "Take a break" not in ui.get("/ui/review").text


def test_an_admin_reopens_a_decided_item(ui: Ui, world: ReviewWorld) -> None:
    [item_id] = world.queue_photos(1)
    ui.sign_in("reviewer")
    decide(ui, item_id, "confirm", classification="A1")
    page = ui.get(f"/ui/review/items/{item_id}").text
    assert "confirm by user:reviewer" in page
    assert "/reopen" not in page
    assert ui.post(f"/ui/review/items/{item_id}/reopen").status_code == 403
    ui.sign_in("admin")
    assert "/reopen" in ui.get(f"/ui/review/items/{item_id}").text
    reopened = ui.post(f"/ui/review/items/{item_id}/reopen", {"note": "wrong item"})
    assert reopened.status_code == 303
    assert ui.service.review.items.get(item_id)["status"] == "open"
    assert rows(ui, select(ReportRequest.status)) == [("withdrawn",)]


def test_the_item_list_filters_and_pages(
    ui: Ui, world: ReviewWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hashmatch.web import review_pages

    monkeypatch.setattr(review_pages, "PAGE_SIZE", 2)
    ids = world.queue_photos(3)
    ui.sign_in("reviewer")
    first = ui.get("/ui/review/items?queue=default&status=open")
    assert first.status_code == 200
    shown = re.findall(r'href="/ui/review/items/(\d+)"', first.text)
    assert shown == [str(ids[2]), str(ids[1])]
    assert f"/ui/review/items?queue=default&amp;status=open&amp;before={ids[1]}" in first.text
    older = ui.get(f"/ui/review/items?queue=default&status=open&before={ids[1]}")
    assert re.findall(r'href="/ui/review/items/(\d+)"', older.text) == [str(ids[0])]
    assert "No items here" in ui.get("/ui/review/items?status=closed").text
    assert ui.get("/ui/review/items?status=odd").status_code == 400


def test_an_item_of_a_queue_that_does_not_admit_the_reviewer_is_refused(
    ui: Ui, world: ReviewWorld
) -> None:
    [item_id] = world.queue_photos(1)
    ui.service.review.queues.configure("default", access=["role:admin"])
    ui.sign_in("reviewer")
    assert ui.get(f"/ui/review/items/{item_id}").status_code == 403
    assert reveal(ui, item_id).status_code == 403
    assert ui.service.review.items.get(item_id)["claimed_by"] is None
    assert ui.service.review.items.get(item_id, Reviewer("user:admin", is_admin=True))
