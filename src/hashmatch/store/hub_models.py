"""The coalition hub's membership: applications against the published
criteria, each criterion checked by a named admin, members with their dues
and re-attestation, the Ed25519 keys members sign with, and the notices a
member is sent (``hashmatch/hub``; migration 0015)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hashmatch.store.models import Base, Id, utcnow

#: An application's states: ``submitted`` until an admin approves or rejects it.
APPLICATION_STATES = ("submitted", "approved", "rejected")
#: A member's states: ``lapsed`` by the lapse check (dues, re-attestation),
#: ``suspended`` by an admin; either ends sharing access until reinstated.
MEMBER_STATES = ("active", "suspended", "lapsed")


class HubApplication(Base):
    __tablename__ = "hub_applications"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(200))
    website: Mapped[str] = mapped_column(String(500))
    product: Mapped[str] = mapped_column(Text)
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(320))
    #: Criterion key (``hub/criteria.py``) -> the applicant's evidence, text or a link.
    attestations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="submitted")
    #: Why it was rejected, written for the applicant, who sees it.
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    #: SHA-256 of the status token the applicant was given (never the token).
    token_hash: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class HubCriterionCheck(Base):
    """One criterion of an application checked off by a named admin."""

    __tablename__ = "hub_criterion_checks"
    __table_args__ = (
        UniqueConstraint("application_id", "criterion", name="uq_hub_criterion_checks"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        Id, ForeignKey("hub_applications.id", ondelete="CASCADE")
    )
    criterion: Mapped[str] = mapped_column(String(32))
    checked_by: Mapped[str] = mapped_column(String(200))
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")


class HubMember(Base):
    __tablename__ = "hub_members"
    __table_args__ = (Index("ix_hub_members_state", "state"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    application_id: Mapped[int] = mapped_column(Id, ForeignKey("hub_applications.id"), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    website: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16), default="active")
    #: Why the member is not active (shown to the member), or "".
    state_reason: Mapped[str] = mapped_column(Text, default="")
    approved_by: Mapped[str] = mapped_column(String(200))
    approved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: The member's yearly re-attestation of the criteria is due by then.
    reattest_due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: The hub API key (scope ``hub``) made at approval.
    api_key_name: Mapped[str] = mapped_column(String(100), unique=True)
    #: Annual dues, recorded (not processed): invoice, due date, paid or not.
    dues_invoice: Mapped[str | None] = mapped_column(String(100))
    dues_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dues_paid: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Days past ``dues_due`` before access lapses (None: hub_dues_grace_days).
    dues_grace_days: Mapped[int | None] = mapped_column(Integer)


class HubMemberKey(Base):
    """An Ed25519 public key a member signs shared objects with."""

    __tablename__ = "hub_member_keys"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        Id, ForeignKey("hub_members.id", ondelete="CASCADE"), index=True
    )
    key_id: Mapped[str] = mapped_column(String(100), unique=True)
    public_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class HubNotice(Base):
    """Something the hub told a member (a lapse, a suspension), shown by
    ``GET /v1/hub/me``."""

    __tablename__ = "hub_notices"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        Id, ForeignKey("hub_members.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
