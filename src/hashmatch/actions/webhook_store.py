"""The webhooks a database keeps: created, listed, changed, rotated, deleted.

    webhooks = Webhooks(database, settings)
    secret, hook = webhooks.create("moderation", "https://hooks.example/hm", ["submission.verdict"])
    secret = webhooks.rotate("moderation")[0]    # the old one signs too, for a grace period

A webhook's secret is shown once, when it is made (or rotated), and never
listed.  Its URL is checked when it is stored against what the address policy
can tell without the network (http or https, a host, no credentials, no
literal private or loopback address, no ``localhost``, unless
``url_allow_private`` is on); every delivery checks what the name resolves
to.  Each change is one transaction with its audit entry, the secret left out.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hashmatch.actions import outbox
from hashmatch.audit import record
from hashmatch.errors import (
    UnknownWebhookError,
    UrlNotAllowedError,
    WebhookError,
    WebhookExistsError,
)
from hashmatch.net import http_target, is_public
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.models import as_utc, utcnow
from hashmatch.store.workflow import Webhook

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
MAX_URL_CHARS = 2000
#: Bytes of randomness in a secret (``secrets.token_urlsafe``: 43 characters).
SECRET_BYTES = 32


@dataclass(frozen=True)
class WebhookInfo:
    """A webhook as it is shown: everything but its secrets."""

    name: str
    url: str
    events: list[str]
    enabled: bool
    #: Until when the secret before the last rotation still signs (None: it does not).
    previous_secret_until: datetime | None
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "events": self.events,
            "enabled": self.enabled,
            "previous_secret_until": self.previous_secret_until.isoformat()
            if self.previous_secret_until
            else None,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def _info(row: Webhook) -> WebhookInfo:
    until = as_utc(row.previous_secret_until) if row.previous_secret_until else None
    return WebhookInfo(
        row.name,
        row.url,
        list(row.events),
        row.enabled,
        until if until is not None and until > utcnow() else None,
        as_utc(row.created_at),
        as_utc(row.updated_at),
    )


def _audited(info: WebhookInfo) -> dict[str, Any]:
    """What the audit log keeps of a webhook: its settings, no secret, no clock."""
    return {"name": info.name, "url": info.url, "events": info.events, "enabled": info.enabled}


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise WebhookError(
            f"invalid webhook name {name!r}: 1-100 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_events(events: Sequence[str]) -> list[str]:
    unknown = [event for event in events if event not in outbox.EVENT_TYPES]
    if unknown:
        raise WebhookError(
            f"unknown event type {unknown[0]!r}: events are some of {', '.join(outbox.EVENT_TYPES)}"
        )
    return sorted(set(events))


def check_url(url: str, *, allow_private: bool) -> str:
    """A receiver's URL, as far as it can be checked without resolving its name."""
    if len(url) > MAX_URL_CHARS or not url.isascii() or not url.isprintable() or " " in url:
        raise WebhookError(
            f"invalid webhook URL: at most {MAX_URL_CHARS} ASCII characters (an international "
            "name in its xn-- form), no spaces or control characters"
        )
    try:
        target = http_target(url)
    except UrlNotAllowedError as error:
        raise WebhookError(f"invalid webhook URL {error}") from None
    if allow_private:
        return url
    host = target.host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        raise WebhookError(f"webhook URL {url!r} names loopback (setting url_allow_private)")
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return url  # a name: what it resolves to is checked at each delivery
    if not is_public(address):
        raise WebhookError(
            f"webhook URL {url!r} names {address}, a private or reserved address "
            "(setting url_allow_private)"
        )
    return url


class Webhooks:
    """Webhook operations on one database."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.allow_private = settings.url_allow_private
        self.grace = timedelta(hours=settings.webhook_secret_grace_hours)

    def all(self) -> list[WebhookInfo]:
        with self.database.reading() as session:
            return [_info(row) for row in session.scalars(select(Webhook).order_by(Webhook.name))]

    def get(self, name: str) -> WebhookInfo:
        with self.database.reading() as session:
            return _info(_row(session, name))

    def create(
        self, name: str, url: str, events: Sequence[str], *, enabled: bool = True
    ) -> tuple[str, WebhookInfo]:
        """A new webhook and its signing secret (shown this once)."""
        check_name(name)
        url = check_url(url, allow_private=self.allow_private)
        wanted = check_events(events)
        secret = secrets.token_urlsafe(SECRET_BYTES)
        with self._writing(name) as session:
            if session.scalar(select(Webhook.id).where(Webhook.name == name)) is not None:
                raise WebhookExistsError(f"a webhook named {name!r} already exists")
            now = utcnow()
            row = Webhook(
                name=name,
                url=url,
                events=wanted,
                enabled=enabled,
                secret=secret,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            info = _info(row)
            record(session, "webhook.create", f"webhook:{name}", after=_audited(info))
        return secret, info

    def update(
        self,
        name: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        enabled: bool | None = None,
    ) -> WebhookInfo:
        """Change what is given; the jobs already queued go to the new URL."""
        with self.database.transaction() as session:
            row = _row(session, name, lock=True)
            before = _info(row)
            if url is not None:
                row.url = check_url(url, allow_private=self.allow_private)
            if events is not None:
                row.events = check_events(events)
            if enabled is not None:
                row.enabled = enabled
            session.flush()
            info = _info(row)
            if _audited(info) != _audited(before):
                record(
                    session,
                    "webhook.update",
                    f"webhook:{name}",
                    before=_audited(before),
                    after=_audited(info),
                )
        return info

    def rotate(self, name: str) -> tuple[str, WebhookInfo]:
        """A new secret (shown this once); the current one keeps signing
        deliveries, beside the new, for the grace period."""
        secret = secrets.token_urlsafe(SECRET_BYTES)
        with self.database.transaction() as session:
            row = _row(session, name, lock=True)
            row.previous_secret, row.secret = row.secret, secret
            row.previous_secret_until = utcnow() + self.grace
            row.updated_at = utcnow()
            session.flush()
            info = _info(row)
            record(
                session,
                "webhook.rotate",
                f"webhook:{name}",
                after={"previous_secret_until": info.to_json()["previous_secret_until"]},
            )
        return secret, info

    def delete(self, name: str) -> None:
        """Delete a webhook and its delivery jobs (the events stay)."""
        with self.database.transaction() as session:
            row = _row(session, name, lock=True)
            before = _audited(_info(row))
            session.delete(row)
            session.flush()
            record(session, "webhook.delete", f"webhook:{name}", before=before)

    def deliveries(
        self, name: str, *, status: str | None = None, before: int | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """A webhook's delivery jobs, newest first (``outbox.list_deliveries``)."""
        with self.database.reading() as session:
            webhook_id = _row(session, name).id
        return outbox.list_deliveries(
            self.database, webhook_id, status=status, before=before, limit=limit
        )

    @contextmanager
    def _writing(self, name: str) -> Iterator[Session]:
        """A write transaction in which a concurrent create of ``name`` is WebhookExistsError."""
        try:
            with self.database.transaction() as session:
                yield session
        except IntegrityError:
            raise WebhookExistsError(f"a webhook named {name!r} already exists") from None


def _row(session: Session, name: str, *, lock: bool = False) -> Webhook:
    query = select(Webhook).where(Webhook.name == name)
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise UnknownWebhookError(name)
    return row
