"""schemathesis against the OpenAPI document: no input gives a 5xx, and
every response is one the document describes (status, media type, headers,
body schema).

Every operation gets a bounded number of generated requests (valid and
invalid), sent in-process with an admin key, on a database that has a bank
and content, so lookups and curation have something to work on.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.banks import Banks
from hashmatch.hashlists import Entry
from hashmatch.settings import Settings
from hashmatch.store import Database


def _app(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'schema.db'}"
    database = Database.open(url)
    key = ApiKeys(database).create("fuzz", ["admin"])[0]
    banks = Banks(database)
    banks.create("known")
    banks.add("known", Entry({"pdq": "ab" * 32}))
    database.close()
    app = create_app(Settings(data_dir=tmp_path / "data", database_url=url, max_batch=5))
    return app, key


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    app, key = _app(tmp_path_factory.mktemp("schema"))
    with TestClient(app) as client:  # runs the lifespan: database and index
        app.state.service.wait_until_loaded(60)
        # The first import starts the import child process (a fresh
        # interpreter): on a busy machine that alone can pass the fuzzer's
        # 10 s request timeout, so start it before fuzzing.
        imported = client.post(
            "/v1/banks/known/import",
            params={"format": "pdq"},
            files={"file": ("one.txt", b"cd" * 32 + b"\n")},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert imported.json() == {"added": 1, "skipped": 0}
        yield app, key


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_no_server_errors_and_responses_as_documented(served) -> None:  # type: ignore[no-untyped-def]
    app, key = served
    api = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def as_documented(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)

        as_documented()
