"""The banks and bank content pages, on both engines: list, create, edit,
switch, delete with a typed name, and content paged, searched, added,
imported, disabled and removed, each change audited as the person."""

from __future__ import annotations

import html
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from hashmatch.hashlists import Entry
from hashmatch.store.models import AuditEntry
from hashmatch.web import content
from tests.web_ui import Ui

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
NEAR = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b2d"


def bank_form(**changes: str) -> dict[str, str]:
    return {
        "name": "known",
        "description": "Known images",
        "kind": "match",
        "labels": "a1, csam",
        "threshold_pdq": "",
        "enabled": "on",
        **changes,
    }


def actors(ui: Ui, action: str) -> list[str]:
    with ui.service.database.reading() as session:
        return [
            e.actor for e in session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        ]


def test_a_curator_creates_edits_switches_and_deletes_a_bank(ui: Ui) -> None:
    ui.sign_in("curator")
    empty = ui.get("/ui/banks")
    assert empty.status_code == 200
    assert "No banks yet" in empty.text
    assert ui.get("/ui/banks/new").status_code == 200
    made = ui.post("/ui/banks", bank_form(threshold_pdq="20"))
    assert made.status_code == 303, made.text
    assert made.headers["location"] == "/ui/banks/known"
    shown = ui.get("/ui/banks/known")
    assert "Bank created." in shown.text
    assert "This bank is empty" in shown.text
    bank = ui.service.banks.get("known")
    assert bank.labels == ["A1", "csam"]
    assert bank.thresholds == {"pdq": 20}
    assert bank.enabled
    assert actors(ui, "bank.create") == ["user:curator"]
    listed = ui.get("/ui/banks").text
    assert 'href="/ui/banks/known"' in listed
    assert "A1" in listed

    edit = ui.get("/ui/banks/known/edit")
    assert edit.status_code == 200
    assert 'value="20"' in edit.text
    saved = ui.post(
        "/ui/banks/known/edit",
        bank_form(name="known2", kind="allowlist", threshold_pdq="10", description="changed"),
    )
    assert saved.status_code == 303, saved.text
    bank = ui.service.banks.get("known2")
    assert (bank.kind, bank.thresholds, bank.description) == ("allowlist", {"pdq": 10}, "changed")

    assert ui.post("/ui/banks/known2/disable").status_code == 303
    assert not ui.service.banks.get("known2").enabled
    assert ui.post("/ui/banks/known2/enable").status_code == 303
    assert ui.service.banks.get("known2").enabled

    assert "Type the bank" in ui.get("/ui/banks/known2/delete").text
    wrong = ui.post("/ui/banks/known2/delete", {"confirm": "known"})
    assert wrong.status_code == 422
    assert "to delete it" in wrong.text
    assert ui.service.banks.get("known2")
    gone = ui.post("/ui/banks/known2/delete", {"confirm": "known2"})
    assert gone.status_code == 303
    assert gone.headers["location"] == "/ui/banks"
    assert "Bank known2 deleted" in ui.get("/ui/banks").text
    assert actors(ui, "bank.delete") == ["user:curator"]


def test_bank_form_errors_are_shown_next_to_the_field(ui: Ui) -> None:
    ui.service.banks.create("known")
    ui.sign_in("admin")
    for form, field, words in [
        (bank_form(name=""), "name", "needs a name"),
        (bank_form(name="bad name!"), "name", "invalid bank name"),
        (bank_form(), "name", "already exists"),
        (bank_form(name="x", threshold_pdq="999"), "threshold_pdq", "whole number 0-"),
        (bank_form(name="x", threshold_pdq="ten"), "threshold_pdq", "A whole number"),
        (bank_form(name="x", labels="a;b"), "labels", "invalid label"),
        (bank_form(name="x", kind="other"), "kind", "One of"),
    ]:
        answer = ui.post("/ui/banks", form)
        assert answer.status_code == 422, (form, answer.text)
        assert f'id="e-{field}"' in answer.text, (form, answer.text)
        assert words in answer.text, (form, answer.text)
        assert "Traceback" not in answer.text


def test_a_viewer_reads_but_cannot_change(ui: Ui) -> None:
    ui.service.banks.create("known")
    ui.sign_in("viewer")
    listed = ui.get("/ui/banks")
    assert listed.status_code == 200
    assert "New bank" not in listed.text
    shown = ui.get("/ui/banks/known")
    assert shown.status_code == 200
    assert "Add content" not in shown.text
    assert "/edit" not in shown.text
    for path in (
        "/ui/banks/new",
        "/ui/banks/known/edit",
        "/ui/banks/known/delete",
        "/ui/banks/known/add",
    ):
        assert ui.get(path).status_code == 403, path
    for path in (
        "/ui/banks",
        "/ui/banks/known/edit",
        "/ui/banks/known/disable",
        "/ui/banks/known/delete",
        "/ui/banks/known/add/hash",
        "/ui/banks/known/import",
    ):
        assert ui.post(path, bank_form(confirm="known")).status_code == 403, path
    assert ui.service.banks.get("known").enabled
    ui.sign_in("reviewer")
    assert ui.get("/ui/banks").status_code == 403


def test_unknown_banks_and_content_are_404_pages(ui: Ui) -> None:
    ui.sign_in("curator")
    for path in ("/ui/banks/nope", "/ui/banks/nope/edit", "/ui/banks/nope/content/1"):
        answer = ui.get(path)
        assert answer.status_code == 404, path
        assert "<h1>" in answer.text, path
    ui.service.banks.create("known")
    assert ui.get("/ui/banks/known/content/99").status_code == 404


def test_content_is_added_by_hash_searched_disabled_and_removed(ui: Ui) -> None:
    ui.service.banks.create("known")
    ui.sign_in("curator")
    assert ui.get("/ui/banks/known/add").status_code == 200
    bad = ui.post("/ui/banks/known/add/hash", {"signal_type": "pdq", "value": "zz"})
    assert bad.status_code == 422
    assert 'id="e-value"' in bad.text
    added = ui.post(
        "/ui/banks/known/add/hash",
        {"signal_type": "pdq", "value": PDQ, "external_id": "case-1", "labels": "A1", "note": "n"},
    )
    assert added.status_code == 303, added.text
    location = added.headers["location"]
    content_id = int(location.rsplit("/", 1)[1])
    page = ui.get(location)
    assert "Content added." in page.text
    assert PDQ in page.text
    again = ui.post("/ui/banks/known/add/hash", {"signal_type": "pdq", "value": PDQ})
    assert again.headers["location"] == location
    assert "already has this content" in ui.get(location).text
    assert actors(ui, "content.add") == ["user:curator"]

    listed = ui.get("/ui/banks/known").text
    assert "case-1" in listed
    assert f"/content/{content_id}" in listed
    by_id = ui.get("/ui/banks/known", params={"by": "external_id", "q": "case-1"}).text
    assert "1 found" in by_id
    assert (
        "Nothing in this bank"
        in ui.get("/ui/banks/known", params={"by": "external_id", "q": "other"}).text
    )
    assert "1 found" in ui.get("/ui/banks/known", params={"by": "label", "q": "A1"}).text
    assert "Nothing in" in ui.get("/ui/banks/known", params={"by": "label", "q": "A"}).text
    ui.service.refresh_soon()
    near = ui.get("/ui/banks/known", params={"by": "hash", "q": NEAR, "signal_type": "pdq"})
    assert "1 found" in near.text, near.text
    assert "<td>4</td>" in near.text, near.text
    assert ui.get("/ui/banks/known", params={"by": "hash", "q": "xx"}).status_code == 422

    past = ui.post(f"{location}/disable", {"until": "2001-01-01"})
    assert past.status_code == 422
    assert "future" in past.text
    assert ui.post(f"{location}/disable", {"until": "2999-01-01"}).status_code == 303
    assert "disabled until 2999-01-01" in ui.get(location).text
    assert ui.post(f"{location}/enable").status_code == 303
    assert ui.service.banks.content("known", content_id).enabled()
    assert actors(ui, "content.disable") == ["user:curator"]
    removed = ui.post(f"{location}/remove")
    assert removed.headers["location"] == "/ui/banks/known"
    assert ui.get(location).status_code == 404
    assert actors(ui, "content.remove") == ["user:curator"]


def test_content_is_paged_newest_first(ui: Ui) -> None:
    ui.service.banks.create("known")
    ui.service.banks.import_entries(
        "known", [Entry({"md5": f"{n:032x}"}, f"item-{n}") for n in range(60)]
    )
    ui.sign_in("viewer")
    first = ui.get("/ui/banks/known").text
    assert "item-59" in first
    assert "item-9<" not in first
    assert 'rel="next"' in first
    before = first.split("?before=")[1].split('"')[0]
    second = ui.get(f"/ui/banks/known?before={before}").text
    assert "item-9<" in second
    assert "item-59" not in second
    assert 'rel="next"' not in second


def test_an_uploaded_image_is_hashed_and_added(ui: Ui, photo_path: Path) -> None:
    ui.service.banks.create("known")
    ui.sign_in("curator")
    with photo_path.open("rb") as stream:
        added = ui.post(
            "/ui/banks/known/add/upload",
            {"labels": "A1"},
            files={"file": ("beach.jpg", stream, "image/jpeg")},
        )
    assert added.status_code == 303, added.text
    content = ui.service.banks.content("known", int(added.headers["location"].rsplit("/", 1)[1]))
    assert set(content.signals) >= {"pdq", "md5", "sha256"}
    assert content.source == "ui"
    broken = ui.post(
        "/ui/banks/known/add/upload",
        {},
        files={"file": ("x.jpg", photo_path.read_bytes()[:300], "image/jpeg")},
    )
    assert broken.status_code == 422
    assert 'id="e-file"' in broken.text
    assert "Traceback" not in broken.text
    missing = ui.post("/ui/banks/known/add/upload", {})
    assert missing.status_code == 422
    assert "Choose an image" in missing.text


def test_a_list_import_shows_its_report(ui: Ui) -> None:
    ui.service.banks.create("known")
    ui.sign_in("curator")
    good = f"signal_type,signal\npdq,{PDQ}\nmd5,{'a' * 32}\nmd5,{'a' * 32}\n"
    answer = ui.post(
        "/ui/banks/known/import",
        {"format": "csv"},
        files={"list": ("list.csv", io.BytesIO(good.encode()), "text/csv")},
    )
    assert answer.status_code == 200, answer.text
    assert "Import report" in answer.text
    assert "<dt>Added</dt><dd>2</dd>" in answer.text, answer.text
    assert ui.service.banks.get("known").contents == 2
    assert actors(ui, "bank.import") == ["user:curator"]
    bad = f"signal_type,signal\nmd5,{'b' * 32}\npdq,nothex\n"
    refused = ui.post(
        "/ui/banks/known/import",
        {"format": "csv"},
        files={"list": ("bad.csv", io.BytesIO(bad.encode()), "text/csv")},
    )
    assert refused.status_code == 422
    assert "Nothing was imported" in refused.text
    assert "bad.csv:3" in refused.text, refused.text
    assert ui.service.banks.get("known").contents == 2
    none = ui.post("/ui/banks/known/import", {"format": "csv"})
    assert none.status_code == 422
    assert "Choose a list file" in none.text


def test_a_label_search_looks_at_a_window_of_ids_at_a_time(
    ui: Ui, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(content, "LABEL_WINDOW", 10)
    ui.service.banks.create("known")
    ui.service.banks.import_entries(
        "known",
        [Entry({"md5": f"{n:032x}"}, f"item-{n}", ["rare"] if n == 3 else []) for n in range(30)],
    )
    ui.sign_in("viewer")
    newest = ui.get("/ui/banks/known", params={"by": "label", "q": "rare"}).text
    assert "Search older content" in newest
    link = newest.split('href="/ui/banks/known?by=label')[1].split('"')[0]
    older = ui.get(f"/ui/banks/known?by=label{html.unescape(link)}").text
    older = ui.get(
        "/ui/banks/known?by=label"
        + html.unescape(older.split('href="/ui/banks/known?by=label')[1].split('"')[0])
    ).text
    assert "item-3<" in older
    assert "1 found" in older
