"""Shared fixtures: the reference data shipped in tests/data and generated images."""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from hashmatch.store import Database

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class ReferenceImage:
    """One row of expected_pdqhash.csv: what pdqhash computes for that file."""

    path: Path
    mode: str
    pdq: str
    quality: int
    dihedral: tuple[str, ...]

    @property
    def id(self) -> str:
        return str(self.path.relative_to(DATA))


def load_reference_images() -> list[ReferenceImage]:
    with (DATA / "expected_pdqhash.csv").open() as stream:
        return [
            ReferenceImage(
                DATA / row["path"],
                row["mode"],
                row["pdq"],
                int(row["quality"]),
                tuple(row["dihedral"].split()),
            )
            for row in csv.DictReader(stream)
        ]


REFERENCE_IMAGES = load_reference_images()


def noise_image(width: int, height: int, seed: int = 0) -> Image.Image:
    """A deterministic RGB picture: smooth gradients plus seeded noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack(
        [
            (x * 255 // max(width - 1, 1)),
            (y * 255 // max(height - 1, 1)),
            ((x + y) * 127 // max(width + height - 2, 1)),
        ],
        axis=-1,
    )
    noise = rng.integers(-40, 40, size=base.shape)
    pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.fixture
def photo_path() -> Path:
    return DATA / "photos" / "nature-beach-malibu.jpg"


# -- databases ---------------------------------------------------------------

POSTGRES_ENV = "HASHMATCH_TEST_POSTGRES_URL"


def _postgres_schema_url(base: str, schema: str) -> str:
    """The base URL, with every connection's search_path set to ``schema``."""
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each engine.

    PostgreSQL runs when HASHMATCH_TEST_POSTGRES_URL is set (``.ci/run`` sets
    it, and fails if the server is down); each test gets its own schema.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hashmatch.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} is not set: CI must run the PostgreSQL tests")
        pytest.skip(f"set {POSTGRES_ENV} to run the PostgreSQL tests")
    import sqlalchemy

    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sqlalchemy.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield _postgres_schema_url(base, schema)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database.open(database_url)
    yield db
    db.close()


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with cheap parameters, set the documented way
    (``users.PASSWORD_HASHER``): the defaults cost 64 MiB and tens of
    milliseconds a hash, and the web tests sign in hundreds of times."""
    from argon2 import PasswordHasher

    from hashmatch.accounts import users

    monkeypatch.setattr(
        users, "PASSWORD_HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )


@pytest.fixture
def ui(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """The web UI on both engines, with a user per role (tests/web_ui.py)."""
    from tests.web_ui import open_ui

    yield from open_ui(database_url, tmp_path)


@pytest.fixture(autouse=True)
def _hermetic_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's settings or writes to their data folder."""
    for name in list(os.environ):
        if name.startswith("HASHMATCH_") and not name.startswith("HASHMATCH_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HASHMATCH_DATA_DIR", str(tmp_path / "hashmatch-data"))


# -- NCMEC's CyberTipline, served locally --------------------------------------


@pytest.fixture
def ncmec() -> Iterator[Any]:
    """A local CyberTipline server (tests/reporting_world.py); the exchange
    tests' own ``ncmec`` fixtures (NCMEC's hash sharing) override it."""
    from tests.reporting_world import simulator

    with simulator() as server:
        yield server


@pytest.fixture
def reporting(database_url: str, tmp_path: Path, ncmec: Any) -> Iterator[Any]:
    """A ReportingWorld on each engine, filing to ``ncmec``."""
    from tests.reporting_world import ReportingWorld, reporting_settings

    database = Database.open(database_url)
    yield ReportingWorld.make(database, reporting_settings(database_url, tmp_path), ncmec)
    database.close()
