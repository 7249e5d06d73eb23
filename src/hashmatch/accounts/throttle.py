"""Failed sign-ins per name: a wait that grows, then a lockout.

    throttle = Throttle(database, settings)
    refused = throttle.refusal(session, name, now)   # None: the name may try now
    answer = throttle.fail(name, now)                # after a wrong password or code

Names are counted as typed, whether a user has them or not
(``login_throttle``), so the answers never tell whether a name exists.  From
``ui_login_delay_after`` failures in a row a name waits 1, 2, 4 ... up to 60
seconds before its next try; ``ui_login_lockout_failures`` lock it for
``ui_login_lockout_minutes`` (audited as ``user.lockout``).  A failure is
counted with one statement (``failures = failures + 1``, inserting the row if
need be), so failures at the same moment never lose a count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from hashmatch.audit import Actor, current_actor, record
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.account_models import LoginThrottle
from hashmatch.store.database import conflict_insert
from hashmatch.store.models import as_utc

#: The login form's answer for a wrong password, an unknown name and a disabled user.
WRONG_NAME_OR_PASSWORD = "Wrong name or password."
#: The longest wait between tries before the lockout, in seconds.
MAX_DELAY = 60
# Names typed are counted by their first characters: a user's name is never
# longer, and a stranger's long text makes no long row.
_NAME_LENGTH = 100


@dataclass(frozen=True)
class Refusal:
    """Why a name may not sign in now (or, after a failure, what it faces)."""

    seconds: float
    locked: bool
    message: str


def as_user(name: str) -> Actor:
    """``user:<name>``, keeping the request id and address of whoever acts now."""
    now = current_actor()
    return Actor(f"user:{name}", now.request_id, now.client)


def throttle_key(name: str) -> str:
    return name[:_NAME_LENGTH]


class Throttle:
    """The count of failed sign-ins per name on one database."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings

    def delay(self, failures: int) -> int:
        """Seconds a name with ``failures`` in a row waits before its next try."""
        over = failures - self.settings.ui_login_delay_after
        return 0 if over < 0 else min(2**over, MAX_DELAY)

    def refusal(self, session: Session, name: str, now: datetime) -> Refusal | None:
        """Why the name may not try now (read in ``session``); None if it may."""
        row = session.get(LoginThrottle, throttle_key(name))
        if row is None:
            return None
        if row.locked_until is not None and as_utc(row.locked_until) > now:
            return _locked((as_utc(row.locked_until) - now).total_seconds())
        delay = self.delay(row.failures)
        if delay and row.last_failure_at is not None:
            wait = (as_utc(row.last_failure_at) + timedelta(seconds=delay) - now).total_seconds()
            if wait > 0:
                return Refusal(
                    wait,
                    False,
                    f"Too many failed sign-ins: try again in {math.ceil(wait)} seconds.",
                )
        return None

    def fail(self, name: str, now: datetime) -> Refusal:
        """Count a failure for the name, in a transaction of its own, and say
        what comes of it (a wait of 0 seconds: it may try again at once)."""
        key = throttle_key(name)
        with self.database.transaction() as session:
            failures: int = session.execute(_count_failure(self.database, key, now)).scalar_one()
            if failures >= self.settings.ui_login_lockout_failures:
                until = now + timedelta(minutes=self.settings.ui_login_lockout_minutes)
                session.execute(
                    update(LoginThrottle)
                    .where(LoginThrottle.name == key)
                    .values(locked_until=until)
                )
                record(
                    session,
                    "user.lockout",
                    f"user:{key}",
                    after={"failures": failures, "locked_until": until.isoformat()},
                    actor=as_user(key),
                )
                return _locked((until - now).total_seconds())
        return Refusal(float(self.delay(failures)), False, WRONG_NAME_OR_PASSWORD)

    def clear(self, session: Session, name: str, now: datetime) -> bool:
        """Forget the name's failures (in ``session``'s transaction); whether
        that ended a lockout."""
        key = throttle_key(name)
        until = session.scalar(select(LoginThrottle.locked_until).where(LoginThrottle.name == key))
        session.execute(delete(LoginThrottle).where(LoginThrottle.name == key))
        return until is not None and as_utc(until) > now


def _locked(seconds: float) -> Refusal:
    return Refusal(
        seconds,
        True,
        f"Too many failed sign-ins: this name is locked; try again in "
        f"{math.ceil(seconds / 60)} minutes.",
    )


def _count_failure(database: Database, name: str, now: datetime) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE SET failures = failures + 1, returning
    the new count: one statement, so two failures at once both count."""
    statement = conflict_insert(database.dialect, LoginThrottle).values(
        name=name, failures=1, last_failure_at=now, locked_until=None
    )
    return statement.on_conflict_do_update(
        index_elements=[LoginThrottle.name],
        set_={"failures": LoginThrottle.failures + 1, "last_failure_at": now},
    ).returning(LoginThrottle.failures)
