"""A platform user's history page in the review area, on both engines: for
reviewers only, every kind listed and linked, kept media blurred and grey
from the server with the item's recorded reveal, pages by cursor, and the
link from the review item and appeal pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hashmatch.store.review_models import ReviewReveal
from tests.platform_users_world import Made, UserWorld, user_settings
from tests.test_web_review import _DATA_URI, picture
from tests.web_ui import Ui, open_ui


@pytest.fixture
def ui(database_url: str, tmp_path: Path) -> Iterator[Ui]:
    kept = user_settings(database_url, tmp_path)
    yield from open_ui(
        database_url,
        tmp_path,
        media_key_file=kept.media_key_file,
        keep_media=True,
        dsa_statements_enabled=True,
    )


@pytest.fixture
def made(ui: Ui) -> tuple[UserWorld, Made]:
    world = UserWorld.make(ui.service.database, ui.settings)
    return world, world.busy_user("user/7")  # a slash: refs are the platform's own


def test_a_reviewer_sees_the_history_with_media_shielded(
    ui: Ui, made: tuple[UserWorld, Made]
) -> None:
    world, history = made
    ui.sign_in("reviewer")
    page = ui.get("/ui/platform-users/user%2F7")
    assert page.status_code == 200, page.text
    text = page.text
    assert "Platform user <code>user/7</code>" in text
    assert "submission (3)" in text
    assert "match (2)" in text
    assert f'href="/ui/review/appeals/{history.appeals[0]}"' in text
    assert f'href="/ui/review/items/{history.items[0]}"' in text
    assert "confirm A1 by user:alice" in text
    previews = set(_DATA_URI.findall(text))
    assert len(previews) == 2  # the two matched uploads kept their media
    assert all(picture(uri).mode == "L" for uri in previews)
    for item_id in history.items:
        assert f'action="/ui/review/items/{item_id}/reveal"' in text
    revealed = ui.post(
        f"/ui/review/items/{history.items[1]}/reveal", headers={"Accept": "application/json"}
    )
    assert revealed.status_code == 200, revealed.text
    with world.database.reading() as session:
        assert session.scalar(select(func.count()).select_from(ReviewReveal)) == 1


def test_pages_and_kinds(ui: Ui, made: tuple[UserWorld, Made]) -> None:
    ui.sign_in("reviewer")
    first = ui.get("/ui/platform-users/user%2F7?kind=match")
    assert first.text.count('data-kind="match"') == 2
    assert 'data-kind="submission"' not in first.text
    world, _ = made
    for _ in range(30):
        world.upload("user/7", matching=False)
    page = ui.get("/ui/platform-users/user%2F7")
    assert page.text.count("<tr data-kind") == 25
    [older] = [line for line in page.text.splitlines() if 'rel="next"' in line]
    href = older.split('href="')[1].split('"')[0].replace("&amp;", "&")
    rest = ui.get(href)
    assert rest.status_code == 200
    assert rest.text.count("<tr data-kind") == 8 + 30 - 25
    assert "↑ Newest" in rest.text


def test_refusals_are_pages(ui: Ui, made: tuple[UserWorld, Made]) -> None:
    assert ui.get("/ui/platform-users/user%2F7").status_code in (303, 307)
    ui.sign_in("viewer")
    assert ui.get("/ui/platform-users/user%2F7").status_code == 403
    ui.sign_in("reviewer")
    unknown = ui.get("/ui/platform-users/nobody")
    assert unknown.status_code == 404
    assert "nothing is known about platform user" in unknown.text
    bad = ui.get("/ui/platform-users/user%2F7?cursor=garbage")
    assert bad.status_code == 400
    assert "cursor" in bad.text


def test_the_review_item_and_appeal_pages_link_to_the_history(
    ui: Ui, made: tuple[UserWorld, Made]
) -> None:
    _, history = made
    ui.sign_in("admin")
    for path in (
        f"/ui/review/items/{history.items[0]}",
        f"/ui/review/appeals/{history.appeals[0]}",
    ):
        page = ui.get(path)
        assert page.status_code == 200, page.text
        assert 'href="/ui/platform-users/user%2F7"' in page.text
