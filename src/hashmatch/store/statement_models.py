"""Statements of reasons for the DSA Transparency Database: one row per
decision that restricted content, written in that decision's transaction
and sent by the statement sender's leases (``statements/sender.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hashmatch.store.models import Base, Id, utcnow

#: What a statement can be: ``pending`` until the sender settles it as
#: ``sent`` or ``failed``; ``not_sent`` when an admin chose not to send it.
STATEMENT_STATUSES = ("pending", "sent", "failed", "not_sent")
#: The decisions a statement explains.
DECISION_KINDS = ("verdict", "review", "appeal")


class Statement(Base):
    __tablename__ = "statements"
    __table_args__ = (
        UniqueConstraint("decision_kind", "decision_id", name="uq_statements_decision"),
        Index("ix_statements_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    #: ``verdict`` (a submission's id), ``review`` (a review item's), ``appeal`` (an appeal's).
    decision_kind: Mapped[str] = mapped_column(String(16))
    decision_id: Mapped[int] = mapped_column(Id)
    submission_id: Mapped[int | None] = mapped_column(Id, index=True)
    puid: Mapped[str] = mapped_column(String(500), unique=True)
    #: The statement as the API takes it.
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: What the API answered: its uuid and id, or the field errors it gave.
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(Text)
    leased_by: Mapped[str | None] = mapped_column(String(200))
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
