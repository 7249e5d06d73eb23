"""Exchanges as configured: create, list, change, delete, each audited.

    exchanges = Exchanges(database)
    exchanges.create("ncmec-test", "ncmec", bank="ncmec", options={"environment": "test_Industry"},
                     credentials_env="NCMEC_CREDENTIALS")

Credentials are never stored: an exchange names the environment variable or
the file that holds them, and :func:`read_credentials` reads them when a
fetch starts.  Options are text, checked against the source type's list and
the options every fetch takes (``exchange/runner.py``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.errors import (
    ExchangeError,
    ExchangeExistsError,
    InvalidFieldError,
    UnknownBankError,
    UnknownExchangeError,
)
from hashmatch.exchange.base import ExchangeSource, Option
from hashmatch.exchange.registry import get_source_type, source_types
from hashmatch.store import Bank, Database
from hashmatch.store.exchange_models import Exchange, ExchangeState
from hashmatch.store.models import as_utc

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,199}$")
#: Options every source takes: how a fetch run is bounded.
RUN_OPTIONS = (
    Option("max_records", "Most records one fetch run applies.", "1000000"),
    Option("max_seconds", "Longest one fetch run goes on, in seconds.", "600"),
    Option("page_timeout", "Longest one page may take to arrive, in seconds.", "60"),
    Option("retries", "Tries of a failing page before the run fails.", "3"),
)
#: Options every source that takes opinions back has.
OPINION_OPTIONS = (
    Option(
        "send_opinions",
        "Whether reviewers' verdicts on its hashes are sent back to it: true or false.",
        "true",
    ),
)
DEFAULT_INTERVAL = 3600
#: What the ``source`` of content an exchange fetched starts with.
SOURCE_PREFIX = "exchange:"


def exchange_named(source: str | None) -> str | None:
    """The exchange a content's ``source`` names (None: no exchange's)."""
    if source and source.startswith(SOURCE_PREFIX):
        return source[len(SOURCE_PREFIX) :]
    return None


def common_options(cls: type[ExchangeSource]) -> tuple[Option, ...]:
    """The options a source type takes besides its own."""
    return (*RUN_OPTIONS, *(OPINION_OPTIONS if cls.takes_opinions else ()))


def sends_opinions(options: Mapping[str, str]) -> bool:
    """Whether an exchange's effective options say its opinions go back."""
    return options.get("send_opinions") == "true"


@dataclass(frozen=True)
class ExchangeInfo:
    """An exchange as configured (its credentials' whereabouts, never their value)."""

    name: str
    source_type: str
    bank: str
    options: dict[str, str]
    credentials_env: str | None
    credentials_file: str | None
    enabled: bool
    interval_seconds: int
    created_at: datetime
    id: int = field(default=0, compare=False)

    @property
    def source(self) -> str:
        """What content fetched by this exchange has as its ``source``."""
        return f"{SOURCE_PREFIX}{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.source_type,
            "bank": self.bank,
            "options": dict(self.options),
            "credentials_env": self.credentials_env,
            "credentials_file": self.credentials_file,
            "enabled": self.enabled,
            "interval_seconds": self.interval_seconds,
            "created_at": self.created_at.isoformat(),
        }


def check_options(source_type: str, options: Mapping[str, str]) -> dict[str, str]:
    """The options, if the source type takes them all and has its required ones."""
    cls = get_source_type(source_type)
    known = {option.name: option for option in (*cls.options, *common_options(cls))}
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise InvalidFieldError(
            f"exchange type {cls.name!r} has no option {', '.join(unknown)}; "
            f"it takes {', '.join(sorted(known))}"
        )
    for option in cls.options:
        if option.required and not options.get(option.name):
            raise InvalidFieldError(f"exchange type {cls.name!r} needs --option {option.name}=...")
    for option in RUN_OPTIONS:
        value = options.get(option.name)
        if value is not None and not _positive(value):
            raise InvalidFieldError(
                f"option {option.name} must be a positive number, not {value!r}"
            )
    if options.get("send_opinions") not in (None, "true", "false"):
        raise InvalidFieldError("option send_opinions must be true or false")
    for name, value in options.items():
        if not isinstance(value, str) or len(value) > 2000 or "\0" in value:
            raise InvalidFieldError(f"option {name} must be text of at most 2000 characters")
    cls.check_options(options)
    return {name: options[name] for name in sorted(options)}


def types_json() -> list[dict[str, Any]]:
    """Every installed exchange type with its options and credentials, as
    ``hashmatch exchange types`` and ``GET /v1/exchange-types`` show them."""
    return [
        {
            "type": cls.name,
            "description": cls.description,
            "credentials": cls.credentials_help or None,
            "options": [
                {"name": o.name, "help": o.help, "default": o.default, "required": o.required}
                for o in (*cls.options, *common_options(cls))
            ],
            "takes_opinions": cls.takes_opinions,
        }
        for cls in source_types().values()
    ]


def _positive(text: str) -> bool:
    try:
        return float(text) > 0
    except ValueError:
        return False


def effective_options(info: ExchangeInfo) -> dict[str, str]:
    """The exchange's options with every default filled in."""
    cls = get_source_type(info.source_type)
    defaults = {
        o.name: o.default for o in (*cls.options, *common_options(cls)) if o.default is not None
    }
    return {**defaults, **info.options}


def read_credentials(info: ExchangeInfo) -> str | None:
    """The exchange's credentials, read now from where it names them (None
    when it names nowhere); ExchangeError names the place, never the value."""
    if info.credentials_env:
        value = os.environ.get(info.credentials_env)
        if not value:
            raise ExchangeError(
                f"exchange {info.name!r}: the environment variable {info.credentials_env} "
                "holding its credentials is not set"
            )
        return value.strip()
    if info.credentials_file:
        try:
            return Path(info.credentials_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            why = getattr(error, "strerror", None) or type(error).__name__
            raise ExchangeError(
                f"exchange {info.name!r}: cannot read its credentials file "
                f"{info.credentials_file}: {why}"
            ) from None
    if get_source_type(info.source_type).needs_credentials():
        raise ExchangeError(
            f"exchange {info.name!r} needs credentials: set --credentials-env or --credentials-file"
        )
    return None


class Exchanges:
    """Exchange configuration on one database."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def create(
        self,
        name: str,
        source_type: str,
        *,
        bank: str,
        options: Mapping[str, str] | None = None,
        credentials_env: str | None = None,
        credentials_file: str | None = None,
        enabled: bool = True,
        interval_seconds: int = DEFAULT_INTERVAL,
    ) -> ExchangeInfo:
        if not _NAME.match(name):
            raise InvalidFieldError(
                f"invalid exchange name {name!r}: 1-100 letters, digits, '_', '.' or '-', "
                "starting with a letter or digit"
            )
        cls = get_source_type(source_type)
        checked = check_options(cls.name, options or {})
        _check_credentials(credentials_env, credentials_file)
        _check_interval(interval_seconds)
        with self.database.transaction() as session:
            if session.scalar(select(Exchange.id).where(Exchange.name == name)) is not None:
                raise ExchangeExistsError(f"an exchange named {name!r} already exists")
            bank_id = session.scalar(select(Bank.id).where(Bank.name == bank))
            if bank_id is None:
                raise UnknownBankError(bank)
            row = Exchange(
                name=name,
                source_type=cls.name,
                bank_id=bank_id,
                options=checked,
                credentials_env=credentials_env or None,
                credentials_file=credentials_file or None,
                enabled=enabled,
                interval_seconds=interval_seconds,
            )
            session.add(row)
            session.flush()
            session.add(ExchangeState(exchange_id=row.id, counts={}, malformed_samples=[]))
            session.flush()
            info = _info(session, row)
            audit.record(session, "exchange.create", f"exchange:{name}", after=info.to_json())
            return info

    def all(self) -> list[ExchangeInfo]:
        with self.database.reading() as session:
            rows = session.scalars(select(Exchange).order_by(Exchange.name)).all()
            return [_info(session, row) for row in rows]

    def get(self, name: str) -> ExchangeInfo:
        with self.database.reading() as session:
            return _info(session, _row(session, name))

    def update(
        self,
        name: str,
        *,
        enabled: bool | None = None,
        options: Mapping[str, str] | None = None,
        credentials_env: str | None = None,
        credentials_file: str | None = None,
        interval_seconds: int | None = None,
    ) -> ExchangeInfo:
        """Change an exchange; ``options`` are merged (an empty value removes one)."""
        with self.database.transaction() as session:
            row = _row(session, name, lock=True)
            before = _info(session, row)
            if enabled is not None:
                row.enabled = enabled
            if options is not None:
                renamed = credentials_env is not None or credentials_file is not None
                if _moves_credentials(row, options) and not renamed:
                    raise ExchangeError(
                        f"exchange {name!r}: a new base_url would send its credentials to "
                        "another server; name the credentials again in the same change "
                        "(credentials_env or credentials_file)"
                    )
                merged = {**row.options, **options}
                row.options = check_options(
                    row.source_type, {key: value for key, value in merged.items() if value}
                )
            if credentials_env is not None or credentials_file is not None:
                _check_credentials(credentials_env, credentials_file)
                row.credentials_env = credentials_env or None
                row.credentials_file = credentials_file or None
            if interval_seconds is not None:
                row.interval_seconds = _check_interval(interval_seconds)
            session.flush()
            after = _info(session, row)
            if after.to_json() != before.to_json():
                audit.record(
                    session,
                    "exchange.update",
                    f"exchange:{name}",
                    before=before.to_json(),
                    after=after.to_json(),
                )
            return after

    def delete(self, name: str) -> None:
        """Forget an exchange (what it fetched stays in its bank)."""
        with self.database.transaction() as session:
            row = _row(session, name, lock=True)
            before = _info(session, row).to_json()
            session.delete(row)
            session.flush()
            audit.record(session, "exchange.delete", f"exchange:{name}", before=before)


def _check_credentials(env: str | None, file: str | None) -> None:
    if env and file:
        raise InvalidFieldError("give the credentials' environment variable or file, not both")
    if env and not _ENV_NAME.match(env):
        raise InvalidFieldError(
            f"{env!r} is not an environment variable's name (give the name, not the value)"
        )
    if file and (len(file) > 1000 or "\0" in file):
        raise InvalidFieldError("the credentials file's path is too long")


def _moves_credentials(row: Exchange, options: Mapping[str, str]) -> bool:
    """Whether a change of options points an exchange that has credentials
    at another server (its ``base_url``): whoever may change options could
    otherwise collect credentials they may not read."""
    has_credentials = bool(row.credentials_env or row.credentials_file)
    return (
        has_credentials
        and "base_url" in options
        and options["base_url"] != row.options.get("base_url", "")
    )


def _check_interval(seconds: int) -> int:
    if not 1 <= seconds <= 366 * 86400:
        raise InvalidFieldError("the interval must be 1 second to a year")
    return seconds


def _row(session: Session, name: str, *, lock: bool = False) -> Exchange:
    query = select(Exchange).where(Exchange.name == name)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise UnknownExchangeError(name)
    return row


def _info(session: Session, row: Exchange) -> ExchangeInfo:
    bank = session.scalar(select(Bank.name).where(Bank.id == row.bank_id)) or ""
    return ExchangeInfo(
        row.name,
        row.source_type,
        bank,
        dict(row.options),
        row.credentials_env,
        row.credentials_file,
        row.enabled,
        row.interval_seconds,
        as_utc(row.created_at),
        row.id,
    )
