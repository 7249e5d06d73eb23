"""The OpenAPI document and the docs pages: offline, typed, at HMA's path too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hashmatch.api import create_app
from hashmatch.settings import Settings

ASSET = re.compile(r"""(?:src|href|spec-url)="([^"]+)"|url: '([^']+)'""")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("docs")
    settings = Settings(data_dir=folder / "data", database_url=f"sqlite:///{folder / 'docs.db'}")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_need_nothing_from_the_internet(client: TestClient, page: str) -> None:
    html = client.get(page).text
    assert "://" not in html  # no CDN, no font service, no online validator
    assets = [first or second for first, second in ASSET.findall(html)]
    assert any(asset.endswith(".js") for asset in assets)
    for asset in assets:
        assert asset.startswith("/"), asset
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.content


def test_openapi_document_at_hmas_path_too(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert client.get("/openapi/openapi.json").json() == document


def _resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


EXPORT_TYPES = {"text/plain", "application/zip", "application/xml", "text/csv", "text/html"}


def test_every_v1_and_status_response_is_typed(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    checked = 0
    for path, operations in document["paths"].items():
        if not path.startswith(("/v1/", "/status")):
            continue
        for method, operation in operations.items():
            if "204" in operation["responses"] and "200" not in operation["responses"]:
                assert "content" not in operation["responses"]["204"], (method, path)
                continue  # answers no body at all
            success = operation["responses"].get("200") or operation["responses"]["201"]
            content = success["content"]
            if "application/json" not in content:
                # exports, evidence zips, report XML, transparency files
                assert set(content) <= EXPORT_TYPES, (method, path, list(content))
                continue
            schema = _resolved(document, content["application/json"]["schema"])
            assert schema.get("properties"), f"{method} {path}: untyped {schema}"
            checked += 1
    assert checked >= 20
    matched = _resolved(document, {"$ref": "#/components/schemas/MatchedFile"})
    assert {"signals", "matches"} <= set(matched["required"])
    match = _resolved(document, matched["properties"]["matches"]["items"])
    assert {"bank", "content_id", "distance", "suppressed"} <= set(match["required"])
    assert "video" in match["properties"]
    assert "video" not in match["required"]  # left out of image matches, never null
