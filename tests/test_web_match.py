"""The match tester, on both engines: an upload or a hash, its matches and the
verdict the rules would give, the upload shown small and grey, nothing stored."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image
from sqlalchemy import func, select

from hashmatch.actions.rule_store import Rules
from hashmatch.actions.rules import RuleSpec
from hashmatch.hashlists import Entry
from hashmatch.store.workflow import Submission
from tests.web_ui import Ui

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def edited_copy(path: Path) -> bytes:
    """The photo smaller and re-encoded as a poorer JPEG."""
    with Image.open(path) as image:
        smaller = image.convert("RGB").resize((image.width // 2, image.height // 2))
    buffer = io.BytesIO()
    smaller.save(buffer, format="JPEG", quality=40)
    return buffer.getvalue()


def submissions(ui: Ui) -> int:
    with ui.service.database.reading() as session:
        return int(session.scalar(select(func.count()).select_from(Submission)) or 0)


def test_an_edited_copy_matches_with_the_verdict_and_a_grey_thumbnail(
    ui: Ui, photo_path: Path
) -> None:
    ui.service.banks.create("known", labels=["A1"])
    Rules(ui.service.database).create(
        RuleSpec.model_validate(
            {"name": "block-known", "when": {"banks": ["known"]}, "then": [{"action": "block"}]}
        )
    )
    ui.sign_in("curator")
    with photo_path.open("rb") as stream:
        added = ui.post(
            "/ui/banks/known/add/upload",
            {"external_id": "beach"},
            files={"file": ("beach.jpg", stream, "image/jpeg")},
        )
    assert added.status_code == 303
    ui.service.refresh_soon()
    ui.sign_in("viewer")
    assert ui.get("/ui/match").status_code == 200
    answer = ui.post(
        "/ui/match", {}, files={"file": ("copy.jpg", edited_copy(photo_path), "image/jpeg")}
    )
    assert answer.status_code == 200, answer.text
    assert 'href="/ui/banks/known"' in answer.text
    assert "beach" in answer.text
    assert "verdict-block" in answer.text
    assert "block-known" in answer.text
    assert 'class="shielded"' in answer.text
    assert 'alt="Your upload, blurred"' in answer.text
    uri = answer.text.split('src="data:image/jpeg;base64,')[1].split('"')[0]
    with Image.open(io.BytesIO(base64.b64decode(uri))) as thumbnail:
        assert thumbnail.mode == "L"
        assert max(thumbnail.size) <= 256
    assert submissions(ui) == 0


def test_a_pasted_hash_matches(ui: Ui) -> None:
    ui.service.banks.create("known")
    ui.service.banks.add(
        "known", Entry({"pdq": PDQ}, "case-9", ["x"], "", {"case": "ticket-7"}), source="tipline"
    )
    ui.service.refresh_soon()
    ui.sign_in("admin")
    answer = ui.post("/ui/match", {"signal_type": "pdq", "value": PDQ})
    assert answer.status_code == 200, answer.text
    assert "case-9" in answer.text
    assert "tipline" in answer.text
    assert "ticket-7" in answer.text
    assert "verdict-review" in answer.text
    assert "review-any-match" in answer.text
    nothing = ui.post("/ui/match", {"signal_type": "md5", "value": "0" * 32})
    assert "No bank holds anything this close" in nothing.text


def test_bad_input_is_shown_on_the_form(ui: Ui, photo_path: Path) -> None:
    ui.sign_in("curator")
    empty = ui.post("/ui/match", {})
    assert empty.status_code == 422
    assert 'id="e-file"' in empty.text
    bad_hash = ui.post("/ui/match", {"signal_type": "pdq", "value": "nothex"})
    assert bad_hash.status_code == 422
    assert 'id="e-value"' in bad_hash.text
    for name, data in [
        ("cut.jpg", photo_path.read_bytes()[:500]),
        ("lies.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64),
    ]:
        answer = ui.post("/ui/match", {}, files={"file": (name, data, "image/jpeg")})
        assert answer.status_code == 422, answer.text
        assert 'id="e-file"' in answer.text
        assert name in answer.text
        assert "Traceback" not in answer.text


def test_only_roles_with_test_may_use_it(ui: Ui) -> None:
    for role in ("reviewer", "legal"):
        ui.sign_in(role)
        assert ui.get("/ui/match").status_code == 403
        assert ui.post("/ui/match", {"signal_type": "md5", "value": "0" * 32}).status_code == 403
