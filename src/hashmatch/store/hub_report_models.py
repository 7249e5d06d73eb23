"""The coalition's annual report and knowledge sharing on the hub: members'
signed period transparency records, national totals and forums admins
enter, and the rule templates and playbooks members publish
(``hashmatch/hub/``; migration 0018)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hashmatch.store.models import Base, Id, utcnow

#: What a member publishes to share: a rule's JSON, or a Markdown playbook.
TEMPLATE_KINDS = ("rule", "playbook")


class HubPeriodReport(Base):
    """One member's transparency record for one period, as it was signed and
    sent; a resend replaces it."""

    __tablename__ = "hub_period_reports"
    __table_args__ = (UniqueConstraint("member_id", "period", name="uq_hub_period_reports"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        Id, ForeignKey("hub_members.id", ondelete="CASCADE"), index=True
    )
    #: The period's name: 2026, 2026-Q3 or 2026-07.
    period: Mapped[str] = mapped_column(String(16), index=True)
    #: The transparency record exactly as received (schema.json's shape).
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: The detached JWS over the signed envelope's canonical JSON.
    signature: Mapped[str] = mapped_column(Text)
    kid: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: The member lets everyone see its own figures in the published report.
    publish: Mapped[bool] = mapped_column(Boolean, default=False)


class HubNationalTotal(Base):
    """A national figure an admin enters (NCMEC's yearly CyberTipline total)."""

    __tablename__ = "hub_national_totals"
    __table_args__ = (UniqueConstraint("period", "source", name="uq_hub_national_totals"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    period: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(200))
    total: Mapped[int] = mapped_column(Integer)
    entered_by: Mapped[str] = mapped_column(String(200))
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HubForum(Base):
    """A forum the coalition held: who came, from which countries (ISO 3166 codes)."""

    __tablename__ = "hub_forums"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    held_on: Mapped[date] = mapped_column(Date, index=True)
    title: Mapped[str] = mapped_column(String(200))
    participants: Mapped[int] = mapped_column(Integer)
    countries: Mapped[list[str]] = mapped_column(JSON)
    entered_by: Mapped[str] = mapped_column(String(200))


class HubTemplate(Base):
    """A rule template (the rule's JSON) or a playbook (Markdown) a member published."""

    __tablename__ = "hub_templates"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        Id, ForeignKey("hub_members.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: A rule's JSON object, or {"markdown": "..."} for a playbook.
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
