"""The evidence pages on both engines: only legal and admin get in; packages,
manifests and holds shown; holds placed (CSRF) and released; the export is
a zip whose checksums verify; every view audited as the person."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashmatch import audit
from hashmatch.reporting.evidence import Evidence
from hashmatch.reporting.evidence.export import check_zip
from tests.evidence_world import OBJECTS, evidence_settings, long_ago, preserved
from tests.web_ui import Ui, open_ui


@pytest.fixture
def ui(database_url: str, tmp_path: Path) -> Iterator[Ui]:
    key = evidence_settings(tmp_path, database_url).evidence_key_file
    yield from open_ui(database_url, tmp_path, evidence_key_file=key)


@pytest.fixture
def evidence(ui: Ui) -> Evidence:
    return Evidence(ui.service.database, ui.settings)


def test_only_legal_and_admin_get_in(ui: Ui, evidence: Evidence) -> None:
    package_id = preserved(evidence)
    paths = ["/ui/evidence", f"/ui/evidence/{package_id}", f"/ui/evidence/{package_id}/export"]
    for role in ("reviewer", "viewer", "curator"):
        ui.sign_in(role)
        assert 'href="/ui/evidence"' not in ui.get("/ui/").text
        for path in paths:
            assert ui.get(path).status_code == 403, (role, path)
        refused = ui.post(f"/ui/evidence/{package_id}/holds", {"reason": "x"})
        assert refused.status_code == 403
    for role in ("legal", "admin"):
        ui.sign_in(role)
        assert 'href="/ui/evidence"' in ui.get("/ui/").text
        assert ui.get("/ui/evidence").status_code == 200
    with evidence.database.reading() as session:
        viewers = {e.actor for e in audit.find(session, action="evidence.list")}
    assert viewers == {"user:legal", "user:admin"}


def test_legal_sees_the_manifest_and_exports(ui: Ui, evidence: Evidence) -> None:
    package_id = preserved(evidence)
    ui.sign_in("legal")
    listing = ui.get("/ui/evidence")
    assert f'href="/ui/evidence/{package_id}"' in listing.text
    page = ui.get(f"/ui/evidence/{package_id}")
    assert page.status_code == 200
    for name, _ in OBJECTS:
        assert name in page.text
    assert evidence.show(package_id, actor="t")["manifest"][0]["sha256"] in page.text
    exported = ui.get(f"/ui/evidence/{package_id}/export")
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/zip"
    assert check_zip(io.BytesIO(exported.content)) == []
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        assert archive.read(OBJECTS[0][0]) == OBJECTS[0][1]
    with evidence.database.reading() as session:
        seen = [(e.action, e.actor) for e in audit.find(session, action="evidence.*")][1:]
    assert ("evidence.list", "user:legal") in seen
    assert ("evidence.view", "user:legal") in seen
    assert seen[-1] == ("evidence.export", "user:legal")
    assert ui.get("/ui/evidence/999").status_code == 404


def test_holds_placed_with_a_reason_and_released(ui: Ui, evidence: Evidence) -> None:
    package_id = preserved(evidence, finished_at=long_ago())
    ui.sign_in("legal")
    assert "due" in ui.get("/ui/evidence?due=1").text
    blank = ui.post(f"/ui/evidence/{package_id}/holds", {"reason": "  "})
    assert blank.status_code == 400
    assert "needs a reason" in blank.text
    bad_date = ui.post(f"/ui/evidence/{package_id}/holds", {"reason": "x", "until": "soon"})
    assert bad_date.status_code == 400
    hostile = ui.post(f"/ui/evidence/{package_id}/holds", {"reason": "case\x00 7"})
    assert hostile.status_code == 400
    assert "NUL" in hostile.text
    forged = ui.http.post(
        f"/ui/evidence/{package_id}/holds",
        data={"reason": "forged", "csrf_token": "wrong"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    placed = ui.post(f"/ui/evidence/{package_id}/holds", {"reason": "case 77", "until": ""})
    assert placed.status_code == 303
    [hold] = evidence.show(package_id, actor="t")["holds"]
    assert hold["reason"] == "case 77"
    assert hold["created_by"] == "user:legal"
    assert evidence.purge_due() == []
    released = ui.post(f"/ui/evidence/holds/{hold['id']}/release")
    assert released.status_code == 303
    assert released.headers["location"] == f"/ui/evidence/{package_id}"
    assert evidence.purge_due() == [package_id]
    page = ui.get(f"/ui/evidence/{package_id}")
    assert "purged" in page.text
    assert "Download export" not in page.text
