"""API keys: created once, shown once, stored hashed, checked per request.

    secret, info = ApiKeys(database).create("uploads", ["match"])
    ApiKeys(database).authenticate(secret)  # -> KeyInfo, or None

A key looks like ``hm_<prefix>_<secret>``: the prefix finds its row, the
SHA-256 of the whole key must equal the stored hash (compared in constant
time).  Scopes say what a key may do; ``admin`` may do everything.  Creating
and revoking a key is audited (``key.create``, ``key.revoke``), never with
the secret or its hash.

A key's ``last_used_at`` is written by a thread of its own, never by the
request that used the key: a request must not wait for the database's write
lock, which an import may hold for seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hashmatch.audit import record
from hashmatch.errors import ApiKeyError
from hashmatch.store import ApiKey, Database
from hashmatch.store.models import as_utc, utcnow

log = logging.getLogger("hashmatch.apikeys")

SCOPES = (
    "hash",
    "match",
    "curate",
    "submit",
    "review",
    "report",
    "evidence",
    "audit",
    "hub",
    "admin",
)
_KEY = re.compile(r"^hm_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{20,100})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
#: last_used_at is written at most this often per key (not on every request).
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class KeyInfo:
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    def allows(self, scope: str) -> bool:
        return self.revoked_at is None and (scope in self.scopes or "admin" in self.scopes)

    def to_json(self) -> dict[str, Any]:
        def moment(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "name": self.name,
            "prefix": self.prefix,
            "scopes": list(self.scopes),
            "created_at": moment(self.created_at),
            "last_used_at": moment(self.last_used_at),
            "revoked_at": moment(self.revoked_at),
        }


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        row.name,
        row.prefix,
        tuple(row.scopes),
        as_utc(row.created_at),
        as_utc(row.last_used_at) if row.last_used_at else None,
        as_utc(row.revoked_at) if row.revoked_at else None,
    )


def _audited(info: KeyInfo) -> dict[str, Any]:
    """A key as its audit entries keep it: what it may do, not when it was used."""
    state = info.to_json()
    del state["last_used_at"]
    return state


class _LastUseWriter:
    """Writes the last-use times it is given, in a thread of its own that
    starts with the first one; several uses of a key before a write make one."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._pending: dict[str, datetime] = {}
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closing = False

    def note(self, prefix: str, when: datetime) -> None:
        with self._changed:
            if self._closing:
                return
            self._pending[prefix] = when
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="hashmatch-key-use", daemon=True
                )
                self._thread.start()
            self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._pending or self._closing)
                if self._closing and not self._pending:
                    return
            self.flush()

    def flush(self) -> None:
        """Write what is pending now (waiting for the write lock if need be)."""
        with self._changed:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            with self.database.transaction() as session:
                for prefix, when in pending.items():
                    session.execute(
                        update(ApiKey).where(ApiKey.prefix == prefix).values(last_used_at=when)
                    )
        except Exception:  # informational: the key's next check notes the use again
            log.warning("could not record when API keys were last used", exc_info=True)

    def close(self, timeout: float | None = None) -> None:
        """Write what is pending and stop the thread."""
        with self._changed:
            self._closing = True
            self._changed.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)


def create_key(session: Session, name: str, scopes: Iterable[str]) -> tuple[str, KeyInfo]:
    """A new key in the caller's transaction (so another change, such as a
    hub member's approval, commits with it): the secret and its record."""
    scopes = tuple(sorted(set(scopes)))
    if not _NAME.match(name):
        raise ApiKeyError(f"invalid key name {name!r}: letters, digits, '_', '.', '-'")
    unknown = set(scopes) - set(SCOPES)
    if not scopes or unknown:
        raise ApiKeyError(
            f"scopes must be some of {', '.join(SCOPES)}, got {', '.join(scopes) or 'none'}"
        )
    prefix = secrets.token_hex(6)
    secret = f"hm_{prefix}_{secrets.token_urlsafe(32)}"
    if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise ApiKeyError(f"an API key named {name!r} already exists")
    row = ApiKey(name=name, prefix=prefix, secret_hash=_digest(secret), scopes=list(scopes))
    session.add(row)
    session.flush()
    info = _info(row)
    record(session, "key.create", f"key:{name}", after=_audited(info))
    return secret, info


class ApiKeys:
    """Key operations on one database.

    ``authenticate`` remembers a verified key for ``cache_seconds`` (0: not
    at all), so a busy service does not read the key table on every
    request; a revoked key stops working within that time.  Call
    :meth:`close` when done, so the last uses noted are written.
    """

    def __init__(self, database: Database, *, cache_seconds: float = 0.0) -> None:
        self.database = database
        self.cache_seconds = cache_seconds
        self._verified: dict[str, tuple[float, KeyInfo]] = {}
        self._last_uses = _LastUseWriter(database)

    def create(self, name: str, scopes: Iterable[str]) -> tuple[str, KeyInfo]:
        """A new key: the secret (shown once, never stored) and its record."""
        with self.database.transaction() as session:
            return create_key(session, name, scopes)

    def all(self) -> list[KeyInfo]:
        with self.database.reading() as session:
            return [_info(row) for row in session.scalars(select(ApiKey).order_by(ApiKey.name))]

    def revoke(self, name: str) -> KeyInfo:
        with self.database.transaction() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.name == name))
            if row is None:
                raise ApiKeyError(f"no API key named {name!r}")
            if row.revoked_at is None:
                before = _audited(_info(row))
                row.revoked_at = utcnow()
                session.flush()
                record(
                    session, "key.revoke", f"key:{name}", before=before, after=_audited(_info(row))
                )
            return _info(row)

    def remembered(self, key: str) -> KeyInfo | None:
        """The key's record if it was verified less than ``cache_seconds`` ago,
        else None; never reads the database."""
        remembered = self._verified.get(_digest(key.strip()))
        if remembered is not None and time.monotonic() - remembered[0] < self.cache_seconds:
            return remembered[1]
        return None

    def authenticate(self, key: str) -> KeyInfo | None:
        """The key's record when the key is genuine and not revoked, else None."""
        remembered = self.remembered(key)
        if remembered is not None:
            return remembered
        digest = _digest(key.strip())
        info = self._check(key.strip())
        if info is None:
            self._verified.pop(digest, None)
        elif self.cache_seconds > 0:
            self._verified[digest] = (time.monotonic(), info)
        return info

    def _check(self, key: str) -> KeyInfo | None:
        match = _KEY.match(key)
        if match is None:
            return None
        with self.database.reading() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.prefix == match.group(1)))
            if row is None or row.revoked_at is not None:
                return None
            if not hmac.compare_digest(row.secret_hash, _digest(key)):
                return None
            info = _info(row)
        now = utcnow()
        if info.last_used_at is None or now - info.last_used_at > LAST_USED_PRECISION:
            self._last_uses.note(info.prefix, now)
        return info

    def close(self, timeout: float | None = None) -> None:
        """Write the last uses noted so far and stop the thread that writes them."""
        self._last_uses.close(timeout)
