"""The web UI's people: users, their web sessions, and failed sign-ins per name.

A password is kept as an argon2id hash, a TOTP secret as it is (the server
must compute codes from it), a session as the SHA-256 of its token (the
cookie's value is never stored).  ``login_throttle`` counts failures per name
typed, known or not, so how a sign-in is refused never tells whether the
name exists (hashmatch/accounts/users.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hashmatch.store.models import Base, Id, utcnow


class User(Base):
    """A person who signs in to the web UI, with one role."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    #: One of hashmatch.accounts.roles.ROLES.
    role: Mapped[str] = mapped_column(String(32))
    #: argon2id, in the PHC string format ("$argon2id$v=19$m=...").
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: The confirmed TOTP secret (base32), and since when it is required.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: A secret shown for enrolment, until a code from it is confirmed.
    totp_pending_secret: Mapped[str | None] = mapped_column(String(64))
    #: The time step (Unix time // 30) of the last code accepted: a code works once.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)


class WebSessionRecord(Base):
    """A signed-in browser: found by the SHA-256 of its cookie's token."""

    __tablename__ = "web_sessions"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: False until the TOTP code is given, when the user needs one.
    second_factor_done: Mapped[bool] = mapped_column(Boolean, default=False)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginThrottle(Base):
    """Failed sign-ins in a row for one name typed (a user's or not)."""

    __tablename__ = "login_throttle"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
