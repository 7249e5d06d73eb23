"""Settings, in one table, layered: defaults < config file < environment < flags.

=================  =========================  ========================================
name               environment                what it is
=================  =========================  ========================================
data_dir           HASHMATCH_DATA_DIR         where the SQLite database and index
                                              snapshots live
database_url       HASHMATCH_DATABASE_URL     sqlite:///... or postgresql://...;
                                              default: SQLite in data_dir
=================  =========================  ========================================

The config file is TOML (``data_dir = "..."``), read from ``--config`` or
``HASHMATCH_CONFIG``.  Library code takes a :class:`Settings` object and never
reads the environment itself.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hashmatch.errors import ConfigurationError

ENV_PREFIX = "HASHMATCH_"


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/hashmatch``, else ``~/.local/share/hashmatch``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "hashmatch"


@dataclass(frozen=True)
class Setting:
    name: str
    help: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


SETTINGS = (
    Setting("data_dir", "Folder for the SQLite database and index snapshots."),
    Setting(
        "database_url",
        "Database URL (sqlite:///... or postgresql://...); default: SQLite in the data folder.",
    ),
)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str

    @property
    def snapshot_dir(self) -> Path:
        """Index snapshots of this database (one folder per database URL)."""
        key = hashlib.sha256(self.database_url.encode()).hexdigest()[:16]
        return self.data_dir / "index" / key

    @classmethod
    def load(
        cls,
        flags: Mapping[str, object | None] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        config_file: Path | None = None,
    ) -> Settings:
        """Resolve every setting from its layers (a None flag means "not given")."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        config_path = config_file or (
            Path(environ["HASHMATCH_CONFIG"]) if "HASHMATCH_CONFIG" in environ else None
        )
        if config_path is not None:
            values.update(_read_config(config_path))
        for setting in SETTINGS:
            if setting.env in environ:
                values[setting.name] = environ[setting.env]
        for name, value in (flags or {}).items():
            if value is not None:
                values[name] = value
        data_dir = Path(str(values.get("data_dir") or default_data_dir())).expanduser()
        url = values.get("database_url") or f"sqlite:///{data_dir / 'hashmatch.db'}"
        return cls(data_dir=data_dir, database_url=str(url))


def _read_config(path: Path) -> dict[str, object]:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as error:
        raise ConfigurationError(f"{path}: cannot read config file: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{path}: not valid TOML: {error}") from None
    known = {setting.name for setting in SETTINGS}
    unknown = set(data) - known
    if unknown:
        raise ConfigurationError(f"{path}: unknown settings: {', '.join(sorted(unknown))}")
    return data
