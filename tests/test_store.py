"""The schema comes from migrations, on both engines."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from hashmatch.errors import ConfigurationError
from hashmatch.store import Database
from hashmatch.store.database import normalise_url

TABLES = {"alembic_version", "banks", "changes", "content_signals", "contents", "instance"}


def test_migrations_create_the_schema_from_empty(database: Database) -> None:
    assert set(inspect(database.engine).get_table_names()) >= TABLES


def test_migrating_again_changes_nothing(database_url: str) -> None:
    first = Database.open(database_url)
    first.close()
    second = Database.open(database_url)
    assert set(inspect(second.engine).get_table_names()) >= TABLES
    second.close()


def test_downgrade_and_upgrade_round_trip(database: Database) -> None:
    database.downgrade("base")
    assert not ({"banks", "contents"} & set(inspect(database.engine).get_table_names()))
    database.migrate("head")
    assert set(inspect(database.engine).get_table_names()) >= TABLES


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://localhost/test", "postgresql+psycopg"),
        ("postgres://localhost/test", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_url_normalisation(url: str, driver: str) -> None:
    assert normalise_url(url).drivername == driver


@pytest.mark.parametrize("url", ["mysql://localhost/x", "not a url", "oracle://x"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError):
        normalise_url(url)


def test_each_database_has_its_own_instance_id(database: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    other = Database.open(f"sqlite:///{tmp_path / 'other.db'}")
    assert len(database.instance_id()) == 36
    assert database.instance_id() != other.instance_id()
    other.close()
