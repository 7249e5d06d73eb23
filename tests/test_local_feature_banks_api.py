"""The second stage through the edges: the CLI's bank flags and match
command, and the API's bank fields, uploads to a bank, lookups,
submissions and status, on both engines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.cli import app
from hashmatch.errors import EvaluationError
from hashmatch.evaluation.run import Evaluation
from hashmatch.evaluation.sets import collect
from hashmatch.evaluation.transforms import chosen
from hashmatch.settings import Settings
from hashmatch.store import Database
from tests.feature_copies import BANKED, OTHER, caption_over_picture, off_centre_crop, saved
from tests.web_ui import Ui

PHOTO = BANKED[0]
runner = CliRunner()


def test_the_cli_sets_the_setting_stores_features_and_matches_by_them(
    database_url: str, tmp_path: Path
) -> None:
    def invoke(*args: str) -> dict[str, Any]:
        result = runner.invoke(app, ["--database-url", database_url, *args])
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout.splitlines()[-1]))

    created = invoke("bank", "create", "known", "--local-features", "--min-inliers", "30")
    assert (created["local_features"], created["min_inliers"]) == (True, 30)
    assert invoke("bank", "create", "plain")["local_features"] is False
    invoke("bank", "add", "plain", str(PHOTO))
    assert invoke("bank", "show", "plain")["feature_images"] == 0
    added = invoke("bank", "add", "known", str(PHOTO))
    shown = invoke("bank", "show", "known")
    assert shown["feature_images"] == 1
    assert 0 < shown["feature_bytes"] <= 8192
    query = saved(off_centre_crop(Image.open(PHOTO)), tmp_path / "crop.jpg")
    [match] = invoke("match", str(query))["matches"]
    assert (match["bank"], match["content_id"], match["stage"]) == (
        "known",
        added["content_id"],
        "local_features",
    )
    assert match["inliers"] >= 30
    changed = invoke("bank", "update", "known", "--no-local-features", "--min-inliers", "0")
    assert (changed["local_features"], changed["min_inliers"]) == (False, None)
    assert invoke("match", str(query))["matches"] == []
    refused = runner.invoke(
        app, ["--database-url", database_url, "bank", "update", "known", "--min-inliers", "3"]
    )
    assert refused.exit_code != 0
    assert "min_inliers must be a whole number 8-200" in refused.output
    assert "Traceback" not in refused.output
    assert "--local-features" in runner.invoke(app, ["bank", "create", "--help"]).stdout


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    database = Database.open(database_url)
    keys = ApiKeys(database)
    headers = {
        scope: {"Authorization": f"Bearer {keys.create(scope, [scope])[0]}"}
        for scope in ("curate", "match", "submit")
    }
    database.close()
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    application = create_app(settings)
    with TestClient(application, raise_server_exceptions=False) as client:
        application.state.service.wait_until_loaded(60)
        yield client, headers


def test_the_api_sets_the_setting_and_uploads_match_by_local_features(
    api: tuple[TestClient, dict[str, Any]], tmp_path: Path
) -> None:
    http, headers = api
    created = http.post(
        "/v1/banks",
        json={"name": "known", "local_features": True, "min_inliers": 30},
        headers=headers["curate"],
    )
    assert created.status_code == 201, created.text
    assert (created.json()["local_features"], created.json()["min_inliers"]) == (True, 30)
    for wrong in ({"min_inliers": 2}, {"min_inliers": "x"}, {"local_features": "x"}):
        refused = http.patch("/v1/banks/known", json=wrong, headers=headers["curate"])
        assert refused.status_code in (400, 422), refused.text
    # HMA's upload route adds by hashing: the bank stores the features.
    uploaded = http.post(
        "/c/bank/known/content",
        files={"photo": ("castle.jpg", PHOTO.read_bytes(), "image/jpeg")},
        headers=headers["curate"],
    )
    assert uploaded.status_code == 200, uploaded.text
    bank = http.get("/v1/banks/known", headers=headers["curate"]).json()
    assert bank["feature_images"] == 1
    query = saved(caption_over_picture(Image.open(PHOTO)), tmp_path / "caption.jpg")
    answer = http.post(
        "/v1/match",
        files={"file": ("caption.jpg", query.read_bytes(), "image/jpeg")},
        headers=headers["match"],
    )
    assert answer.status_code == 200, answer.text
    [match] = answer.json()["matches"]
    assert (match["content_id"], match["stage"]) == (uploaded.json()["id"], "local_features")
    submitted = http.post(
        "/v1/submissions",
        data={"content_ref": "up-1"},
        files={"file": ("caption.jpg", query.read_bytes(), "image/jpeg")},
        headers=headers["submit"],
    )
    assert submitted.status_code == 200, submitted.text
    assert [m["stage"] for m in submitted.json()["matches"]] == ["local_features"]
    hma = http.post(
        "/m/lookup",
        files={"photo": ("caption.jpg", query.read_bytes(), "image/jpeg")},
        headers=headers["match"],
    )
    assert hma.status_code == 200, hma.text
    assert [m["bank_content_id"] for m in hma.json()["pdq"]["known"]] == [uploaded.json()["id"]]
    status = http.get("/status", headers=headers["match"]).json()
    stage = status["index"]["local_features"]["known"]
    assert stage["images"] == 1
    assert stage["queries"] >= 3
    assert stage["mean_query_ms"] > 0


def test_eval_runs_the_second_stage_when_asked(tmp_path: Path) -> None:
    bank = tmp_path / "bank" / "photos"
    bank.mkdir(parents=True)
    for path in BANKED[:2]:
        (bank / path.name).write_bytes(path.read_bytes())
    images, distractors = collect(tmp_path / "bank"), collect(OTHER.parent)[:1]
    edits = chosen(["window_85_offset"])
    evaluation = Evaluation(tmp_path / "out", images, distractors, edits, local_features=True)
    try:
        list(evaluation.bank(evaluation.to_bank()))
        records = list(evaluation.run(evaluation.pending()))
    finally:
        evaluation.close()
    crops = [record for record in records if record["transform"] == "window_85_offset"]
    assert [record["matched_by"] for record in crops] == [["local_features"]] * 2
    assert not any(record["false_matches"] for record in records)
    with pytest.raises(EvaluationError, match="banked with local features"):
        Evaluation(tmp_path / "out", images, distractors, edits, local_features=False)


def test_the_web_add_stores_features_and_the_match_tester_shows_the_stage(
    ui: Ui, tmp_path: Path
) -> None:
    ui.service.banks.create("known", local_features=True)
    ui.sign_in("curator")
    with PHOTO.open("rb") as stream:
        added = ui.post(
            "/ui/banks/known/add/upload", {}, files={"file": ("castle.jpg", stream, "image/jpeg")}
        )
    assert added.status_code == 303
    assert ui.service.banks.get("known").feature_images == 1
    ui.service.refresh_soon()
    ui.sign_in("viewer")
    query = saved(off_centre_crop(Image.open(PHOTO)), tmp_path / "crop.jpg")
    answer = ui.post(
        "/ui/match", {}, files={"file": ("crop.jpg", query.read_bytes(), "image/jpeg")}
    )
    assert answer.status_code == 200, answer.text
    assert 'href="/ui/banks/known"' in answer.text
    assert "local features: " in answer.text
