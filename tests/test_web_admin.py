"""The admin pages, on both engines: API keys (shown once, revoked) and users
(created, role set, disabled, passwords and second factors reset)."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import select

from hashmatch.store.models import AuditEntry
from tests.web_ui import PASSWORD, Ui

NEW_KEY = re.compile(r'<code id="new-key" class="secret">(hm_[^<]+)</code>')
OTHER = "another long password"


def audited(ui: Ui, action: str) -> list[AuditEntry]:
    with ui.service.database.reading() as session:
        query = select(AuditEntry).where(
            AuditEntry.action == action, AuditEntry.actor.like("user:%")
        )
        return list(session.scalars(query))


# -- API keys ---------------------------------------------------------------------


def test_a_new_key_is_shown_once_and_works(ui: Ui) -> None:
    ui.sign_in("admin")
    assert "No API keys yet" in ui.get("/ui/keys").text
    assert ui.get("/ui/keys/new").status_code == 200
    made = ui.post("/ui/keys", {"name": "uploads", "scopes": ["match", "submit"]})
    assert made.status_code == 200, made.text
    key = NEW_KEY.search(made.text)
    assert key
    assert '<button type="button" class="button small" data-copy="new-key" hidden>' in made.text
    info = ui.service.keys.authenticate(key.group(1))
    assert info is not None
    assert info.scopes == ("match", "submit")

    listed = ui.get("/ui/keys")
    assert "uploads" in listed.text
    assert info.prefix in listed.text
    assert key.group(1) not in listed.text
    assert 'id="new-key"' not in listed.text
    assert (
        ui.http.get("/v1/banks", headers={"Authorization": f"Bearer {key.group(1)}"}).status_code
        != 401
    )

    assert "Revoke key uploads?" in ui.get("/ui/keys/uploads/revoke").text
    revoked = ui.post("/ui/keys/uploads/revoke")
    assert revoked.headers["location"] == "/ui/keys"
    assert "revoked" in ui.get("/ui/keys").text
    ui.service.keys._verified.clear()
    assert ui.service.keys.authenticate(key.group(1)) is None
    assert [e.actor for e in audited(ui, "key.create")] == ["user:admin"]
    assert [e.actor for e in audited(ui, "key.revoke")] == ["user:admin"]
    with ui.service.database.reading() as session:
        texts = [f"{e.before}{e.after}" for e in session.scalars(select(AuditEntry))]
    assert not any(key.group(1) in text for text in texts)


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"name": "", "scopes": ["match"]}, "name", "needs a name"),
        ({"name": "k", "scopes": []}, "scopes", "at least one scope"),
        ({"name": "bad name", "scopes": ["match"]}, "name", "invalid key name"),
        ({"name": "k", "scopes": ["root"]}, "scopes", "scopes must be"),
    ],
)
def test_a_wrong_key_is_shown_next_to_its_field(
    ui: Ui, form: dict[str, object], field: str, message: str
) -> None:
    ui.sign_in("admin")
    answer = ui.post("/ui/keys", form)
    assert answer.status_code == 422
    assert message in answer.text.split(f'id="e-{field}">', 1)[1].split("</p>", 1)[0]
    assert 'id="new-key"' not in answer.text


def test_a_second_key_of_one_name_is_refused(ui: Ui) -> None:
    ui.sign_in("admin")
    ui.post("/ui/keys", {"name": "uploads", "scopes": ["match"]})
    again = ui.post("/ui/keys", {"name": "uploads", "scopes": ["match"]})
    assert again.status_code == 422
    assert "already exists" in again.text


# -- users ------------------------------------------------------------------------


def test_an_admin_creates_a_user_who_then_signs_in(ui: Ui) -> None:
    ui.sign_in("admin")
    listed = ui.get("/ui/users").text
    assert all(name in listed for name in ("curator", "reviewer", "legal"))
    assert ui.get("/ui/users/new").status_code == 200
    made = ui.post(
        "/ui/users", {"name": "sam", "role": "curator", "password": OTHER, "again": OTHER}
    )
    assert made.headers["location"] == "/ui/users/sam"
    assert "User sam created." in ui.get("/ui/users/sam").text
    assert ui.sign_in("sam", OTHER).status_code == 303
    assert ui.get("/ui/rules").status_code == 200
    assert ui.get("/ui/users").status_code == 403
    assert [e.actor for e in audited(ui, "user.create")] == ["user:admin"]


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"name": "", "role": "viewer"}, "name", "needs a name"),
        ({"name": "x", "role": "king"}, "role", "Choose one of"),
        ({"name": "x", "role": "viewer", "again": "different"}, "again", "differ"),
        ({"name": "x", "role": "viewer", "password": "short", "again": "short"}, "password", ""),
        ({"name": "viewer", "role": "viewer"}, "name", "already exists"),
        ({"name": "no spaces", "role": "viewer"}, "name", "invalid user name"),
    ],
)
def test_a_wrong_user_is_shown_next_to_its_field(
    ui: Ui, form: dict[str, str], field: str, message: str
) -> None:
    ui.sign_in("admin")
    answer = ui.post("/ui/users", {"password": OTHER, "again": OTHER, **form})
    assert answer.status_code == 422
    assert message in answer.text.split(f'id="e-{field}">', 1)[1].split("</p>", 1)[0]


def test_an_admin_changes_roles_access_passwords_and_second_factors(ui: Ui) -> None:
    users = ui.service.users
    secret = users.begin_totp("viewer")
    assert users.confirm_totp("viewer", pyotp.TOTP(secret).now())
    ui.sign_in("admin")
    page = ui.get("/ui/users/viewer").text
    assert "Reset second factor" in page

    assert ui.post("/ui/users/viewer/role", {"role": "curator"}).status_code == 303
    assert users.get("viewer").role == "curator"
    assert ui.post("/ui/users/viewer/role", {"role": "king"}).status_code == 422
    assert ui.post("/ui/users/viewer/totp/reset").status_code == 303
    assert not users.get("viewer").totp_enabled
    assert ui.post("/ui/users/viewer/disable").status_code == 303
    assert users.get("viewer").disabled_at is not None
    assert "Enable viewer" in ui.get("/ui/users/viewer").text
    assert ui.post("/ui/users/viewer/enable").status_code == 303
    assert users.get("viewer").disabled_at is None
    short = ui.post("/ui/users/viewer/password", {"password": "x", "again": "x"})
    assert short.status_code == 422
    assert 'id="e-password"' in short.text
    differ = ui.post("/ui/users/viewer/password", {"password": OTHER, "again": "no"})
    assert differ.status_code == 422
    assert 'id="e-again"' in differ.text
    assert (
        ui.post("/ui/users/viewer/password", {"password": OTHER, "again": OTHER}).status_code == 303
    )
    for action in (
        "user.set_role",
        "user.totp_disable",
        "user.disable",
        "user.enable",
        "user.reset_password",
    ):
        assert [e.actor for e in audited(ui, action)] == ["user:admin"], action
    assert ui.sign_in("viewer", PASSWORD).status_code == 401
    assert ui.sign_in("viewer", OTHER).status_code == 303


def test_the_last_enabled_admin_cannot_be_disabled_or_demoted(ui: Ui) -> None:
    ui.sign_in("admin")
    demoted = ui.post("/ui/users/admin/role", {"role": "viewer"})
    assert demoted.status_code == 422
    assert "last enabled admin" in demoted.text.split('id="e-role">', 1)[1]
    disabled = ui.post("/ui/users/admin/disable")
    assert disabled.status_code == 422
    assert "last enabled admin" in disabled.text
    assert ui.service.users.get("admin").role == "admin"
    assert ui.service.users.get("admin").disabled_at is None

    ui.post("/ui/users/curator/role", {"role": "admin"})
    assert ui.post("/ui/users/admin/role", {"role": "viewer"}).status_code == 303
    assert ui.service.users.get("admin").role == "viewer"


@pytest.mark.parametrize("name", ["curator", "reviewer", "viewer", "legal"])
def test_only_admins_open_keys_and_users(ui: Ui, name: str) -> None:
    ui.sign_in(name)
    for path in ("/ui/keys", "/ui/keys/new", "/ui/users", "/ui/users/new", "/ui/users/admin"):
        assert ui.get(path).status_code == 403, path
    assert ui.post("/ui/keys", {"name": "mine", "scopes": ["admin"]}).status_code == 403
    assert (
        ui.post(
            "/ui/users", {"name": "me2", "role": "admin", "password": OTHER, "again": OTHER}
        ).status_code
        == 403
    )
    assert ui.post("/ui/users/admin/disable").status_code == 403
    assert ui.post(f"/ui/users/{name}/role", {"role": "admin"}).status_code == 403
    assert ui.service.keys.all() == []
    assert ui.service.users.get(name).role == name
