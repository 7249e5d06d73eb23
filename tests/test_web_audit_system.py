"""The audit log, settings and system pages, on both engines: filters and
keyset pages, the chain check, who may open which, and secrets never shown."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, update

from hashmatch import audit
from hashmatch.settings import Settings
from hashmatch.store.models import AuditEntry
from hashmatch.web.audit_log import PAGE_SIZE, changes
from hashmatch.web.system import is_secret, mask_urls
from tests.web_ui import Ui

ROWS = re.compile(r"<tr>\s*<td>(\d+)</td>")
DB_PASSWORD = "s3cret-db-pw"
COMMAND_TOKEN = "tok-9f8e7d6c"


def seqs(html: str) -> list[int]:
    return [int(seq) for seq in ROWS.findall(html)]


def fill_log(ui: Ui, count: int, *, at: datetime | None = None) -> None:
    events = [
        audit.Event(
            "bank.update" if n % 2 else "content.add",
            f"bank:b{n % 3}" if n % 2 else f"content:b{n % 3}/{n}",
            before={"n": n - 1} if n % 2 else None,
            after={"n": n},
            actor=audit.Actor(f"key:k{n % 2}"),
        )
        for n in range(count)
    ]
    with ui.service.database.transaction() as session:
        audit.record_all(session, events, at=at)


# -- the audit log ------------------------------------------------------------------


def test_changes_made_in_the_ui_are_listed_with_the_person_as_actor(ui: Ui) -> None:
    ui.sign_in("admin")
    assert ui.post("/ui/keys", {"name": "uploads", "scopes": ["match"]}).status_code == 200
    ui.sign_in("viewer")
    page = ui.get("/ui/audit")
    assert page.status_code == 200
    assert "user:admin" in page.text
    assert "key.create" in page.text
    assert "key:uploads" in page.text
    assert page.text.count("<h1>") == 1
    assert '<th scope="col">' in page.text


def test_the_log_is_paged_newest_first_by_keyset(ui: Ui) -> None:
    fill_log(ui, PAGE_SIZE * 2 + 5)
    ui.sign_in("admin")
    first = ui.get("/ui/audit")
    shown = seqs(first.text)
    newest = shown[0]
    assert len(shown) == PAGE_SIZE
    assert shown == sorted(shown, reverse=True)
    assert 'rel="prev"' not in first.text
    older = re.search(r'href="(/ui/audit\?before=\d+)" rel="next"', first.text)
    assert older
    assert older.group(1) == f"/ui/audit?before={shown[-1]}"
    second = ui.get(older.group(1))
    assert seqs(second.text) == list(range(shown[-1] - 1, shown[-1] - 1 - PAGE_SIZE, -1))
    back = re.search(r'href="(/ui/audit\?after=\d+)" rel="prev"', second.text)
    assert back
    assert seqs(ui.get(back.group(1)).text) == shown
    last = ui.get(f"/ui/audit?before={PAGE_SIZE + 1}")
    assert seqs(last.text)[-1] == 1
    assert 'rel="next"' not in last.text
    assert newest == max(shown)


def test_filters_narrow_the_log_and_are_kept_by_the_pager(ui: Ui) -> None:
    fill_log(ui, 40)
    ui.sign_in("viewer")
    by_actor = ui.get("/ui/audit", params={"actor": "key:k1"})
    assert by_actor.status_code == 200
    assert "key:k1" in by_actor.text
    assert "<td>key:k0</td>" not in by_actor.text
    by_action = ui.get("/ui/audit", params={"action": "content.*"})
    assert "content.add" in by_action.text
    assert "<code>bank.update</code>" not in by_action.text
    by_target = ui.get("/ui/audit", params={"target": "bank:b1"})
    assert seqs(by_target.text)
    assert "<code>content:" not in by_target.text
    nothing = ui.get("/ui/audit", params={"actor": "user:nobody"})
    assert "No entries match these filters" in nothing.text

    fill_log(ui, PAGE_SIZE * 2)
    paged = ui.get("/ui/audit", params={"actor": "key:k0"})
    link = re.search(r'href="(/ui/audit\?[^"]+)" rel="next"', paged.text)
    assert link
    assert "actor=key%3Ak0" in link.group(1)
    assert "<td>key:k1</td>" not in ui.get(link.group(1).replace("&amp;", "&")).text


def test_since_and_until_take_utc_times_and_say_what_is_wrong(ui: Ui) -> None:
    fill_log(ui, 3, at=datetime(2026, 1, 1, 12, tzinfo=UTC))
    fill_log(ui, 2)
    ui.sign_in("legal")
    old_ones = ui.get("/ui/audit", params={"actor": "key:*", "until": "2026-01-02"})
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    new_ones = ui.get("/ui/audit", params={"actor": "key:*", "since": hour_ago})
    assert len(seqs(old_ones.text)) == 3
    assert len(seqs(new_ones.text)) == 2
    assert set(seqs(old_ones.text)).isdisjoint(seqs(new_ones.text))
    window = ui.get(
        "/ui/audit", params={"since": "2026-01-01T11:00:00Z", "until": "2026-01-01T13:00"}
    )
    assert seqs(window.text) == seqs(old_ones.text)
    wrong = ui.get("/ui/audit", params={"since": "last tuesday"})
    assert wrong.status_code == 422
    assert 'id="e-since"' in wrong.text
    assert "2026-11-26T16:00" in wrong.text
    assert 'value="last tuesday"' in wrong.text
    assert ui.get("/ui/audit", params={"before": "x"}).status_code == 422


def test_each_change_is_shown_compactly(ui: Ui) -> None:
    found = changes(
        {"name": "known", "threshold": 31, "gone": 1},
        {"name": "known", "threshold": 16, "new": "x" * 200},
    )
    assert [(c.field, c.before, c.after) for c in found] == [
        ("threshold", "31", "16"),
        ("gone", "1", None),
        ("new", None, "x" * 79 + "…"),
    ]
    fill_log(ui, 2)
    ui.sign_in("viewer")
    page = ui.get("/ui/audit").text
    assert "<del>0</del> → <ins>1</ins>" in page
    assert "<summary>Full entry 2</summary>" in page


def test_the_chain_check_says_it_holds_and_finds_an_edit(ui: Ui) -> None:
    fill_log(ui, 5)
    ui.sign_in("viewer")
    holds = ui.get("/ui/audit/verify")
    assert holds.status_code == 200
    assert re.search(r"The chain holds: \d+ entries read", holds.text)
    with ui.service.database.reading() as session:
        head = audit.verify(session).head
    assert head in holds.text
    assert "The chain holds" in ui.get("/ui/audit/verify", params={"expect_head": head}).text
    wrong = ui.get("/ui/audit/verify", params={"expect_head": "not a head"})
    assert wrong.status_code == 422
    assert 'id="e-expect_head"' in wrong.text

    with ui.service.database.transaction() as session:
        session.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(after={"n": 99}))
    broken = ui.get("/ui/audit/verify")
    assert "The chain is broken" in broken.text
    assert "entry 3 was changed after it was written" in broken.text


def test_an_empty_log_says_what_writes_to_it(ui: Ui) -> None:
    ui.sign_in("viewer")
    with ui.service.database.transaction() as session:
        session.execute(delete(AuditEntry))  # the users' creation and the sign-in
    assert "Nothing has been changed yet" in ui.get("/ui/audit").text


# -- who may open which -------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "audit_log", "settings", "system"),
    [
        ("admin", 200, 200, 200),
        ("curator", 403, 403, 200),
        ("reviewer", 403, 403, 403),
        ("viewer", 200, 403, 200),
        ("legal", 200, 403, 200),
    ],
)
def test_each_role_opens_only_its_pages(
    ui: Ui, role: str, audit_log: int, settings: int, system: int
) -> None:
    ui.sign_in(role)
    assert ui.get("/ui/audit").status_code == audit_log
    assert ui.get("/ui/audit/verify").status_code == audit_log
    assert ui.get("/ui/settings").status_code == settings
    refused = ui.get("/ui/system")
    assert refused.status_code == system
    if system == 403:
        assert "may not open this page" in refused.text
        assert "<html" in refused.text


def test_signed_out_people_are_sent_to_sign_in(ui: Ui) -> None:
    for path in ("/ui/audit", "/ui/settings", "/ui/system"):
        answer = ui.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/ui/login?next=")


# -- settings -----------------------------------------------------------------------


def test_masking_rules() -> None:
    assert mask_urls("postgresql://hm:pw@db/x") == "postgresql://hm:***@db/x"
    assert mask_urls("postgresql+psycopg://hm@db/x") == "postgresql+psycopg://hm@db/x"
    assert mask_urls("sqlite:////tmp/h.db") == "sqlite:////tmp/h.db"
    assert is_secret("media_key_command", "cat /k")
    assert is_secret("api_token", None)
    assert is_secret("smtp_password", "x")
    assert is_secret("cybertip_credentials", "x")
    assert not is_secret("webhook_secret_grace_hours", 24.0)
    assert not is_secret("port", 5100)


def test_settings_are_listed_with_secrets_masked(ui: Ui, monkeypatch: pytest.MonkeyPatch) -> None:
    shown = ui.settings.model_copy(
        update={
            "database_url": f"postgresql://hashmatch:{DB_PASSWORD}@db.example:5432/hashmatch",
            "media_key_command": f"vault read -field=key secret/hashmatch?token={COMMAND_TOKEN}",
            "url_allowed_hosts": ["cdn.example"],
            "port": 5200,
        }
    )
    monkeypatch.setattr(ui.service, "settings", shown)
    monkeypatch.setenv("HASHMATCH_PORT", "5200")
    ui.sign_in("admin")
    page = ui.get("/ui/settings")
    assert page.status_code == 200
    assert DB_PASSWORD not in page.text
    assert COMMAND_TOKEN not in page.text
    assert "postgresql://hashmatch:***@db.example:5432/hashmatch" in page.text
    assert "secret/hashmatch" not in page.text
    assert "(set, hidden)" in page.text
    for name in Settings.model_fields:
        assert f'id="setting-{name}"' in page.text
    assert "Attempts per delivery before it is dead-lettered." in page.text
    port = page.text.split('id="setting-port"')[1].split("</tr>")[0]
    assert "5200" in port
    assert "environment" in port
    workers = page.text.split('id="setting-workers"')[1].split("</tr>")[0]
    assert "default" in workers


# -- system -------------------------------------------------------------------------


def test_the_system_page_shows_status_and_metrics_figures(ui: Ui) -> None:
    ui.sign_in("viewer")
    ui.get("/ui/")
    page = ui.get("/ui/system")
    assert page.status_code == 200
    text = page.text
    assert "loaded and current" in text
    assert "Change log seq" in text
    assert "Deliveries waiting" in text
    assert ui.service.database.dialect in text
    from hashmatch import __version__

    assert __version__ in text
    assert "<code>/ui/</code>" in text
    assert "2xx: 1" in text
    assert "The index is empty" in text
