"""Web UI sessions: a random token in the browser's cookie, its SHA-256 in the database.

    token, session = WebSessions(database, settings).start(user, second_factor_done=True)
    sessions.find(token)        # the WebSession, or None once it has ended or expired

A session ends when its user signs out (:meth:`WebSessions.end`), is disabled
or gets a new password (``Users.disable``, ``Users.reset_password``), after
``ui_session_idle_minutes`` unused, or ``ui_session_max_hours`` after sign-in.
Each session has its own CSRF token for the forms it posts.

Using a session moves its ``last_seen_at`` at most once a minute
(:data:`TOUCH_PRECISION`), so most requests only read.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select, update

from hashmatch.accounts.users import UserInfo, end_sessions, user_info
from hashmatch.errors import UnknownUserError
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.account_models import User, WebSessionRecord
from hashmatch.store.models import as_utc, utcnow

#: ``last_seen_at`` is written at most this often per session.
TOUCH_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class WebSession:
    #: The stored id: the SHA-256 (hex) of the token, never the token itself.
    key: str
    user: UserInfo
    csrf_token: str
    second_factor_done: bool
    created_at: datetime
    last_seen_at: datetime


def session_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class WebSessions:
    """The web UI's sessions on one database.  ``clock`` says what time it is
    (tests pass a fake one)."""

    def __init__(
        self, database: Database, settings: Settings, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock

    def start(self, user: UserInfo, *, second_factor_done: bool) -> tuple[str, WebSession]:
        """A new session for ``user``: its token (for the cookie, never stored) and record."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        row = WebSessionRecord(
            key=session_key(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            second_factor_done=second_factor_done,
        )
        with self.database.transaction() as session:
            session.add(row)
        return token, WebSession(row.key, user, row.csrf_token, second_factor_done, now, now)

    def find(self, token: str) -> WebSession | None:
        """The live session with this token; None if there is none, or it
        ended, expired, or its user was disabled."""
        if not token:
            return None
        key = session_key(token)
        now = self.clock()
        with self.database.reading() as session:
            found = session.execute(
                select(WebSessionRecord, User)
                .join(User, User.id == WebSessionRecord.user_id)
                .where(WebSessionRecord.key == key)
            ).first()
            if found is None:
                return None
            row, user = found
            created_at, last_seen_at = as_utc(row.created_at), as_utc(row.last_seen_at)
            if (
                row.ended_at is not None
                or user.disabled_at is not None
                or now - last_seen_at > timedelta(minutes=self.settings.ui_session_idle_minutes)
                or now - created_at > timedelta(hours=self.settings.ui_session_max_hours)
            ):
                return None
            found_session = WebSession(
                key, user_info(user), row.csrf_token, row.second_factor_done, created_at, now
            )
        if now - last_seen_at >= TOUCH_PRECISION:
            with self.database.transaction() as session:
                session.execute(
                    update(WebSessionRecord)
                    .where(WebSessionRecord.key == key)
                    .values(last_seen_at=now)
                )
            return found_session
        return replace(found_session, last_seen_at=last_seen_at)

    def complete_second_factor(self, token: str) -> WebSession | None:
        """Note that the session's user gave their TOTP code; None if the session is gone."""
        found = self.find(token)
        if found is None:
            return None
        with self.database.transaction() as session:
            session.execute(
                update(WebSessionRecord)
                .where(WebSessionRecord.key == found.key)
                .values(second_factor_done=True)
            )
        return replace(found, second_factor_done=True)

    def end(self, token: str) -> None:
        """End the session (signing out); nothing happens for an unknown token."""
        with self.database.transaction() as session:
            session.execute(
                update(WebSessionRecord)
                .where(
                    WebSessionRecord.key == session_key(token),
                    WebSessionRecord.ended_at.is_(None),
                )
                .values(ended_at=self.clock())
            )

    def end_all(self, user_name: str) -> int:
        """End every session of the user; how many were open."""
        with self.database.transaction() as session:
            user_id = session.scalar(select(User.id).where(User.name == user_name))
            if user_id is None:
                raise UnknownUserError(user_name)
            return end_sessions(session, user_id, self.clock())
