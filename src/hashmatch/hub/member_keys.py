"""The Ed25519 public keys a member signs its shared objects with.

    keys = MemberKeys(database)
    added = keys.register("hub-7", public_key_pem)      # {"kid": ..., "public_key": ...}
    keys.revoke("hub-7", added["kid"])

A key is read by ``hub.keys.parse_public_key`` (PEM, base64url or a JWK),
stored in one canonical text form, and named by its thumbprint, the ``kid``
its signatures carry; a kid is registered once across the hub.  Rotation is
add-then-revoke: register the new key, move signing to it, revoke the old
one.  A revoked key stays listed with its revocation time, so receivers can
still tell an object signed before it from one signed after.  Only an active
member registers keys; any member may revoke its own (a leaked key must be
revocable whatever the dues say).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.errors import MembershipConflictError, UnknownMemberKeyError
from hashmatch.hub.keys import key_id, parse_public_key, public_key_text
from hashmatch.hub.member_records import key_json, member_by_key
from hashmatch.hub.members import require_active
from hashmatch.store import Database
from hashmatch.store.hub_models import HubMember, HubMemberKey
from hashmatch.store.models import utcnow

#: Unrevoked keys one member may hold at once (rotation needs two).
MAX_LIVE_KEYS = 10


class MemberKeys:
    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock

    def register(self, key_name: str, text: str) -> dict[str, Any]:
        """Register a public key for the member holding API key ``key_name``."""
        public_key = parse_public_key(text)
        kid = key_id(public_key)
        with self.database.transaction() as session:
            member = self._locked(session, key_name)
            require_active(member)
            taken = session.scalar(select(HubMemberKey).where(HubMemberKey.key_id == kid))
            if taken is not None:
                raise MembershipConflictError(f"key {kid} is registered already")
            live = session.scalar(
                select(func.count())
                .select_from(HubMemberKey)
                .where(HubMemberKey.member_id == member.id, HubMemberKey.revoked_at.is_(None))
            )
            if (live or 0) >= MAX_LIVE_KEYS:
                raise MembershipConflictError(
                    f"a member holds at most {MAX_LIVE_KEYS} unrevoked keys: revoke one first"
                )
            key = HubMemberKey(
                member_id=member.id,
                key_id=kid,
                public_key=public_key_text(public_key),
                created_at=self.clock(),
            )
            session.add(key)
            session.flush()
            audit.record(
                session,
                "hub.key.register",
                f"hub-member:{member.id}",
                after={"kid": kid, "public_key": key.public_key},
            )
            return key_json(key)

    def revoke(self, key_name: str, kid: str) -> dict[str, Any]:
        """Revoke one of the member's keys (revoking it again changes nothing)."""
        with self.database.transaction() as session:
            member = self._locked(session, key_name)
            key = session.scalar(
                select(HubMemberKey).where(
                    HubMemberKey.key_id == kid, HubMemberKey.member_id == member.id
                )
            )
            if key is None:
                raise UnknownMemberKeyError(f"hub member {member.name!r} has no key {kid!r}")
            if key.revoked_at is None:
                key.revoked_at = self.clock()
                session.flush()
                audit.record(
                    session,
                    "hub.key.revoke",
                    f"hub-member:{member.id}",
                    after={"kid": kid, "revoked_at": key_json(key)["revoked_at"]},
                )
            return key_json(key)

    @staticmethod
    def _locked(session: Session, key_name: str) -> HubMember:
        """The member, locked: its key count is checked and changed in one turn."""
        member = member_by_key(session, key_name)
        session.refresh(member, with_for_update=True)
        return member
