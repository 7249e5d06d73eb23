"""The review queue's tables besides the items (``workflow.ReviewItem``):
named queues, every decision made, every reveal, each reviewer's day of
reveals and their wellness preferences, and the opinions a decision records
about bank content for exchanges to send back.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hashmatch.store.models import Base, Id, utcnow


class ReviewQueue(Base):
    """A queue's own settings; a queue without a row has the defaults
    (anyone with the review permission, the ``review_sla_minutes`` SLA)."""

    __tablename__ = "review_queues"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    #: Minutes from queueing to the item's due time (None: the setting).
    sla_minutes: Mapped[int | None] = mapped_column(Integer)
    #: Who may work it: "role:<role>", "user:<name>", "key:<name>"; empty: anyone
    #: whose role or key may review.
    access: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class ReviewDecision(Base):
    """One decision on an item, skips and reopenings included: the item's history."""

    __tablename__ = "review_decisions"
    __table_args__ = (
        # A reviewer's recent skips, read at every claim: without it the pick
        # read the whole history (14 ms at 60k decisions, growing with it).
        Index("ix_review_decisions_actor", "actor", "decision", "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("review_items.id", ondelete="CASCADE"), index=True
    )
    #: "confirm", "false_positive", "escalate", "skip" or "reopen".
    decision: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    classification: Mapped[str | None] = mapped_column(String(2))
    annotations: Mapped[list[Any]] = mapped_column(default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    #: Decision details: the queue escalated to, the allowlist bank, ...
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReviewReveal(Base):
    """A reviewer looked at an item's media clearly: who, which, when, how long."""

    __tablename__ = "review_reveals"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("review_items.id", ondelete="CASCADE"), index=True
    )
    reviewer: Mapped[str] = mapped_column(String(200))
    #: "preview" (the downscaled picture or frame strip) or "original".
    kind: Mapped[str] = mapped_column(String(16))
    revealed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: How long it stays clear before it is blurred again.
    seconds: Mapped[float] = mapped_column(Float)


class RevealDay(Base):
    """How many reveals a reviewer had on one day (UTC): the cap's counter,
    raised with one conditional update so two reveals never both take the last."""

    __tablename__ = "review_reveal_days"

    reviewer: Mapped[str] = mapped_column(String(200), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    reveals: Mapped[int] = mapped_column(Integer, default=0)


class ReviewerPreference(Base):
    """A reviewer's own wellness settings (within the admin's bounds), and
    their current stretch in the queue (for the break reminder)."""

    __tablename__ = "reviewer_preferences"

    reviewer: Mapped[str] = mapped_column(String(200), primary_key=True)
    blur_px: Mapped[int | None] = mapped_column(Integer)
    grayscale: Mapped[bool | None] = mapped_column(Boolean)
    reveal_seconds: Mapped[int | None] = mapped_column(Integer)
    stretch_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_active_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Opinion(Base):
    """What a review decision says about one matched bank content: ``positive``
    (confirmed) or ``negative`` (a false positive), for the exchange the
    content came from (``source`` ``exchange:<name>``) to be told, through
    the opinion sender's leases (``exchange/opinions.py``).  A filed
    CyberTipline report writes ``reported`` ones (``exchange/reported.py``):
    they belong to the report (``report_id``), not to a review decision."""

    __tablename__ = "opinions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    #: The review item decided (None for a ``reported`` opinion).
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("review_items.id", ondelete="CASCADE"), index=True
    )
    #: The CyberTipline report that reported the match (``reported`` only; migration 0020).
    report_id: Mapped[int | None] = mapped_column(Id, index=True)
    bank: Mapped[str] = mapped_column(String(100))
    content_id: Mapped[int] = mapped_column(Id, index=True)
    external_id: Mapped[str | None] = mapped_column(String(300))
    source: Mapped[str | None] = mapped_column(String(200), index=True)
    opinion: Mapped[str] = mapped_column(String(16))
    #: Which of the content's hashes the query matched ("pdq", "md5").
    signal_types: Mapped[list[Any]] = mapped_column(default=list)
    #: "pending" until the sender settles it: "sent", "failed" (the exchange
    #: refused it, or every try failed), "not_sent" (the content came from no
    #: exchange, or one that takes no opinions or has sending off), or
    #: "withdrawn" (the decision was reopened first).
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Tries so far, when the next may start, and why the last one failed.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    #: The sender holding it now, until when (a dead sender's lease lapses).
    leased_by: Mapped[str | None] = mapped_column(String(200))
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Appeal(Base):
    """A user's appeal, forwarded by the platform, against a submission's
    verdict or a review decision (``review/appeals.py``): worked in its own
    queue with the review queue's claims, decided ``uphold`` or ``overturn``
    by someone other than the reviewer who decided."""

    __tablename__ = "appeals"
    __table_args__ = (Index("ix_appeals_open", "status", "due_at", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    #: The review decision appealed (None: the submission's verdict).
    review_item_id: Mapped[int | None] = mapped_column(Id, index=True)
    content_ref: Mapped[str] = mapped_column(String(200))
    #: What the user wrote, as the platform sent it.
    text: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: Who made the decision under appeal: never handed the appeal while
    #: anyone else can take it.
    original_decider: Mapped[str | None] = mapped_column(String(200))
    #: "open" or "decided"; "open" appeals of one decision are one at a time.
    status: Mapped[str] = mapped_column(String(16), default="open")
    #: "uphold" or "overturn", once decided.
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(Text, default="")
    #: What an overturn changed: the verdict before, opinions, the allowlist, a report.
    outcome: Mapped[dict[str, Any]] = mapped_column(default=dict)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
