"""/v1/platform-users in process, on both engines: scopes, pages by cursor,
refusals as 4xx with a message, and an erasure's summary."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.store import Database
from tests.platform_users_world import UserWorld, user_settings
from tests.test_api_review import KEYS, Api, _error


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[tuple[Api, UserWorld]]:
    database = Database.open(database_url)
    settings = user_settings(database_url, tmp_path, deliver_in_serve=False)
    world = UserWorld.make(database, settings)
    keys = ApiKeys(database)
    secrets = {name: keys.create(name, granted)[0] for name, granted in KEYS.items()}
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as http:
        yield Api(http, world.review_world, secrets), world
    database.close()


def _history(api: Api, user: str, who: str = "alice", **params: Any) -> Any:
    return api.http.get(f"/v1/platform-users/{user}/history", params=params, headers=api.as_(who))


def test_a_reviewer_reads_the_history_a_page_at_a_time(api: tuple[Api, UserWorld]) -> None:
    http, world = api
    made = world.busy_user("user-7")
    whole = _history(http, "user-7")
    assert whole.status_code == 200, whole.text
    body = whole.json()
    assert body["counts"] == {
        "submission": 3,
        "match": 2,
        "review": 1,
        "report": 0,
        "appeal": 1,
        "statement": 1,
    }
    assert body["total"] == 8
    assert body["next_cursor"] is None
    assert body["entries"][0]["kind"] == "appeal"
    assert body["entries"][0]["ids"]["appeal_id"] == made.appeals[0]
    seen: list[Any] = []
    cursor = None
    while True:
        params = {"limit": 3} if cursor is None else {"limit": 3, "cursor": cursor}
        page = _history(http, "user-7", **params).json()
        seen.extend(page["entries"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == body["entries"]
    matches = _history(http, "user-7", kind="match").json()["entries"]
    assert [e["details"]["bank"] for e in matches] == ["known", "known"]


def test_a_user_ref_with_a_slash_is_reachable(api: tuple[Api, UserWorld]) -> None:
    http, world = api
    world.upload("acct/42", matching=False)
    for path in ("acct/42", "acct%2F42"):
        page = _history(http, path)
        assert page.status_code == 200, page.text
        assert page.json()["counts"]["submission"] == 1
    assert _history(http, "acct").status_code == 404


def test_scopes_and_refusals(api: tuple[Api, UserWorld]) -> None:
    http, world = api
    world.upload("user-7", matching=False)
    _error(_history(http, "user-7", who="platform"), 403)
    _error(_history(http, "user-7", who="curator"), 403)
    assert _history(http, "user-7", who="boss").status_code == 200
    _error(http.http.get("/v1/platform-users/user-7/history"), 401)
    assert "nobody" in _error(_history(http, "nobody"), 404, "unknown_platform_user")
    assert "cursor" in _error(
        _history(http, "user-7", cursor="garbage"), 400, "invalid_history_request"
    )
    _error(_history(http, "user-7", kind="opinion"), 422)
    _error(_history(http, "user-7", limit=0), 422)
    _error(http.http.delete("/v1/platform-users/user-7", headers=http.as_("alice")), 403)
    _error(http.http.delete("/v1/platform-users/nobody", headers=http.as_("boss")), 404)


def test_an_admin_erases_a_user(api: tuple[Api, UserWorld]) -> None:
    http, world = api
    made = world.busy_user("user-7")
    report = world.report("user-7", [made.matched[0]], status="finished")
    erased = http.http.delete("/v1/platform-users/user-7", headers=http.as_("boss"))
    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["deleted"]["submissions"] == 2
    assert {(k["kind"], k["id"]) for k in body["kept"]} >= {
        ("report", report),
        ("submission", made.matched[0]),
    }
    left = _history(http, "user-7").json()
    assert left["counts"]["submission"] == 1
    again = http.http.delete("/v1/platform-users/user-7", headers=http.as_("boss"))
    assert again.json()["kept"] == body["kept"]
    assert set(again.json()["deleted"].values()) == {0}
