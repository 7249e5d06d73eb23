"""The database schema: banks, their content, content signals, and the change log.

One schema for SQLite and PostgreSQL; Alembic migrations under
``hashmatch/store/migrations`` create and evolve it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
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
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
Id = BigInteger().with_variant(Integer, "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for the UTC values it stores."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def iso_utc(moment: datetime | None) -> str | None:
    """A stored time as RFC 3339 in UTC (what JSON answers carry), or None."""
    return as_utc(moment).isoformat() if moment is not None else None


class Base(DeclarativeBase):
    type_annotation_map: ClassVar = {dict[str, Any]: JSON, list[str]: JSON, list[Any]: JSON}


class Bank(Base):
    """A named list of known content, matched against (or, for allowlists, suppressing)."""

    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: "match" or "allowlist".
    kind: Mapped[str] = mapped_column(String(16), default="match")
    labels: Mapped[list[str]] = mapped_column(default=list)
    #: Signal type name -> largest matching distance, overriding the type's default.
    thresholds: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Whether images added by hashing also store their crops and small
    #: rotations as variant signals (``media/variants.py``).
    image_variants: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Whether images added by hashing also store their local features
    #: (``content_features``) and queries run the second stage here.
    local_features: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    #: Verified inliers a local-features match needs; None: the library default.
    min_inliers: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    contents: Mapped[list[Content]] = relationship(
        back_populates="bank", cascade="all, delete-orphan", passive_deletes=True
    )


class Content(Base):
    """One known item in a bank: one or more signals and where it came from."""

    __tablename__ = "contents"
    # Partial: content without an external id (most of a big hash list) costs
    # no index entry.
    __table_args__ = (
        Index(
            "uq_contents_bank_external_id",
            "bank_id",
            "external_id",
            unique=True,
            sqlite_where=text("external_id IS NOT NULL"),
            postgresql_where=text("external_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(200))
    #: The list or exchange it came from, and that source's own metadata.
    source: Mapped[str | None] = mapped_column(String(200))
    source_metadata: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'")
    )
    labels: Mapped[list[str]] = mapped_column(default=list, server_default=text("'[]'"))
    note: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: While in the future, the content does not match.
    disabled_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    bank: Mapped[Bank] = relationship(back_populates="contents")
    signals: Mapped[list[ContentSignal]] = relationship(
        back_populates="content", cascade="all, delete-orphan", passive_deletes=True
    )


#: The signals a bank holds once each (all but video frames).  A query that
#: should use the unique index repeats this condition: neither SQLite nor a
#: generic PostgreSQL plan can tell that ``signal_type = :kind`` implies it.
UNIQUE_SIGNALS = "signal_type != 'vpdq'"


class ContentSignal(Base):
    """One hash of one bank content.  A bank holds each (type, value) once,
    except video frames (``vpdq``): a video repeats frames, and two videos may
    share one.  A frame also has its number and timestamp."""

    __tablename__ = "content_signals"
    __table_args__ = (
        Index(
            "uq_content_signals_bank_type_value",
            "bank_id",
            "signal_type",
            "value",
            unique=True,
            sqlite_where=text(UNIQUE_SIGNALS),
            postgresql_where=text(UNIQUE_SIGNALS),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    content_id: Mapped[int] = mapped_column(
        ForeignKey("contents.id", ondelete="CASCADE"), index=True
    )
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    signal_type: Mapped[str] = mapped_column(String(32))
    #: 2048 characters (migration 0019): a long URL fits.
    value: Mapped[str] = mapped_column(String(2048))
    quality: Mapped[int | None] = mapped_column(Integer)
    frame: Mapped[int | None] = mapped_column(Integer)
    timestamp: Mapped[float | None] = mapped_column(Float)
    #: A hash of a cropped or rotated copy, so such copies match: a video
    #: frame's ("crop5", with its frame number) or an image's ("crop90",
    #: "rot-2"; no frame), which matches as its content.
    variant: Mapped[str | None] = mapped_column(String(16))

    content: Mapped[Content] = relationship(back_populates="signals")


class ContentFeatures(Base):
    """One bank image's local features (``hashmatch.features``), at most 8 KB.

    Stored in the transaction that adds the image's signals, so a process that
    learns of the signals from the change log finds the features too.
    """

    __tablename__ = "content_features"

    content_id: Mapped[int] = mapped_column(
        ForeignKey("contents.id", ondelete="CASCADE"), primary_key=True
    )
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    features: Mapped[bytes] = mapped_column(LargeBinary)
    keypoints: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Change(Base):
    """The change log: signals added to or removed from any bank, in order.

    In-memory indexes follow it (``seq`` only grows, and entries become
    visible in ``seq`` order: see ``store/changelog.py``) instead of rebuilding.
    One row covers the signal ids ``signal_id`` to ``last_signal_id``
    (inclusive): an import adds a million signals in one row.  Values are
    read from ``content_signals``; a removed signal's row is gone, and its id
    is all an index needs.
    """

    __tablename__ = "changes"

    seq: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    #: "add" or "remove".
    op: Mapped[str] = mapped_column(String(8))
    signal_id: Mapped[int] = mapped_column(Id)
    last_signal_id: Mapped[int] = mapped_column(Id)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IdCounter(Base):
    """The last id handed out for a table, on SQLite (see ``store/ids.py``):
    SQLite would otherwise hand out a deleted row's id again."""

    __tablename__ = "id_counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_id: Mapped[int] = mapped_column(Id)


class Instance(Base):
    """One row: a random id made when the schema was created.

    Index snapshots record it, so a snapshot of another database, or of this
    one before it was wiped, is never taken for current.
    """

    __tablename__ = "instance"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)


class ApiKey(Base):
    """A key for the HTTP API.  Only a hash of the secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    #: The key's public first part, to find its row without scanning.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    #: SHA-256 of the whole key (keys are random, so a fast hash is enough).
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """One change by a person or a key, append-only and hash-chained: ``hash``
    is the SHA-256 of this row's fields and the previous row's ``hash``, and
    ``seq`` counts from 1 without gaps, so an edited or deleted row shows
    (``hashmatch audit verify``; see hashmatch/audit.py)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    #: "key:<name>", "user:<name>", "cli:<os user>" or "system".
    actor: Mapped[str] = mapped_column(String(200), index=True)
    #: What was done, "<thing>.<verb>": "bank.create", "rule.update", ...
    action: Mapped[str] = mapped_column(String(64))
    #: What it was done to: "bank:known", "rule:block-known", ...
    target: Mapped[str] = mapped_column(String(300), index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(100))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
