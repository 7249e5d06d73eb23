from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from hashmatch.errors import ConfigurationError
from hashmatch.settings import Settings, reference

ROOT = Path(__file__).resolve().parent.parent


def test_layers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "hashmatch.toml"
    config.write_text(
        'data_dir = "/from/file"\ndatabase_url = "sqlite:////file.db"\nmax_batch = 7\n'
    )
    monkeypatch.delenv("HASHMATCH_DATA_DIR")
    monkeypatch.setenv("HASHMATCH_DATABASE_URL", "postgresql://env/db")
    settings = Settings.load({"data_dir": None}, config_file=config)
    assert settings.data_dir == Path("/from/file")  # file beats default
    assert settings.max_batch == 7
    assert settings.database_url == "postgresql://env/db"  # environment beats file
    flagged = Settings.load({"database_url": "sqlite:////flag.db"}, config_file=config)
    assert flagged.database_url == "sqlite:////flag.db"  # flag beats environment


def test_config_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "hashmatch.toml"
    config.write_text('url_fetch = true\nurl_allowed_hosts = ["images.example.com"]\n')
    monkeypatch.setenv("HASHMATCH_CONFIG", str(config))
    settings = Settings.load()
    assert settings.url_fetch is True
    assert settings.url_allowed_hosts == ["images.example.com"]


def test_default_database_lives_in_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHMATCH_DATA_DIR", "/srv/hm")
    settings = Settings.load()
    assert settings.database_url == "sqlite:////srv/hm/hashmatch.db"
    assert settings.snapshot_dir.parent == Path("/srv/hm/index")


def test_settings_travel_to_workers_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    """``serve --workers`` hands each spawned worker the settings object itself
    (pickled), so the worker reads no environment of its own."""
    original = Settings.load(
        {"port": 6000, "url_allowed_hosts": ["a.example", ".b.example:8443"], "max_batch": 9}
    )
    monkeypatch.setenv("HASHMATCH_MAX_BATCH", "1")
    assert pickle.loads(pickle.dumps(original)) == original


def test_bad_settings_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("data_dir = \n")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        Settings.load(config_file=bad)
    bad.write_text('colour = "red"\n')
    with pytest.raises(ConfigurationError, match="unknown settings: colour"):
        Settings.load(config_file=bad)
    with pytest.raises(ConfigurationError, match="cannot read"):
        Settings.load(config_file=tmp_path / "missing.toml")
    bad.write_text("port = 0\n")
    with pytest.raises(ConfigurationError, match="port"):
        Settings.load(config_file=bad)
    monkeypatch.setenv("HASHMATCH_MAX_BATCH", "many")
    with pytest.raises(ConfigurationError, match="max_batch"):
        Settings.load()


def test_settings_reference_is_current() -> None:
    assert (ROOT / "docs" / "settings.md").read_text() == reference(), (
        "docs/settings.md is stale: run python -m hashmatch.settings > docs/settings.md"
    )
