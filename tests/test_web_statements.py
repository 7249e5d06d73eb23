"""The statements of reasons pages under /ui/statements (admin and legal),
on both engines: the list with its filters and pages, one statement with
what was built and the API's answer, Resend for a failed one; and the
complaints on the transparency page."""

from __future__ import annotations

from html import unescape
from typing import Any

from sqlalchemy import update

from hashmatch.settings import Settings
from hashmatch.statements import build
from hashmatch.store.statement_models import Statement
from hashmatch.web import statement_pages
from tests.test_statements import add_statements, restriction
from tests.transparency_world import build_world
from tests.web_ui import Ui


def _on(ui: Ui) -> Settings:
    """The UI's settings with statements on (the pages show them either way)."""
    return ui.service.settings.model_copy(update={"dsa_statements_enabled": True})  # type: ignore[no-any-return]


def _failed(ui: Ui, count: int = 3) -> list[int]:
    """``count`` statements of verdicts, the first failed with field errors."""
    database = ui.service.database
    ids = add_statements(database, _on(ui), count)
    with database.transaction() as session:
        session.execute(
            update(Statement)
            .where(Statement.id == ids[0])
            .values(
                status="failed",
                last_error="422: category: The selected category is invalid.",
                response={"errors": {"category": ["The selected category is invalid."]}},
            )
        )
    return ids


def test_the_list_with_its_filters(ui: Ui) -> None:
    ids = _failed(ui)
    with ui.service.database.transaction() as session:
        build.record(session, _on(ui), restriction(50, kind="appeal"), submission_id=1)
    ui.sign_in("legal")
    page = ui.get("/ui/statements")
    assert page.status_code == 200
    assert 'href="/ui/statements"' in page.text  # the navigation entry
    for statement_id in ids:
        assert f'<a href="/ui/statements/{statement_id}">{statement_id}</a>' in page.text
    assert "appeal 50" in page.text
    failed = ui.get("/ui/statements", params={"status": "failed"}).text
    assert f'href="/ui/statements/{ids[0]}"' in failed
    assert f'href="/ui/statements/{ids[1]}"' not in failed
    assert "The selected category is invalid." in failed
    appeals = ui.get("/ui/statements", params={"kind": "appeal"}).text
    assert "appeal 50" in appeals
    assert f'href="/ui/statements/{ids[0]}"' not in appeals
    # An unknown filter value shows everything rather than failing.
    assert ui.get("/ui/statements", params={"status": "bogus"}).status_code == 200
    assert (
        "No statements of reasons match"
        in ui.get("/ui/statements", params={"status": "not_sent"}).text
    )


def test_pages_of_statements(ui: Ui, monkeypatch: Any) -> None:
    monkeypatch.setattr(statement_pages, "PAGE_SIZE", 2)
    ids = _failed(ui, 3)
    ui.sign_in("admin")
    first = ui.get("/ui/statements").text
    assert f"/ui/statements?status=&amp;kind=&amp;before={ids[1]}" in first
    second = ui.get("/ui/statements", params={"before": ids[1]}).text
    assert f'href="/ui/statements/{ids[0]}"' in second
    assert f'href="/ui/statements/{ids[2]}"' not in second


def test_one_statement_and_resend(ui: Ui) -> None:
    ids = _failed(ui)
    ui.sign_in("legal")
    page = ui.get(f"/ui/statements/{ids[0]}")
    assert page.status_code == 200
    assert '<dd id="statement-status">failed</dd>' in page.text
    shown = unescape(page.text)
    assert '"puid": "hashmatch-verdict-1"' in shown
    assert '"The selected category is invalid."' in shown
    assert f'action="/ui/statements/{ids[0]}/resend"' in page.text
    done = ui.post(f"/ui/statements/{ids[0]}/resend")
    assert done.status_code == 303
    assert done.headers["location"] == f"/ui/statements/{ids[0]}"
    after = ui.get(f"/ui/statements/{ids[0]}").text
    assert '<dd id="statement-status">pending</dd>' in after
    assert "/resend" not in after  # only a failed one offers it
    again = ui.post(f"/ui/statements/{ids[0]}/resend")
    assert again.status_code == 409
    assert "only a failed one is sent again" in again.text
    pending = ui.get(f"/ui/statements/{ids[1]}").text
    assert "None yet." in pending


def test_unknown_and_malformed_ids(ui: Ui) -> None:
    ui.sign_in("admin")
    assert ui.get("/ui/statements/999").status_code == 404
    assert "no statement of reasons 999" in ui.get("/ui/statements/999").text
    assert ui.get("/ui/statements/-1").status_code == 422
    assert ui.get(f"/ui/statements/{2**63}").status_code == 422
    assert ui.get("/ui/statements", params={"before": "x"}).status_code == 422
    assert ui.post("/ui/statements/999/resend").status_code == 404


def test_only_admin_and_legal_see_them(ui: Ui) -> None:
    [statement_id, *_] = _failed(ui, 1)
    assert ui.get("/ui/statements").status_code in (302, 303)
    for role in ("reviewer", "curator", "viewer"):
        ui.sign_in(role)
        assert ui.get("/ui/statements").status_code == 403
        assert ui.get(f"/ui/statements/{statement_id}").status_code == 403
        assert ui.post(f"/ui/statements/{statement_id}/resend").status_code == 403
        assert 'href="/ui/statements"' not in ui.get("/ui/").text
    with ui.service.database.reading() as session:
        row = session.get(Statement, statement_id)
        assert row is not None
        assert row.status == "failed"


def test_the_transparency_page_counts_complaints(ui: Ui) -> None:
    build_world(ui.service.database)
    ui.sign_in("viewer")
    page = ui.get("/ui/transparency", params={"period": "2026-Q3"}).text
    assert "Complaints (appeals against decisions)" in page
    assert '<th scope="row">median hours to decide</th>' in page
    assert "Statements of reasons (EU DSA)" in page
