"""A hub member's rows as the API, the CLI and the pages show them, and the
small steps every change to a member shares: find it (locked), tell it.

    member = locked_member(session, 3)
    notify(session, member, "suspended", "Suspended by the hub: ...", now)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashmatch.errors import UnknownMemberError
from hashmatch.store.hub_models import HubMember, HubMemberKey, HubNotice
from hashmatch.store.models import as_utc, iso_utc

#: How long an attestation of the criteria holds: it is renewed yearly.
ATTESTATION_PERIOD = timedelta(days=365)
#: Notices shown with a member, newest first, at most.
NOTICES_SHOWN = 50


def key_json(key: HubMemberKey) -> dict[str, Any]:
    return {
        "kid": key.key_id,
        "public_key": key.public_key,
        "created_at": iso_utc(key.created_at),
        "revoked_at": iso_utc(key.revoked_at),
    }


def notice_json(notice: HubNotice) -> dict[str, Any]:
    return {"at": iso_utc(notice.at), "kind": notice.kind, "message": notice.message}


def member_json(
    member: HubMember, keys: Iterable[HubMemberKey], notices: Iterable[HubNotice], now: datetime
) -> dict[str, Any]:
    """A member as hub admins and the member itself see it."""
    return {
        "id": member.id,
        "application_id": member.application_id,
        "name": member.name,
        "website": member.website,
        "state": member.state,
        "state_reason": member.state_reason,
        "approved_by": member.approved_by,
        "approved_at": iso_utc(member.approved_at),
        "reattest_due": iso_utc(member.reattest_due),
        "reattest_overdue": as_utc(member.reattest_due) < now,
        "api_key_name": member.api_key_name,
        "dues": {
            "invoice": member.dues_invoice,
            "due": iso_utc(member.dues_due),
            "paid": member.dues_paid,
            "grace_days": member.dues_grace_days,
        },
        "keys": [key_json(key) for key in keys],
        "notices": [notice_json(notice) for notice in notices],
    }


def directory_entry(member: HubMember, keys: Iterable[HubMemberKey]) -> dict[str, Any]:
    """A member as other members see it: enough to verify its signatures."""
    return {
        "id": member.id,
        "name": member.name,
        "website": member.website,
        "state": member.state,
        "joined": iso_utc(member.approved_at),
        "keys": [key_json(key) for key in keys],
    }


def locked_member(session: Session, member_id: int) -> HubMember:
    """The member, its row locked until the transaction ends."""
    member = session.scalar(select(HubMember).where(HubMember.id == member_id).with_for_update())
    if member is None:
        raise UnknownMemberError(f"no hub member {member_id}")
    return member


def member_by_key(session: Session, key_name: str) -> HubMember:
    """The member whose hub API key this is."""
    member = session.scalar(select(HubMember).where(HubMember.api_key_name == key_name))
    if member is None:
        raise UnknownMemberError(f"API key {key_name!r} belongs to no hub member")
    return member


def keys_of(session: Session, member_ids: Iterable[int]) -> dict[int, list[HubMemberKey]]:
    """Each member's signing keys, oldest first."""
    found: dict[int, list[HubMemberKey]] = {member_id: [] for member_id in member_ids}
    query = select(HubMemberKey).where(HubMemberKey.member_id.in_(found)).order_by(HubMemberKey.id)
    for key in session.scalars(query):
        found[key.member_id].append(key)
    return found


def notices_of(session: Session, member_id: int) -> list[HubNotice]:
    return list(
        session.scalars(
            select(HubNotice)
            .where(HubNotice.member_id == member_id)
            .order_by(HubNotice.id.desc())
            .limit(NOTICES_SHOWN)
        )
    )


def full_json(session: Session, member: HubMember, now: datetime) -> dict[str, Any]:
    """:func:`member_json` with the member's keys and notices read."""
    keys = keys_of(session, [member.id])[member.id]
    return member_json(member, keys, notices_of(session, member.id), now)


def notify(session: Session, member: HubMember, kind: str, message: str, now: datetime) -> None:
    """Tell the member (``GET /v1/hub/me`` shows it), in the caller's transaction."""
    session.add(HubNotice(member_id=member.id, at=now, kind=kind, message=message))
