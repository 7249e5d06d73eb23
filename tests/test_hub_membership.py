"""Hub membership (hashmatch/hub) on both engines: applying, the criteria
checked off by named admins, approval and its API key, suspension, dues and
re-attestation lapsing a member on a fixed clock, signing keys, the audit
trail, and two admins deciding one application at once."""

from __future__ import annotations

import threading
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select

from hashmatch import audit
from hashmatch.apikeys import ApiKeys
from hashmatch.audit import Actor, acting_as
from hashmatch.errors import (
    HubKeyError,
    InvalidFieldError,
    MembershipAccessError,
    MembershipConflictError,
    MembershipError,
    UnknownApplicationError,
    UnknownMemberError,
    UnknownMemberKeyError,
)
from hashmatch.hub import applications as applications_module
from hashmatch.hub.criteria import CRITERION_KEYS
from hashmatch.hub.membership import Membership
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.hub_models import HubApplication, HubMember
from hashmatch.store.models import AuditEntry
from tests.hub_world import (
    ADMIN,
    START,
    Clock,
    approved,
    checked_application,
    form,
    form_fields,
    public_key_pem,
)
from tests.interleaving import PATIENCE, PausedInside, SecondWriter, started


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def membership(database: Database, clock: Clock) -> Membership:
    return Membership(database, Settings(hub_dues_grace_days=30), clock=clock)


def audit_trail(database: Database, target: str) -> list[tuple[str, str]]:
    with database.reading() as session:
        rows = audit.find(session, target=target)
        return [(row.action, row.actor) for row in rows]


# -- applying --------------------------------------------------------------------------------


def test_an_applicant_sees_its_state_with_its_token(membership: Membership) -> None:
    view, token = membership.applications.submit(form())
    assert view["state"] == "submitted"
    assert view["rejection_reason"] is None
    assert membership.applications.status(view["id"], token)["state"] == "submitted"
    with pytest.raises(UnknownApplicationError, match="with that status token"):
        membership.applications.status(view["id"], token + "x")
    with pytest.raises(UnknownApplicationError):
        membership.applications.status(view["id"] + 1, token)


def test_the_token_is_stored_only_as_its_hash(membership: Membership, database: Database) -> None:
    view, token = membership.applications.submit(form())
    with database.reading() as session:
        stored = session.get(HubApplication, view["id"])
        assert stored is not None
        assert token not in stored.token_hash


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"organisation": " "}, "organisation is required"),
        ({"organisation": "a\x00b"}, "NUL"),
        ({"organisation": "two\nlines"}, "control characters"),
        ({"organisation": "x" * 201}, "at most 200"),
        ({"website": "javascript:alert(1)"}, "http:// or https://"),
        ({"website": "https://"}, "http:// or https://"),
        ({"contact_email": "not-an-address"}, "email address"),
        ({"contact_name": "\ud800"}, "lone surrogate"),
        ({"product": "p" * 2001}, "at most 2000"),
        ({"evidence": dict.fromkeys(CRITERION_KEYS[:5], "x")}, "evidence.engagement is required"),
        ({"evidence": {**dict.fromkeys(CRITERION_KEYS, "x"), "bribes": "x"}}, "unknown criteria"),
    ],
)
def test_bad_applications_are_refused_with_the_field_named(
    membership: Membership, change: dict[str, Any], message: str
) -> None:
    from hashmatch.hub.applications import ApplicationForm

    with pytest.raises(InvalidFieldError, match=message):
        membership.applications.submit(ApplicationForm(**{**form_fields(), **change}))


# -- the state machine -----------------------------------------------------------------------


def test_approval_is_refused_until_all_six_criteria_are_checked(
    membership: Membership, database: Database
) -> None:
    view, _token = membership.applications.submit(form())
    with acting_as(ADMIN):
        for key in CRITERION_KEYS[:5]:
            membership.applications.check(view["id"], key, note="seen")
        with pytest.raises(MembershipConflictError, match="not yet: engagement"):
            membership.applications.approve(view["id"])
        shown = membership.applications.check(view["id"], "engagement", note="met them")
    assert shown["all_checked"]
    assert {c["checked_by"] for c in shown["criteria"]} == {"user:hub-admin"}
    with acting_as(Actor("user:second-admin")):
        result = membership.applications.approve(view["id"])
    assert result["application"]["state"] == "approved"
    assert result["application"]["decided_by"] == "user:second-admin"
    member = result["member"]
    assert member["state"] == "active"
    assert member["approved_by"] == "user:second-admin"
    assert member["reattest_due"] == (START + timedelta(days=365)).isoformat()
    with database.reading() as session:
        assert session.scalar(select(HubMember.name)) == "Example Photos 1"


def test_a_criterion_is_checked_once_and_must_exist(membership: Membership) -> None:
    view, _token = membership.applications.submit(form())
    with acting_as(ADMIN):
        membership.applications.check(view["id"], "policy")
        with pytest.raises(MembershipConflictError, match="checked already by user:hub-admin"):
            membership.applications.check(view["id"], "policy")
        with pytest.raises(MembershipError, match="unknown criterion"):
            membership.applications.check(view["id"], "vibes")
        with pytest.raises(UnknownApplicationError):
            membership.applications.check(view["id"] + 9, "policy")


def test_approval_makes_a_hub_key_shown_once(membership: Membership, database: Database) -> None:
    result = approved(membership)
    keys = ApiKeys(database)
    info = keys.authenticate(result["api_key"])
    assert info is not None
    assert info.scopes == ("hub",)
    assert info.name == result["member"]["api_key_name"]
    assert not info.allows("admin")
    assert result["api_key"] not in str(membership.members.get(result["member"]["id"]))
    keys.close()


def test_a_rejection_reason_reaches_the_applicant(membership: Membership) -> None:
    view, token = membership.applications.submit(form())
    with acting_as(ADMIN):
        with pytest.raises(InvalidFieldError, match="reason is required"):
            membership.applications.reject(view["id"], "  ")
        membership.applications.reject(view["id"], "No published terms of service yet.")
        with pytest.raises(MembershipConflictError, match="rejected already"):
            membership.applications.approve(view["id"])
        with pytest.raises(MembershipConflictError, match="rejected already"):
            membership.applications.check(view["id"], "policy")
    seen = membership.applications.status(view["id"], token)
    assert seen == {**seen, "state": "rejected"}
    assert seen["rejection_reason"] == "No published terms of service yet."


def test_suspend_and_reinstate(membership: Membership) -> None:
    member_id = approved(membership)["member"]["id"]
    with acting_as(ADMIN):
        with pytest.raises(MembershipError, match="needs a reason"):
            membership.members.suspend(member_id, "")
        suspended = membership.members.suspend(member_id, "signals shared outside the hub")
        with pytest.raises(MembershipConflictError, match="is suspended"):
            membership.members.suspend(member_id, "again")
        assert suspended["state"] == "suspended"
        assert suspended["notices"][0]["kind"] == "suspended"
        assert "signals shared outside the hub" in suspended["notices"][0]["message"]
        back = membership.members.reinstate(member_id)
        with pytest.raises(MembershipConflictError, match="is active"):
            membership.members.reinstate(member_id)
        with pytest.raises(UnknownMemberError):
            membership.members.suspend(member_id + 5, "who")
    assert back["state"] == "active"
    assert back["state_reason"] == ""
    assert [n["kind"] for n in back["notices"]] == ["reinstated", "suspended"]


# -- dues, re-attestation, lapsing -----------------------------------------------------------


def test_unpaid_dues_lapse_after_the_grace_period(membership: Membership, clock: Clock) -> None:
    member = approved(membership)["member"]
    due = START + timedelta(days=60)
    with acting_as(ADMIN):
        membership.dues.record(member["id"], invoice="INV-2026-001", due=due, paid=False)
    clock.now = due + timedelta(days=30)  # the last day of grace: still active
    assert membership.dues.lapse_check() == []
    clock.advance(seconds=1)
    (lapsed,) = membership.dues.lapse_check()
    assert lapsed["member_id"] == member["id"]
    assert "INV-2026-001" in lapsed["reason"]
    assert membership.dues.lapse_check() == []  # lapsed once
    me = membership.members.me(member["api_key_name"])
    assert me["state"] == "lapsed"
    assert me["notices"][0]["kind"] == "lapsed"
    assert "unpaid past the grace period" in me["notices"][0]["message"]
    with pytest.raises(MembershipAccessError, match="is lapsed: Sharing access lapsed"):
        membership.members.directory(member["api_key_name"])
    with acting_as(ADMIN):
        with pytest.raises(MembershipConflictError, match="record the payment"):
            membership.members.reinstate(member["id"])
        membership.dues.record(member["id"], invoice="INV-2026-001", due=due, paid=True)
        assert membership.members.reinstate(member["id"])["state"] == "active"


def test_a_members_own_grace_period_wins(membership: Membership, clock: Clock) -> None:
    member = approved(membership)["member"]
    with acting_as(ADMIN):
        membership.dues.record(member["id"], invoice="I-1", due=START, paid=False, grace_days=0)
        with pytest.raises(InvalidFieldError, match="grace_days"):
            membership.dues.record(
                member["id"], invoice="I-1", due=START, paid=False, grace_days=-1
            )
    clock.advance(days=1)
    assert [row["member_id"] for row in membership.dues.lapse_check()] == [member["id"]]


def test_paid_dues_never_lapse_and_reattestation_is_yearly(
    membership: Membership, clock: Clock
) -> None:
    member = approved(membership)["member"]
    with acting_as(ADMIN):
        membership.dues.record(member["id"], invoice="I-2", due=START, paid=True)
    clock.advance(days=364)
    with acting_as(ADMIN):
        renewed = membership.dues.reattest(member["id"])
    assert renewed["reattest_due"] == (clock.now + timedelta(days=365)).isoformat()
    clock.advance(days=365)
    assert membership.dues.lapse_check() == []
    clock.advance(days=1)
    (lapsed,) = membership.dues.lapse_check()
    assert "re-attestation" in lapsed["reason"]


def test_suspended_members_are_not_lapsed(membership: Membership, clock: Clock) -> None:
    member = approved(membership)["member"]
    with acting_as(ADMIN):
        membership.members.suspend(member["id"], "paused by the board")
    clock.advance(days=800)
    assert membership.dues.lapse_check() == []
    assert membership.members.get(member["id"])["state"] == "suspended"


# -- signing keys and the directory ----------------------------------------------------------


def test_keys_rotate_by_add_then_revoke(membership: Membership, clock: Clock) -> None:
    member = approved(membership)["member"]
    holder = member["api_key_name"]
    first = membership.keys.register(holder, public_key_pem())
    clock.advance(days=10)
    second = membership.keys.register(holder, public_key_pem())
    revoked = membership.keys.revoke(holder, first["kid"])
    assert revoked["revoked_at"] == clock.now.isoformat()
    assert membership.keys.revoke(holder, first["kid"]) == revoked
    with pytest.raises(MembershipConflictError, match="registered already"):
        membership.keys.register(holder, second["public_key"])
    with pytest.raises(UnknownMemberKeyError):
        membership.keys.revoke(holder, "no-such-kid")
    with pytest.raises(HubKeyError):
        membership.keys.register(holder, "not a key")
    (entry,) = membership.members.directory(holder)
    assert entry["name"] == "Example Photos 1"
    assert [(k["kid"], k["revoked_at"]) for k in entry["keys"]] == [
        (first["kid"], revoked["revoked_at"]),
        (second["kid"], None),
    ]


def test_another_members_key_cannot_be_revoked(membership: Membership) -> None:
    one = approved(membership, 1)["member"]["api_key_name"]
    two = approved(membership, 2)["member"]["api_key_name"]
    kid = membership.keys.register(one, public_key_pem())["kid"]
    with pytest.raises(UnknownMemberKeyError):
        membership.keys.revoke(two, kid)


def test_an_inactive_member_may_revoke_but_not_register(membership: Membership) -> None:
    member = approved(membership)["member"]
    kid = membership.keys.register(member["api_key_name"], public_key_pem())["kid"]
    with acting_as(ADMIN):
        membership.members.suspend(member["id"], "under review")
    with pytest.raises(MembershipAccessError, match="suspended"):
        membership.keys.register(member["api_key_name"], public_key_pem())
    assert membership.keys.revoke(member["api_key_name"], kid)["revoked_at"] is not None


def test_a_key_that_is_no_members_has_no_membership(
    membership: Membership, database: Database
) -> None:
    with pytest.raises(UnknownMemberError, match="belongs to no hub member"):
        membership.members.me("uploads")


# -- the audit trail -------------------------------------------------------------------------


def test_every_step_is_audited_with_its_actor(
    membership: Membership, database: Database, clock: Clock
) -> None:
    result = approved(membership)
    member = result["member"]
    application = f"hub-application:{result['application']['id']}"
    trail = audit_trail(database, application)
    assert trail[0] == ("hub.application.submit", "system")
    assert trail[1:7] == [("hub.application.check", "user:hub-admin")] * 6
    assert trail[7:] == [("hub.application.approve", "user:hub-admin")]
    with acting_as(ADMIN):
        membership.dues.record(member["id"], invoice="I-3", due=START, paid=False)
    membership.keys.register(member["api_key_name"], public_key_pem())
    clock.advance(days=31)
    membership.dues.lapse_check()
    assert [action for action, _ in audit_trail(database, f"hub-member:{member['id']}")] == [
        "hub.member.create",
        "hub.member.dues",
        "hub.key.register",
        "hub.member.lapse",
    ]
    assert audit_trail(database, f"key:{member['api_key_name']}") == [
        ("key.create", "user:hub-admin")
    ]
    with database.reading() as session:
        assert audit.verify(session).ok
        secrets_seen = session.scalars(select(AuditEntry.after)).all()
    assert result["api_key"] not in str(secrets_seen)


# -- two admins at once ----------------------------------------------------------------------


def test_two_admins_deciding_at_once_one_wins(
    membership: Membership, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first admin has locked the application and not committed; the
    second waits for it (the row lock, or SQLite's write lock), then finds it
    decided: one member, one key."""
    application_id = checked_application(membership)
    paused = PausedInside(monkeypatch, applications_module, "locked_application")
    watcher = SecondWriter(database, monkeypatch)
    results: dict[str, Any] = {}

    def approve() -> dict[str, Any]:
        with acting_as(Actor("user:ann")):
            return membership.applications.approve(application_id)

    def reject() -> dict[str, Any]:
        with acting_as(Actor("user:bo")):
            return membership.applications.reject(application_id, "duplicate")

    one = started(approve, "first", results)
    assert paused.reached.wait(PATIENCE)
    two = started(reject, "second", results)
    watcher.wait_until_blocked(two)
    paused.release()
    one.join(PATIENCE)
    two.join(PATIENCE)
    assert results["first"]["application"]["state"] == "approved"
    assert isinstance(results["second"], MembershipConflictError)
    assert "approved already (by user:ann)" in str(results["second"])
    assert len(membership.members.list()) == 1
    assert membership.applications.get(application_id)["rejection_reason"] is None


def test_many_admins_deciding_many_applications_at_once(
    membership: Membership, database: Database
) -> None:
    """A bounded stress: 4 applications, 6 admins each trying to approve or
    reject every one at once; each is decided exactly once, and exactly the
    approved ones have a member and a key."""
    application_ids = [checked_application(membership, n) for n in range(4)]
    barrier = threading.Barrier(6)
    results: dict[str, Any] = {}

    def work(number: int) -> list[int]:
        barrier.wait(PATIENCE)
        won = []
        for application_id in application_ids[number % 4 :] + application_ids[: number % 4]:
            try:
                with acting_as(Actor(f"user:admin{number}")):
                    if number % 2:
                        membership.applications.approve(application_id)
                    else:
                        membership.applications.reject(application_id, "not now")
                won.append(application_id)
            except MembershipConflictError:
                pass
        return won

    threads = [started(partial(work, n), f"admin{n}", results) for n in range(6)]
    for thread in threads:
        thread.join(PATIENCE)
    assert all(isinstance(result, list) for result in results.values()), results
    assert sorted(a for won in results.values() for a in won) == application_ids
    decided = [membership.applications.get(a) for a in application_ids]
    approved_ids = {a["id"] for a in decided if a["state"] == "approved"}
    members = membership.members.list()
    assert {m["application_id"] for m in members} == approved_ids
    with database.reading() as session:
        actions = [row.action for row in audit.find(session, action="hub.application.*", limit=100)]
    assert (
        len([a for a in actions if a != "hub.application.check" and a != "hub.application.submit"])
        == 4
    )
