"""Reporting's tables: CyberTipline reports and their files and calls, the
evidence preserved when a report is finished (objects, holds), and daily
counts of what leaves no row of its own (lookups) for transparency reports.

A report moves draft → submitted → files_uploaded → finished (or retracted,
or failed); every call to NCMEC is a row, so a report's timeline is its calls.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hashmatch.store.models import Base, Id, utcnow


class CybertipReport(Base):
    """One CyberTipline report: one platform user's confirmed items."""

    __tablename__ = "cybertip_reports"
    __table_args__ = (
        Index("ix_cybertip_reports_due", "status", "next_attempt_at"),
        # A platform user's reports, newest first (platform_users/history.py).
        Index("ix_cybertip_reports_user_history", "user_ref", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    #: "draft", "submitted", "files_uploaded", "finished", "retracted" or "failed".
    status: Mapped[str] = mapped_column(String(16), default="draft")
    #: "test" or "production": which of NCMEC's environments it went to.
    environment: Mapped[str] = mapped_column(String(16))
    #: NCMEC's id for it, once submitted (a refiled report gets a new one).
    ncmec_report_id: Mapped[str | None] = mapped_column(String(64), index=True)
    user_ref: Mapped[str | None] = mapped_column(String(200))
    #: What the person filing it set on the form (urls, annotations, user details).
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The report XML as last submitted.
    xml: Mapped[str | None] = mapped_column(Text)
    #: A call that was sent and whose answer is not stored yet ("submit",
    #: "upload:<file row id>", "finish", "retract"): after a crash, what may have happened.
    call_in_flight: Mapped[str | None] = mapped_column(String(64))
    #: Who asked for it ("rule:<name>", "user:<name>", "key:<name>", "cli:<user>").
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    #: When NCMEC opened it and when it last changed there (its expiry clock).
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    retracted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: When the filer should next work on it (None: nothing to do by itself).
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: A filer holds it until then (one filer per report across processes).
    leased_by: Mapped[str | None] = mapped_column(String(100))
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The last error, and its kind (CybertipError.kind).
    last_error: Mapped[str | None] = mapped_column(Text)
    error_kind: Mapped[str | None] = mapped_column(String(16))


class CybertipFile(Base):
    """One reported file: a confirmed review item's upload (or, for a rule's
    own report action, a submission's).  ``item_key`` ("review:<id>" or
    "submission:<id>") is unique: an item is never reported twice."""

    __tablename__ = "cybertip_files"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("cybertip_reports.id", ondelete="CASCADE"), index=True
    )
    item_key: Mapped[str] = mapped_column(String(40), unique=True)
    review_item_id: Mapped[int | None] = mapped_column(Id, index=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="RESTRICT"), index=True
    )
    filename: Mapped[str] = mapped_column(String(300))
    size: Mapped[int] = mapped_column(BigInteger)
    md5: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    classification: Mapped[str | None] = mapped_column(String(2))
    annotations: Mapped[list[Any]] = mapped_column(default=list)
    viewed_by_esp: Mapped[bool] = mapped_column(Boolean, default=False)
    publicly_available: Mapped[bool | None] = mapped_column(Boolean)
    #: "pending", "uploaded" (NCMEC gave a file id) or "described" (fileinfo accepted).
    status: Mapped[str] = mapped_column(String(16), default="pending")
    ncmec_file_id: Mapped[str | None] = mapped_column(String(64))


class CybertipCall(Base):
    """One call to the Reporting API and its answer: the report's timeline."""

    __tablename__ = "cybertip_calls"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("cybertip_reports.id", ondelete="CASCADE"), index=True
    )
    #: "submit", "upload", "fileinfo", "finish", "retract" (or "status").
    endpoint: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    elapsed_ms: Mapped[float] = mapped_column(Float, default=0.0)
    http_status: Mapped[int | None] = mapped_column(Integer)
    #: NCMEC's ``Request-ID`` header: what their support asks for.
    request_id: Mapped[str | None] = mapped_column(String(100))
    response_code: Mapped[int | None] = mapped_column(Integer)
    response_description: Mapped[str | None] = mapped_column(Text)
    #: The XML sent (uploads: the file's name, size and MD5, never its bytes).
    request: Mapped[str] = mapped_column(Text, default="")
    response: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)


class EvidencePackage(Base):
    """What a finished report preserved: its objects, until ``retain_until``
    (later while a hold is on)."""

    __tablename__ = "evidence_packages"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("cybertip_reports.id", ondelete="RESTRICT"), unique=True
    )
    #: Where the objects are (a folder or an fsspec URL), as configured then.
    store: Mapped[str] = mapped_column(Text)
    #: "kept" or "purged".
    status: Mapped[str] = mapped_column(String(16), default="kept", index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retain_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: [{"name", "sha256", "size"}]: the manifest, also stored as an object.
    manifest: Mapped[list[Any]] = mapped_column(default=list)


class EvidenceObject(Base):
    """One encrypted object: its own data key, wrapped by the master key."""

    __tablename__ = "evidence_objects"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    package_id: Mapped[int] = mapped_column(
        ForeignKey("evidence_packages.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(300))
    #: Where in the store (relative to ``EvidencePackage.store``).
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    #: SHA-256 of the plaintext.
    sha256: Mapped[str] = mapped_column(String(64))
    master_key_id: Mapped[str] = mapped_column(String(32))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EvidenceHold(Base):
    """A legal hold: the package is kept past its retention while it is on."""

    __tablename__ = "evidence_holds"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    package_id: Mapped[int] = mapped_column(
        ForeignKey("evidence_packages.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(Text)
    #: None: until released.
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    released_by: Mapped[str | None] = mapped_column(String(200))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DailyCount(Base):
    """How many of something happened on a day (UTC) that leaves no row of
    its own: lookups, chiefly.  Added to in batches, never per request."""

    __tablename__ = "daily_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
