"""The workflow's tables: submissions, the rules that decide their verdicts,
and what the verdicts set going (review items, report requests, webhook
events and their deliveries), plus media kept for review and reporting.

One chain of records (docs/design.md, "The workflow"): a submission holds its
hashes, matches, verdict and the actions taken; a review item, a report
request and a webhook event each point at the submission they came from.
Everything a submission sets going is written in the submission's own
transaction: an event is never lost between the verdict and its delivery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hashmatch.store.models import Base, Id, utcnow


class Rule(Base):
    """What to do with a submission's matches: a condition (``when``) and
    actions (``then``), in the JSON shape of docs/actions.md."""

    __tablename__ = "rules"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Lower runs first (ties by name); the verdict does not depend on order.
    priority: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str] = mapped_column(Text, default="")
    when: Mapped[dict[str, Any]] = mapped_column(default=dict)
    then: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class Webhook(Base):
    """A receiver of events.  The signing secret is kept as it is (the server
    must sign with it); after a rotation the previous one stays valid until
    ``previous_secret_until``."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class Submission(Base):
    """An upload the platform told us about, and what we answered."""

    __tablename__ = "submissions"
    __table_args__ = (
        # One live submission per idempotency key: a retry within the window
        # finds the first one's answer.  Cleared when the window has passed.
        Index(
            "uq_submissions_dedupe_key",
            "dedupe_key",
            unique=True,
            sqlite_where=text("dedupe_key IS NOT NULL"),
            postgresql_where=text("dedupe_key IS NOT NULL"),
        ),
        # A platform user's history, newest first (platform_users/history.py).
        Index("ix_submissions_user_history", "user_ref", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    #: The platform's id for the upload.
    content_ref: Mapped[str] = mapped_column(String(200), index=True)
    #: "ref:<content_ref>" or "key:<Idempotency-Key>"; NULL once the window passed.
    dedupe_key: Mapped[str | None] = mapped_column(String(300))
    user_ref: Mapped[str | None] = mapped_column(String(200))
    uploaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    content_url: Mapped[str | None] = mapped_column(Text)
    #: The platform's own metadata (a JSON object, capped in size).
    extra: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    #: "photo", "video" or "file": the upload's kind, or for hashes the kind
    #: their signal types hash (pdq: photo, vpdq: video, others: file).
    content_type: Mapped[str] = mapped_column(String(16))
    #: Signal type -> the values submitted or computed.
    signals: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The matches, as /v1/match gives them.
    matches: Mapped[list[Any]] = mapped_column(default=list)
    #: "allow", "review" or "block".
    verdict: Mapped[str] = mapped_column(String(8))
    #: [{"rule", "action", "status", ...}], as answered.
    actions: Mapped[list[Any]] = mapped_column(default=list)
    #: Who submitted it ("key:<name>", "cli:<user>").
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )


class KeptMedia(Base):
    """A submission's bytes, kept for review and reporting: AES-256-GCM with
    the media key (``key_id`` names which), decrypted only in memory."""

    __tablename__ = "kept_media"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), unique=True
    )
    key_id: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReviewItem(Base):
    """A person asked to look at a submission: queued by a rule's ``review``
    action or by the platform, claimed by one reviewer at a time, decided
    once (docs/review.md)."""

    __tablename__ = "review_items"
    __table_args__ = (
        Index("ix_review_items_open", "status", "queue", "priority"),
        # The claim's order: priority, then age, among a queue's open items.
        Index("ix_review_items_next", "queue", "status", "priority", "created_at", "id"),
        # The item a reviewer holds already: found without reading the queue.
        Index("ix_review_items_claimed", "claimed_by", "queue", "status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    queue: Mapped[str] = mapped_column(String(100))
    #: Lower is looked at first.
    priority: Mapped[int] = mapped_column(Integer, default=0)
    #: "open" or "closed".
    status: Mapped[str] = mapped_column(String(16), default="open")
    #: The rule that queued it; for the platform's own escalations, "api:<key>".
    rule: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: When it should be decided by (the queue's SLA from ``created_at``).
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Why the platform escalated it (items it queued itself).
    reason: Mapped[str] = mapped_column(Text, default="")
    #: What happens after each decision: {"confirm": [action, ...], ...}.
    follow_ups: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Who holds it ("user:<name>", "key:<name>") and until when, unless renewed.
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: "confirm", "false_positive" or "escalate" once closed.
    decision: Mapped[str | None] = mapped_column(String(16))
    #: confirm: A1, A2, B1 or B2.
    classification: Mapped[str | None] = mapped_column(String(2))
    annotations: Mapped[list[Any]] = mapped_column(default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str | None] = mapped_column(String(200))
    #: escalate: the item it became in the other queue; that item's origin.
    escalated_to: Mapped[int | None] = mapped_column(Id)
    escalated_from: Mapped[int | None] = mapped_column(Id)


class ReportRequest(Base):
    """A rule asked for a report; reporting (CyberTipline) takes it from here."""

    __tablename__ = "report_requests"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    rule: Mapped[str] = mapped_column(String(100))
    #: The review item whose confirmation asked for it (None: a rule's report action).
    review_item_id: Mapped[int | None] = mapped_column(Id)
    #: "pending" until reporting takes it into a report ("taken"); "withdrawn":
    #: its review was reopened.
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    #: The CyberTipline report it went into.
    report_id: Mapped[int | None] = mapped_column(Id, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Event(Base):
    """Something webhooks are told about: the outbox.  ``body`` is the JSON
    document delivered, exactly (``event_id``, ``type``, ``created_at``, ``data``)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Delivery(Base):
    """One event to one webhook: a job that is pending, leased by a
    deliverer, delivered, or dead (out of attempts)."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    #: "pending", "delivered" or "dead".
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: A deliverer holds the job until then (SQLite's lease; also kept on PostgreSQL).
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    leased_by: Mapped[str | None] = mapped_column(String(100))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DeliveryAttempt(Base):
    """The delivery log: one row per try, kept for ``delivery_log_days``."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
