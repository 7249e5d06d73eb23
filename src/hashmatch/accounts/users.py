"""People who sign in to the web UI: made, changed and checked here.

    users = Users(database, settings)
    users.create("ada", "admin", "a long passphrase")
    result = users.login("ada", "a long passphrase")
    if result.ok and users.totp_required(result.user):
        ...                                  # ask for the code: users.verify_totp("ada", code)

Passwords are kept as argon2id hashes (:data:`PASSWORD_HASHER`) and rehashed
at sign-in when the hasher's parameters have changed.  Failed sign-ins, and
wrong TOTP codes, make the name wait and then lock it out (``throttle.py``).
A refusal reads the same for a wrong password, an unknown name and a
disabled user, and an unknown name costs the same argon2 check as a known one.

Every change is audited (``user.create``, ``user.set_role``, ...), and so are
sign-ins and lockouts, as ``user:<name>``; never a password, hash or secret.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hashmatch.accounts.roles import ROLES
from hashmatch.accounts.throttle import Throttle, as_user
from hashmatch.audit import acting_as, record
from hashmatch.errors import UnknownUserError, UserError, UserExistsError
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.account_models import User, WebSessionRecord
from hashmatch.store.models import as_utc, utcnow

#: How passwords are hashed: argon2id with argon2-cffi's defaults (RFC 9106's
#: low-memory profile).  A :class:`Users` takes the hasher this names when it
#: is made; tests put a cheaper one here (tests/test_accounts.py), a service never should.
PASSWORD_HASHER = PasswordHasher()
MAX_PASSWORD_LENGTH = 1024
TOTP_ISSUER = "hashmatch"
TOTP_PERIOD = 30
# The same rule as API key names (apikeys.py).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class UserInfo:
    id: int
    name: str
    role: str
    created_at: datetime
    disabled_at: datetime | None
    totp_enabled: bool
    last_login_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        def moment(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "created_at": moment(self.created_at),
            "disabled_at": moment(self.disabled_at),
            "totp_enabled": self.totp_enabled,
            "last_login_at": moment(self.last_login_at),
        }


@dataclass(frozen=True)
class LoginResult:
    """How a sign-in went.  ``message`` is for the login form, and never
    tells whether the name belongs to anyone."""

    user: UserInfo | None
    retry_after: float
    locked: bool
    message: str

    @property
    def ok(self) -> bool:
        return self.user is not None


def user_info(row: User) -> UserInfo:
    return UserInfo(
        row.id,
        row.name,
        row.role,
        as_utc(row.created_at),
        as_utc(row.disabled_at) if row.disabled_at else None,
        row.totp_enabled_at is not None,
        as_utc(row.last_login_at) if row.last_login_at else None,
    )


def _audited(info: UserInfo) -> dict[str, Any]:
    """A user as audit entries keep them: who they are, not when they last signed in."""
    state = info.to_json()
    del state["last_login_at"]
    return state


def end_sessions(session: Session, user_id: int, at: datetime) -> int:
    """End the user's web sessions that are still open, in ``session``'s transaction."""
    result = session.execute(
        update(WebSessionRecord)
        .where(WebSessionRecord.user_id == user_id, WebSessionRecord.ended_at.is_(None))
        .values(ended_at=at)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def check_password(password: str, min_length: int) -> None:
    """UserError for a password too short, too long, or one character repeated."""
    if len(password) < min_length:
        raise UserError(f"the password must have at least {min_length} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    if len(set(password)) == 1:
        raise UserError("the password must not be one character repeated")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")


def _matching_step(secret: str, code: str, step: int, after: int | None) -> int | None:
    """The time step (this one or either next to it) whose code is ``code``,
    later than ``after``; None if there is none."""
    code = code.strip().replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_PERIOD)
    for candidate in (step - 1, step, step + 1):
        if after is not None and candidate <= after:
            continue
        if hmac.compare_digest(totp.at(candidate * TOTP_PERIOD), code):
            return candidate
    return None


class Users:
    """The web UI's users on one database.  ``clock`` says what time it is
    (tests pass a fake one)."""

    def __init__(
        self, database: Database, settings: Settings, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self.hasher = PASSWORD_HASHER
        self.throttle = Throttle(database, settings)
        self._dummy_hash: str | None = None

    # -- the accounts ------------------------------------------------------------

    def create(self, name: str, role: str, password: str) -> UserInfo:
        if not _NAME.match(name):
            raise UserError(
                f"invalid user name {name!r}: up to 100 letters, digits, '_', '.', '-', "
                "starting with a letter or digit"
            )
        _check_role(role)
        check_password(password, self.settings.ui_password_min_length)
        password_hash = self.hasher.hash(password)  # slow: before the write lock
        now = self.clock()
        try:
            with self.database.transaction() as session:
                if session.scalar(select(User.id).where(User.name == name)) is not None:
                    raise UserExistsError(f"a user named {name!r} already exists")
                row = User(
                    name=name,
                    role=role,
                    password_hash=password_hash,
                    created_at=now,
                    password_changed_at=now,
                )
                session.add(row)
                session.flush()
                info = user_info(row)
                record(session, "user.create", f"user:{name}", after=_audited(info))
                return info
        except IntegrityError:  # made by another process since the check
            raise UserExistsError(f"a user named {name!r} already exists") from None

    def list(self) -> list[UserInfo]:
        with self.database.reading() as session:
            return [user_info(row) for row in session.scalars(select(User).order_by(User.name))]

    def get(self, name: str) -> UserInfo:
        with self.database.reading() as session:
            return user_info(self._row(session, name))

    def count(self) -> int:
        with self.database.reading() as session:
            return int(session.scalar(select(func.count()).select_from(User)) or 0)

    def set_role(self, name: str, role: str) -> UserInfo:
        _check_role(role)

        def change(row: User, session: Session) -> None:
            row.role = role

        return self._change(name, "user.set_role", change)

    def disable(self, name: str) -> UserInfo:
        """Disable the user: they cannot sign in, and their web sessions end now."""

        def change(row: User, session: Session) -> None:
            now = self.clock()
            if row.disabled_at is None:
                row.disabled_at = now
            end_sessions(session, row.id, now)

        return self._change(name, "user.disable", change)

    def enable(self, name: str) -> UserInfo:
        """Let a disabled user sign in again; also ends a lockout of their name."""

        def change(row: User, session: Session) -> bool:
            row.disabled_at = None
            return self.throttle.clear(session, name, self.clock())  # a lockout ended

        return self._change(name, "user.enable", change)

    def reset_password(self, name: str, password: str) -> UserInfo:
        """A new password: the user's web sessions end, and a lockout of their name too."""
        check_password(password, self.settings.ui_password_min_length)
        password_hash = self.hasher.hash(password)

        def change(row: User, session: Session) -> None:
            now = self.clock()
            row.password_hash = password_hash
            row.password_changed_at = now
            end_sessions(session, row.id, now)
            self.throttle.clear(session, name, now)

        return self._change(name, "user.reset_password", change, always=True)

    def _row(self, session: Session, name: str) -> User:
        row = session.scalar(select(User).where(User.name == name))
        if row is None:
            raise UnknownUserError(name)
        return row

    def _change(
        self,
        name: str,
        action: str,
        change: Callable[[User, Session], bool | None],
        *,
        always: bool = False,
    ) -> UserInfo:
        """Change one user in a transaction, audited when anything changed
        (``change`` returns True for a change the user's record does not show)."""
        with self.database.transaction() as session:
            row = self._row(session, name)
            before = _audited(user_info(row))
            changed_unseen = change(row, session)
            session.flush()
            info = user_info(row)
            after = _audited(info)
            if always or changed_unseen or after != before:
                record(session, action, f"user:{name}", before=before, after=after)
            return info

    # -- signing in ----------------------------------------------------------------

    def login(self, name: str, password: str) -> LoginResult:
        """Check a name and password, unless the name must wait or is locked out."""
        now = self.clock()
        with self.database.reading() as session:
            refused = self.throttle.refusal(session, name, now)
            if refused is not None:
                return LoginResult(None, refused.seconds, refused.locked, refused.message)
            row = session.scalar(select(User).where(User.name == name))
            stored = row.password_hash if row is not None else None
            usable = row is not None and row.disabled_at is None
        right = self._verify(stored, password)  # slow: outside any transaction
        if right and usable and stored is not None:
            signed_in = self._signed_in(name, password, stored, now)
            if signed_in is not None:
                return LoginResult(signed_in, 0.0, False, "")
        failed = self.throttle.fail(name, now)
        return LoginResult(None, failed.seconds, failed.locked, failed.message)

    def _verify(self, stored: str | None, password: str) -> bool:
        if stored is None:
            # Nobody has the name: the same work as for someone who has, so
            # the time taken does not tell.
            if self._dummy_hash is None:
                self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))
            stored = self._dummy_hash
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def _signed_in(self, name: str, password: str, stored: str, now: datetime) -> UserInfo | None:
        """Note a right password: the time, a fresh hash if the parameters
        changed, the count of failures cleared.  None if the user was disabled
        or removed meanwhile."""
        fresh = self.hasher.hash(password) if self.hasher.check_needs_rehash(stored) else None
        with self.database.transaction() as session:
            row = session.scalar(select(User).where(User.name == name))
            if row is None or row.disabled_at is not None:
                return None
            row.last_login_at = now
            if fresh is not None and row.password_hash == stored:
                row.password_hash = fresh
            self.throttle.clear(session, name, now)
            session.flush()
            info = user_info(row)
            with acting_as(as_user(name)):
                record(session, "user.login", f"user:{name}")
            return info

    # -- the second factor ---------------------------------------------------------

    def totp_required(self, user: UserInfo) -> bool:
        """Whether the user's role must sign in with a TOTP code."""
        return user.role in self.settings.ui_totp_required_roles

    def begin_totp(self, name: str) -> str:
        """A new secret for the user to enrol (kept until a code from it is confirmed)."""
        secret = pyotp.random_base32()
        with self.database.transaction() as session:
            self._row(session, name).totp_pending_secret = secret
        return secret

    def totp_uri(self, name: str, secret: str) -> str:
        """The ``otpauth://`` URI an authenticator app reads (as a QR code)."""
        return pyotp.TOTP(secret, interval=TOTP_PERIOD).provisioning_uri(
            name=name, issuer_name=TOTP_ISSUER
        )

    def confirm_totp(self, name: str, code: str) -> bool:
        """Whether ``code`` comes from the secret being enrolled; if so, it is the user's now."""
        with self.database.transaction() as session:
            row = self._row(session, name)
            if row.totp_pending_secret is None:
                return False
            step = _matching_step(row.totp_pending_secret, code, self._step(), None)
            if step is None:
                return False
            before = _audited(user_info(row))
            row.totp_secret, row.totp_pending_secret = row.totp_pending_secret, None
            row.totp_enabled_at = self.clock()
            row.totp_last_step = step
            session.flush()
            record(
                session,
                "user.totp_enable",
                f"user:{name}",
                before=before,
                after=_audited(user_info(row)),
            )
            return True

    def verify_totp(self, name: str, code: str) -> bool:
        """Whether ``code`` is the user's current one (or either next to it),
        not used before.  A wrong code counts as a failed sign-in of the name,
        and while the name waits or is locked out no code is accepted."""
        now = self.clock()
        with self.database.reading() as session:
            if self.throttle.refusal(session, name, now) is not None:
                return False
            row = session.scalar(select(User).where(User.name == name))
            if row is None or row.totp_secret is None or row.disabled_at is not None:
                return False
            user_id, secret, last_step = row.id, row.totp_secret, row.totp_last_step
        step = _matching_step(secret, code, self._step(), last_step)
        if step is None:
            self.throttle.fail(name, now)
            return False
        with self.database.transaction() as session:
            # Taken once: a second use of the code, at the same moment too, finds it taken.
            taken = session.execute(
                update(User)
                .where(
                    User.id == user_id,
                    or_(User.totp_last_step.is_(None), User.totp_last_step < step),
                )
                .values(totp_last_step=step)
            )
            if not getattr(taken, "rowcount", 0):
                return False
            self.throttle.clear(session, name, now)
        return True

    def disable_totp(self, name: str) -> UserInfo:
        """Remove the user's second factor (an admin's reset, or their own choice)."""

        def change(row: User, session: Session) -> None:
            row.totp_secret = row.totp_pending_secret = None
            row.totp_enabled_at = None
            row.totp_last_step = None

        return self._change(name, "user.totp_disable", change)

    def _step(self) -> int:
        return int(self.clock().timestamp()) // TOTP_PERIOD
