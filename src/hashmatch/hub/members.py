"""Hub members: made by an approved application, suspended and reinstated by
hub admins, and the directory members read each other's keys from.

    members = Members(database, grace_days=30)
    members.suspend(3, "shared signals outside the coalition")
    members.reinstate(3)
    members.me("hub-7")                 # the member holding API key hub-7
    members.directory("hub-7")          # MembershipAccessError unless hub-7's member is active
    members.identifier_key("hub-7", keys)   # the hub's current key, audited

A member is ``active`` (shares and reads), ``suspended`` (by an admin) or
``lapsed`` (unpaid dues or an overdue re-attestation, ``dues.py``).  Only an
active member reads the directory or shares; an inactive one still sees its
own state and the notices that say why (``me``), and may revoke its keys.
Reinstating a member whose dues or re-attestation are still overdue is
refused: the lapse check would lapse it again at once.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.apikeys import create_key
from hashmatch.errors import (
    MembershipAccessError,
    MembershipConflictError,
    MembershipError,
    NoIdentifierKeyError,
    UnknownMemberError,
)
from hashmatch.fieldlimits import check_text
from hashmatch.hub.dues import lapse_reason
from hashmatch.hub.identifiers import IdentifierKey
from hashmatch.hub.member_records import (
    ATTESTATION_PERIOD,
    directory_entry,
    full_json,
    keys_of,
    locked_member,
    member_by_key,
    member_json,
    notify,
)
from hashmatch.store import Database
from hashmatch.store.hub_models import MEMBER_STATES, HubApplication, HubMember
from hashmatch.store.models import utcnow

#: The one scope a member's hub API key has.
HUB_SCOPE = "hub"
REASON_CHARS = 2000


def admit(session: Session, application: HubApplication, now: datetime) -> tuple[HubMember, str]:
    """The member an approved application makes, and its hub API key's secret,
    in the approval's transaction."""
    key_name = f"hub-{application.id}"
    member = HubMember(
        application_id=application.id,
        name=application.organisation,
        website=application.website,
        state="active",
        state_reason="",
        approved_by=audit.current_actor().name,
        approved_at=now,
        reattest_due=now + ATTESTATION_PERIOD,
        api_key_name=key_name,
        dues_paid=False,
    )
    session.add(member)
    session.flush()
    secret, _info = create_key(session, key_name, [HUB_SCOPE])
    audit.record(
        session,
        "hub.member.create",
        f"hub-member:{member.id}",
        after={"name": member.name, "api_key": key_name},
    )
    return member, secret


def require_active(member: HubMember) -> None:
    """MembershipAccessError, saying why, unless the member is active."""
    if member.state != "active":
        why = f": {member.state_reason}" if member.state_reason else ""
        raise MembershipAccessError(f"hub member {member.name!r} is {member.state}{why}")


class Members:
    def __init__(
        self, database: Database, *, grace_days: int, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.database = database
        self.grace_days = grace_days
        self.clock = clock

    def list(self, *, state: str | None = None) -> list[dict[str, Any]]:
        """Every member (or those in ``state``), oldest first, with its keys."""
        if state is not None and state not in MEMBER_STATES:
            raise MembershipError(f"state must be one of {', '.join(MEMBER_STATES)}")
        query = select(HubMember).order_by(HubMember.id)
        if state is not None:
            query = query.where(HubMember.state == state)
        now = self.clock()
        with self.database.reading() as session:
            members = list(session.scalars(query))
            keys = keys_of(session, [member.id for member in members])
            return [member_json(member, keys[member.id], [], now) for member in members]

    def get(self, member_id: int) -> dict[str, Any]:
        with self.database.reading() as session:
            member = session.get(HubMember, member_id)
            if member is None:
                raise UnknownMemberError(f"no hub member {member_id}")
            return full_json(session, member, self.clock())

    def me(self, key_name: str) -> dict[str, Any]:
        """The member holding this API key: its state, dues, keys and notices."""
        with self.database.reading() as session:
            return full_json(session, member_by_key(session, key_name), self.clock())

    def directory(self, key_name: str | None) -> builtins.list[dict[str, Any]]:
        """Every member with its signing keys, revoked ones too (a receiver
        verifies older objects against them), for an active member's key;
        ``None``: a hub admin asks."""
        with self.database.reading() as session:
            if key_name is not None:
                require_active(member_by_key(session, key_name))
            members = list(session.scalars(select(HubMember).order_by(HubMember.id)))
            keys = keys_of(session, [member.id for member in members])
            return [directory_entry(member, keys[member.id]) for member in members]

    def identifier_key(self, key_name: str, keys: Sequence[IdentifierKey]) -> dict[str, str]:
        """The hub's current identifier key (the first of ``keys``) for an
        active member's key; each hand-out is audited, naming the key by its
        id only (NoIdentifierKeyError while the hub has none)."""
        with self.database.transaction() as session:
            member = member_by_key(session, key_name)
            require_active(member)
            if not keys:
                raise NoIdentifierKeyError(
                    "this hub has no identifier key yet: its operator makes one with "
                    "`hashmatch hub identifier-key new` and sets identifier_keys"
                )
            audit.record(
                session,
                "hub.identifier_key_read",
                f"hub-member:{member.id}",
                after={"key_id": keys[0].key_id},
            )
        return {"key_id": keys[0].key_id, "key": keys[0].text()}

    def suspend(self, member_id: int, reason: str) -> dict[str, Any]:
        """End the member's sharing access until reinstated; it is told why."""
        check_text("reason", reason, max_chars=REASON_CHARS)
        if not reason.strip():
            raise MembershipError("a suspension needs a reason (the member is told it)")
        return self._change(member_id, ("active", "lapsed"), "suspended", reason.strip())

    def reinstate(self, member_id: int) -> dict[str, Any]:
        """Give a suspended or lapsed member its sharing access back."""
        return self._change(member_id, ("suspended", "lapsed"), "active", "")

    def _change(
        self, member_id: int, allowed: tuple[str, ...], state: str, reason: str
    ) -> dict[str, Any]:
        now = self.clock()
        with self.database.transaction() as session:
            member = locked_member(session, member_id)
            if member.state not in allowed:
                raise MembershipConflictError(
                    f"hub member {member_id} is {member.state}: it cannot be made {state}"
                )
            if state == "active":
                overdue = lapse_reason(member, now, self.grace_days)
                if overdue is not None:
                    raise MembershipConflictError(
                        f"hub member {member_id} cannot be reinstated while {overdue}: "
                        "record the payment or the re-attestation first"
                    )
            before = {"state": member.state, "reason": member.state_reason}
            member.state = state
            member.state_reason = f"Suspended by the hub: {reason}" if reason else ""
            notify(
                session,
                member,
                "suspended" if state == "suspended" else "reinstated",
                member.state_reason or "Sharing access is back: the membership is active.",
                now,
            )
            session.flush()
            audit.record(
                session,
                "hub.member.suspend" if state == "suspended" else "hub.member.reinstate",
                f"hub-member:{member_id}",
                before=before,
                after={"state": state, "reason": reason},
            )
            return full_json(session, member, now)
