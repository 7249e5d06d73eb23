"""People who sign in to the web UI, on both engines: accounts, passwords,
throttled sign-in, the second factor, sessions and their audit entries."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from hashmatch.accounts import users as users_module
from hashmatch.accounts.roles import PERMISSIONS, ROLES, allows
from hashmatch.accounts.sessions import WebSessions
from hashmatch.accounts.throttle import WRONG_NAME_OR_PASSWORD
from hashmatch.accounts.users import Users
from hashmatch.audit import Actor, acting_as, find, verify
from hashmatch.errors import ConfigurationError, UnknownUserError, UserError, UserExistsError
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.account_models import LoginThrottle, User, WebSessionRecord
from hashmatch.store.models import as_utc

PASSWORD = "correct horse battery"


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def users(database: Database, settings: Settings, clock: Clock) -> Users:
    return Users(database, settings, clock=clock)


@pytest.fixture
def sessions(database: Database, settings: Settings, clock: Clock) -> WebSessions:
    return WebSessions(database, settings, clock=clock)


def failures(database: Database, name: str) -> int:
    with database.reading() as session:
        row = session.get(LoginThrottle, name)
        return row.failures if row is not None else 0


def audit_entries(database: Database) -> list[Any]:
    with database.reading() as session:
        return find(session, limit=1000)


# -- roles and accounts ----------------------------------------------------------


def test_each_role_has_what_it_needs() -> None:
    assert all(allows("admin", permission) for permission in PERMISSIONS)
    assert [role for role in ROLES if allows(role, "curate")] == ["admin", "curator"]
    assert allows("reviewer", "review")
    assert not allows("reviewer", "read")
    assert allows("legal", "evidence")
    assert not allows("viewer", "evidence")
    assert not allows("admin", "no such permission")
    assert not allows("root", "view")


def test_create_list_get_and_change_users(users: Users, clock: Clock) -> None:
    assert users.count() == 0
    ada = users.create("ada", "admin", PASSWORD)
    users.create("bob", "viewer", PASSWORD)
    assert (ada.name, ada.role, ada.created_at, ada.disabled_at) == ("ada", "admin", clock(), None)
    assert not ada.totp_enabled
    assert ada.last_login_at is None
    assert [info.name for info in users.list()] == ["ada", "bob"]
    assert users.count() == 2
    assert users.get("bob").to_json() == {
        "id": users.get("bob").id,
        "name": "bob",
        "role": "viewer",
        "created_at": clock().isoformat(),
        "disabled_at": None,
        "totp_enabled": False,
        "last_login_at": None,
    }
    assert users.set_role("bob", "curator").role == "curator"
    assert users.disable("bob").disabled_at == clock()
    assert users.enable("bob").disabled_at is None


def test_users_that_cannot_be_made_or_changed(users: Users) -> None:
    users.create("ada", "admin", PASSWORD)
    with pytest.raises(UserExistsError, match="already exists"):
        users.create("ada", "viewer", PASSWORD)
    for name in ("", "-dash", "has space", "x" * 101, "ünï"):
        with pytest.raises(UserError, match="invalid user name"):
            users.create(name, "viewer", PASSWORD)
    with pytest.raises(UserError, match="unknown role 'root'"):
        users.create("bob", "root", PASSWORD)
    with pytest.raises(UserError, match="unknown role"):
        users.set_role("ada", "root")
    for weak, why in (
        ("short", "at least 12"),
        ("a" * 40, "one character repeated"),
        ("x" * 1025, "at most 1024"),
    ):
        with pytest.raises(UserError, match=why):
            users.create("bob", "viewer", weak)
        with pytest.raises(UserError, match=why):
            users.reset_password("ada", weak)
    with pytest.raises(UnknownUserError) as unknown:
        users.get("nobody")
    assert str(unknown.value) == "no user named 'nobody'"
    assert isinstance(unknown.value, KeyError)
    assert isinstance(unknown.value, ValueError)
    for change in (users.disable, users.enable, users.disable_totp, users.begin_totp):
        with pytest.raises(UnknownUserError):
            change("nobody")
    assert users.count() == 1


def test_passwords_are_kept_as_argon2id_hashes(users: Users, database: Database) -> None:
    users.create("ada", "admin", PASSWORD)
    with database.reading() as session:
        stored = session.scalar(select(User.password_hash))
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_the_minimum_length_is_a_setting(database: Database, clock: Clock) -> None:
    users = Users(database, Settings(ui_password_min_length=30), clock=clock)
    with pytest.raises(UserError, match="at least 30"):
        users.create("ada", "admin", PASSWORD)
    with pytest.raises(ConfigurationError, match="ui_password_min_length"):
        Settings.load({"ui_password_min_length": 4})
    with pytest.raises(ConfigurationError, match="unknown roles"):
        Settings.load({"ui_totp_required_roles": ["admin", "root"]})


# -- signing in ------------------------------------------------------------------


def test_a_right_password_signs_in(users: Users, clock: Clock) -> None:
    users.create("ada", "admin", PASSWORD)
    clock.advance(minutes=5)
    result = users.login("ada", PASSWORD)
    assert result.ok
    assert not result.locked
    assert result.retry_after == 0
    assert result.user is not None
    assert result.user.last_login_at == clock()
    assert users.get("ada").last_login_at == clock()


def test_wrong_password_unknown_name_and_disabled_user_read_the_same(users: Users) -> None:
    users.create("ada", "admin", PASSWORD)
    users.create("bob", "viewer", PASSWORD)
    users.disable("bob")
    answers = [
        users.login("ada", "not the password"),
        users.login("nobody", PASSWORD),
        users.login("bob", PASSWORD),
    ]
    for answer in answers:
        assert not answer.ok
        assert (answer.message, answer.locked, answer.retry_after) == (
            WRONG_NAME_OR_PASSWORD,
            False,
            0,
        )


def test_failures_make_a_name_wait_longer_then_lock_it(
    users: Users, database: Database, clock: Clock
) -> None:
    users.create("ada", "admin", PASSWORD)
    waits = []
    for _ in range(9):
        result = users.login("ada", "wrong password!")
        assert not result.ok
        assert not result.locked
        waits.append(result.retry_after)
        if result.retry_after:
            # Inside the wait even the right password is refused, unchecked and uncounted.
            counted = failures(database, "ada")
            clock.advance(seconds=result.retry_after - 0.5)
            early = users.login("ada", PASSWORD)
            assert not early.ok
            assert early.retry_after == 0.5
            assert "try again in 1 seconds" in early.message
            assert failures(database, "ada") == counted
            clock.advance(seconds=0.5)
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 60]
    locked = users.login("ada", "wrong password!")
    assert locked.locked
    assert not locked.ok
    assert locked.retry_after == 15 * 60
    assert "try again in 15 minutes" in locked.message
    clock.advance(minutes=14)
    still = users.login("ada", PASSWORD)
    assert still.locked
    assert not still.ok
    assert still.retry_after == 60

    users.enable("ada")  # ends the lockout, audited though ada was not disabled
    [*_, entry] = audit_entries(database)
    assert entry.action == "user.enable"
    assert entry.before == entry.after
    assert users.login("ada", PASSWORD).ok
    assert failures(database, "ada") == 0  # success starts the count again


def test_a_lockout_ends_by_itself_and_with_a_new_password(database: Database, clock: Clock) -> None:
    settings = Settings(ui_login_delay_after=5, ui_login_lockout_failures=3)
    users = Users(database, settings, clock=clock)
    users.create("ada", "admin", PASSWORD)
    for _ in range(3):
        users.login("ada", "wrong password!")
    assert users.login("ada", PASSWORD).locked
    clock.advance(minutes=15, seconds=1)
    assert users.login("ada", PASSWORD).ok

    for _ in range(3):
        users.login("ada", "wrong password!")
    assert users.login("ada", PASSWORD).locked
    users.reset_password("ada", "another long passphrase")
    assert users.login("ada", "another long passphrase").ok
    assert not users.login("ada", PASSWORD).ok


def test_unknown_names_wait_and_lock_like_known_ones(users: Users, database: Database) -> None:
    users.create("ada", "admin", PASSWORD)
    known = [users.login("ada", "wrong password!") for _ in range(3)]
    unknown = [users.login("nobody", "wrong password!") for _ in range(3)]
    assert [(r.message, r.retry_after) for r in known] == [
        (r.message, r.retry_after) for r in unknown
    ]
    assert users.login("nobody", "wrong password!").message == users.login("ada", PASSWORD).message


def test_a_hash_with_old_parameters_is_renewed_at_sign_in(
    database: Database, settings: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    Users(database, settings, clock=clock).create("ada", "admin", PASSWORD)
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    monkeypatch.setattr(users_module, "PASSWORD_HASHER", stronger)
    with database.reading() as session:
        old = session.scalar(select(User.password_hash))
    assert old is not None
    assert stronger.check_needs_rehash(old)
    assert Users(database, settings, clock=clock).login("ada", PASSWORD).ok
    with database.reading() as session:
        new = session.scalar(select(User.password_hash))
    assert new is not None
    assert new != old
    assert not stronger.check_needs_rehash(new)
    assert stronger.verify(new, PASSWORD)


class _MeetingHasher(PasswordHasher):
    """Checks a password only once every caller has read the name's count."""

    def __init__(self, barrier: threading.Barrier) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.barrier = barrier

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.barrier.wait(timeout=30)
        return super().verify(hash, password)


@pytest.mark.parametrize("name", ["ada", "nobody"])
def test_failures_at_the_same_moment_both_count(
    users: Users, database: Database, name: str
) -> None:
    """Both sign-ins read the count (0) before either writes: a read-modify-
    write would store 1.  The count is raised in one statement, so 2."""
    users.create("ada", "admin", PASSWORD)
    users.hasher = _MeetingHasher(threading.Barrier(2))
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(users.login(name, "wrong password!")))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [result.message for result in results] == [WRONG_NAME_OR_PASSWORD] * 2
    assert failures(database, name) == 2


def test_many_failures_at_once_all_count(database: Database, clock: Clock) -> None:
    settings = Settings(ui_login_delay_after=100, ui_login_lockout_failures=1000)
    users = Users(database, settings, clock=clock)

    def fail_three_times() -> None:
        for _ in range(3):
            users.login("ada", "wrong password!")

    threads = [threading.Thread(target=fail_three_times) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures(database, "ada") == 12


# -- the second factor -------------------------------------------------------------


def _code(secret: str, clock: Clock, *, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock() + timedelta(seconds=30 * steps))


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_totp_enrolment_then_codes_once_each(users: Users, clock: Clock) -> None:
    users.create("ada", "reviewer", PASSWORD)
    assert not users.totp_required(users.get("ada"))
    secret = users.begin_totp("ada")
    assert len(secret) >= 16
    uri = users.totp_uri("ada", secret)
    assert uri.startswith("otpauth://totp/hashmatch:ada?")
    assert "issuer=hashmatch" in uri
    assert not users.verify_totp("ada", _code(secret, clock))  # not enrolled yet
    assert not users.confirm_totp("ada", _wrong(_code(secret, clock)))
    assert not users.get("ada").totp_enabled
    assert users.confirm_totp("ada", _code(secret, clock))
    assert users.get("ada").totp_enabled

    assert not users.verify_totp("ada", _code(secret, clock))  # the code confirming was used
    assert users.verify_totp("ada", _code(secret, clock, steps=1))  # one step ahead: allowed
    assert not users.verify_totp("ada", _code(secret, clock, steps=1))  # replayed
    clock.advance(seconds=90)
    assert not users.verify_totp("ada", _code(secret, clock, steps=-2))  # too old
    assert users.verify_totp("ada", _code(secret, clock, steps=-1))  # one step behind: allowed
    assert not users.verify_totp("ada", "12345")
    assert not users.verify_totp("nobody", _code(secret, clock))

    assert not users.disable_totp("ada").totp_enabled
    assert not users.verify_totp("ada", _code(secret, clock, steps=1))


def test_wrong_codes_count_as_failed_sign_ins(
    users: Users, database: Database, clock: Clock
) -> None:
    users.create("ada", "admin", PASSWORD)
    secret = users.begin_totp("ada")
    assert users.confirm_totp("ada", _code(secret, clock))
    wrong = _wrong(_code(secret, clock, steps=1))
    for _ in range(3):
        assert not users.verify_totp("ada", wrong)
    assert failures(database, "ada") == 3
    # Waiting now: even the right code is refused until the wait is over.
    assert not users.verify_totp("ada", _code(secret, clock, steps=1))
    clock.advance(seconds=1)
    assert users.verify_totp("ada", _code(secret, clock, steps=1))
    assert failures(database, "ada") == 0


def test_roles_can_require_a_second_factor(database: Database, clock: Clock) -> None:
    users = Users(database, Settings(ui_totp_required_roles=["admin", "reviewer"]), clock=clock)
    users.create("ada", "admin", PASSWORD)
    users.create("bob", "viewer", PASSWORD)
    assert users.totp_required(users.get("ada"))
    assert not users.totp_required(users.get("bob"))


# -- sessions ----------------------------------------------------------------------


def test_a_session_is_found_by_its_token_which_is_never_stored(
    users: Users, sessions: WebSessions, database: Database
) -> None:
    ada = users.create("ada", "admin", PASSWORD)
    token, started = sessions.start(ada, second_factor_done=True)
    assert started.key == hashlib.sha256(token.encode()).hexdigest()
    found = sessions.find(token)
    assert found is not None
    assert (found.key, found.user.name, found.csrf_token) == (
        started.key,
        "ada",
        started.csrf_token,
    )
    assert found.second_factor_done
    other_token, other = sessions.start(ada, second_factor_done=True)
    assert other_token != token
    assert other.csrf_token != started.csrf_token
    with database.reading() as session:
        stored = [(row.key, row.csrf_token) for row in session.scalars(select(WebSessionRecord))]
    assert token not in json.dumps(stored)
    assert sessions.find("not a token") is None
    assert sessions.find("") is None


def test_sessions_end_when_idle_or_old(
    users: Users, sessions: WebSessions, database: Database, clock: Clock
) -> None:
    ada = users.create("ada", "admin", PASSWORD)
    token, started = sessions.start(ada, second_factor_done=True)
    clock.advance(seconds=30)
    found = sessions.find(token)
    assert found is not None
    assert found.last_seen_at == started.last_seen_at
    clock.advance(seconds=30)
    found = sessions.find(token)
    assert found is not None
    assert found.last_seen_at == clock()
    with database.reading() as session:
        row = session.get(WebSessionRecord, started.key)
        assert row is not None
        assert as_utc(row.last_seen_at) == clock()
    clock.advance(minutes=30, seconds=1)
    assert sessions.find(token) is None  # idle too long

    token, _ = sessions.start(ada, second_factor_done=True)
    for _ in range(12 * 4):
        clock.advance(minutes=15)
        assert sessions.find(token) is not None
    clock.advance(seconds=1)
    assert sessions.find(token) is None  # in use, but older than 12 hours


def test_signing_out_and_ending_every_session(users: Users, sessions: WebSessions) -> None:
    ada = users.create("ada", "admin", PASSWORD)
    bob = users.create("bob", "viewer", PASSWORD)
    first, _ = sessions.start(ada, second_factor_done=True)
    second, _ = sessions.start(ada, second_factor_done=True)
    bobs, _ = sessions.start(bob, second_factor_done=True)
    sessions.end(first)
    sessions.end(first)  # twice: nothing more happens
    sessions.end("unknown")
    assert sessions.find(first) is None
    assert sessions.find(second) is not None
    assert sessions.end_all("ada") == 1
    assert sessions.find(second) is None
    assert sessions.find(bobs) is not None
    with pytest.raises(UnknownUserError):
        sessions.end_all("nobody")


def test_disabling_or_a_new_password_ends_sessions(users: Users, sessions: WebSessions) -> None:
    ada = users.create("ada", "admin", PASSWORD)
    token, _ = sessions.start(ada, second_factor_done=True)
    users.disable("ada")
    assert sessions.find(token) is None
    users.enable("ada")
    assert sessions.find(token) is None  # ended, not only hidden

    token, _ = sessions.start(ada, second_factor_done=True)
    users.reset_password("ada", "another long passphrase")
    assert sessions.find(token) is None


def test_a_session_waits_for_the_second_factor(users: Users, sessions: WebSessions) -> None:
    ada = users.create("ada", "admin", PASSWORD)
    token, _started = sessions.start(ada, second_factor_done=False)
    found = sessions.find(token)
    assert found is not None
    assert not found.second_factor_done
    completed = sessions.complete_second_factor(token)
    assert completed is not None
    assert completed.second_factor_done
    found = sessions.find(token)
    assert found is not None
    assert found.second_factor_done
    assert sessions.complete_second_factor("unknown") is None


def test_a_session_sees_its_users_role_now(users: Users, sessions: WebSessions) -> None:
    token, _ = sessions.start(users.create("ada", "viewer", PASSWORD), second_factor_done=True)
    users.set_role("ada", "curator")
    found = sessions.find(token)
    assert found is not None
    assert found.user.role == "curator"


# -- the audit log -----------------------------------------------------------------


def test_changes_sign_ins_and_lockouts_are_audited_without_secrets(
    database: Database, clock: Clock
) -> None:
    settings = Settings(ui_login_lockout_failures=2)
    users = Users(database, settings, clock=clock)
    with acting_as(Actor("cli:root")):
        users.create("ada", "viewer", PASSWORD)
        users.set_role("ada", "curator")
        users.disable("ada")
        users.disable("ada")  # already: no entry
        users.enable("ada")
        users.reset_password("ada", "another long passphrase")
    with acting_as(Actor("web", request_id="r-1", client="10.0.0.7")):
        assert users.login("ada", "another long passphrase").ok
        secret = users.begin_totp("ada")
        with acting_as(Actor("user:ada")):
            assert users.confirm_totp("ada", pyotp.TOTP(secret).at(clock()))
        users.login("ada", "wrong password!")
        assert users.login("ada", "wrong password!").locked
        users.login("nobody", "wrong password!")
        users.login("nobody", "wrong password!")
    entries = audit_entries(database)
    assert [(entry.actor, entry.action, entry.target) for entry in entries] == [
        ("cli:root", "user.create", "user:ada"),
        ("cli:root", "user.set_role", "user:ada"),
        ("cli:root", "user.disable", "user:ada"),
        ("cli:root", "user.enable", "user:ada"),
        ("cli:root", "user.reset_password", "user:ada"),
        ("user:ada", "user.login", "user:ada"),
        ("user:ada", "user.totp_enable", "user:ada"),
        ("user:ada", "user.lockout", "user:ada"),
        ("user:nobody", "user.lockout", "user:nobody"),
    ]
    login = entries[5]
    assert (login.request_id, login.client) == ("r-1", "10.0.0.7")
    assert entries[1].before["role"] == "viewer"
    assert entries[1].after["role"] == "curator"
    with database.reading() as session:
        hashes = list(session.scalars(select(User.password_hash)))
        assert verify(session).ok
    written = json.dumps([[entry.before, entry.after] for entry in entries])
    for secret_text in (PASSWORD, "another long passphrase", "wrong password!", secret, *hashes):
        assert secret_text not in written
