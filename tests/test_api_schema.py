"""schemathesis against the OpenAPI document: no input gives a 5xx.

Every operation gets a bounded number of generated requests (valid and
invalid), sent in-process with an admin key, on a database that has a bank
and content, so lookups and curation have something to work on.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
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
    with TestClient(app):  # runs the lifespan: database and index
        app.state.service.wait_until_loaded(60)
        yield app, key


def test_no_server_errors(served) -> None:  # type: ignore[no-untyped-def]
    app, key = served
    api = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def no_5xx(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(headers={"Authorization": f"Bearer {key}"})
            assert response.status_code < 500, (case.method, case.path, response.text[:300])

        no_5xx()
