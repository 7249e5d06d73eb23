from __future__ import annotations

from pathlib import Path

import pytest

from hashmatch.errors import ConfigurationError
from hashmatch.settings import SETTINGS, Settings


def test_layers(tmp_path: Path) -> None:
    config = tmp_path / "hashmatch.toml"
    config.write_text('data_dir = "/from/file"\ndatabase_url = "sqlite:////file.db"\n')
    environ = {"HASHMATCH_DATABASE_URL": "postgresql://env/db"}
    settings = Settings.load({"data_dir": None}, environ=environ, config_file=config)
    assert settings.data_dir == Path("/from/file")  # file beats default
    assert settings.database_url == "postgresql://env/db"  # environment beats file
    flagged = Settings.load(
        {"database_url": "sqlite:////flag.db"}, environ=environ, config_file=config
    )
    assert flagged.database_url == "sqlite:////flag.db"  # flag beats environment


def test_default_database_lives_in_the_data_dir() -> None:
    settings = Settings.load(environ={"HASHMATCH_DATA_DIR": "/srv/hm"})
    assert settings.database_url == "sqlite:////srv/hm/hashmatch.db"
    assert settings.snapshot_dir.parent == Path("/srv/hm/index")


def test_bad_config_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("data_dir = \n")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        Settings.load(environ={}, config_file=bad)
    bad.write_text('colour = "red"\n')
    with pytest.raises(ConfigurationError, match="unknown settings: colour"):
        Settings.load(environ={}, config_file=bad)
    with pytest.raises(ConfigurationError, match="cannot read"):
        Settings.load(environ={}, config_file=tmp_path / "missing.toml")


def test_every_setting_is_documented() -> None:
    from hashmatch import settings as module

    for setting in SETTINGS:
        assert setting.env in (module.__doc__ or "")
