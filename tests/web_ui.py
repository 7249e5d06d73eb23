"""A signed-in web UI for tests: the app on one engine, one person per role.

    def test_banks_page(ui: Ui) -> None:
        ui.sign_in("curator")
        page = ui.get("/ui/banks")
        ui.post("/ui/banks", {"name": "known"})     # the CSRF token is added

Each role has a user named after it with :data:`PASSWORD`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient

from hashmatch.accounts.roles import ROLES
from hashmatch.accounts.users import Users
from hashmatch.api import create_app
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.web.access import SESSION_COOKIE

PASSWORD = "correct horse battery"
_LOGIN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Ui:
    def __init__(self, http: TestClient, settings: Settings) -> None:
        self.http = http
        self.settings = settings

    @property
    def service(self) -> Any:
        return self.http.app.state.service  # type: ignore[attr-defined]

    def sign_in(self, name: str, password: str = PASSWORD) -> httpx.Response:
        """Sign in as ``name`` (signing out whoever was signed in)."""
        self.http.cookies.clear()
        form = self.http.get("/ui/login")
        token = _LOGIN_TOKEN.search(form.text)
        assert token, form.text
        return self.http.post(
            "/ui/login",
            data={"csrf_token": token.group(1), "name": name, "password": password},
            follow_redirects=False,
        )

    @property
    def csrf_token(self) -> str:
        session = self.service.web_sessions.find(self.http.cookies.get(SESSION_COOKIE))
        assert session is not None, "not signed in"
        return str(session.csrf_token)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, follow_redirects=False, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        """POST a form with this session's CSRF token."""
        return self.http.post(
            path,
            data={"csrf_token": self.csrf_token, **(data or {})},
            follow_redirects=False,
            **kwargs,
        )


def open_ui(database_url: str, tmp_path: Path, **settings: Any) -> Iterator[Ui]:
    configured = Settings(data_dir=tmp_path / "data", database_url=database_url, **settings)
    database = Database.open(database_url)
    users = Users(database, configured)
    for role in ROLES:
        users.create(role, role, PASSWORD)
    database.close()
    app = create_app(configured)
    with TestClient(app, raise_server_exceptions=False) as http:
        app.state.service.wait_until_loaded(60)
        yield Ui(http, configured)
