"""The hub's TAXII 2.1 collections, who may read and write each, the signed
STIX objects members posted into them, and the status of each post
(``hashmatch/hub/``; migration 0017).

``date_added`` is the hub's clock in microseconds since the epoch, strictly
increasing per collection: a writer takes it from its collection's
``last_added`` with the collection row locked until it commits, so rows
become visible in ``date_added`` order and an ``added_after`` reader never
skips a row that commits late.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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

#: What a collection carries: hash indicators, or Lantern-style signals.
COLLECTION_KINDS = ("hashes", "signals")
#: How a collection takes email addresses and usernames: as sent, or keyed hashes only.
IDENTIFIER_MODES = ("raw", "keyed")
#: The STIX object types a collection stores.
OBJECT_TYPES = ("identity", "indicator", "opinion", "sighting")
Micros = BigInteger().with_variant(Integer, "sqlite")


class HubCollection(Base):
    __tablename__ = "hub_collections"

    #: A UUID, as TAXII collection ids are.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    title: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16))
    identifiers: Mapped[str] = mapped_column(String(8), default="raw")
    #: The last date_added handed out here (microseconds): the per-collection clock.
    last_added: Mapped[int] = mapped_column(Micros, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HubCollectionGrant(Base):
    """A member's read and write access to one collection."""

    __tablename__ = "hub_collection_grants"
    __table_args__ = (
        UniqueConstraint("collection_id", "member_id", name="uq_hub_collection_grants"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    collection_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("hub_collections.id", ondelete="CASCADE")
    )
    member_id: Mapped[int] = mapped_column(
        Id, ForeignKey("hub_members.id", ondelete="CASCADE"), index=True
    )
    can_read: Mapped[bool] = mapped_column(Boolean, default=False)
    can_write: Mapped[bool] = mapped_column(Boolean, default=False)


class HubObject(Base):
    """One version of a STIX object, stored as the member sent it (signature included)."""

    __tablename__ = "hub_objects"
    __table_args__ = (
        UniqueConstraint("collection_id", "stix_id", "modified_us", name="uq_hub_objects_version"),
        UniqueConstraint("collection_id", "date_added", name="uq_hub_objects_added"),
        Index("ix_hub_objects_stix_id", "collection_id", "stix_id"),
        Index("ix_hub_objects_refers_to", "refers_to"),
        Index("ix_hub_objects_publisher", "publisher_id", "type"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    collection_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("hub_collections.id", ondelete="CASCADE")
    )
    stix_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(32))
    #: The version: the object's ``modified``, as written and in microseconds.
    modified: Mapped[str] = mapped_column(String(40))
    modified_us: Mapped[int] = mapped_column(Micros)
    date_added: Mapped[int] = mapped_column(Micros)
    publisher_id: Mapped[int] = mapped_column(Id, ForeignKey("hub_members.id"))
    object: Mapped[dict[str, Any]] = mapped_column(JSON)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The version with the latest ``modified`` of its object in this collection.
    is_latest: Mapped[bool] = mapped_column(Boolean, default=True)
    #: An opinion's or a sighting's indicator, and its verdict: confirmed,
    #: false_positive, disputed, or ``reported`` (a sighting of reported matches).
    refers_to: Mapped[str | None] = mapped_column(String(100))
    verdict: Mapped[str | None] = mapped_column(String(16))
    #: A sighting's count (migration 0020); None for other objects.
    sighting_count: Mapped[int | None] = mapped_column(Integer)


class HubObjectStatus(Base):
    """A TAXII status resource: what became of one posted envelope."""

    __tablename__ = "hub_object_status"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    collection_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("hub_collections.id", ondelete="CASCADE")
    )
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("hub_members.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    request_timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    total_count: Mapped[int] = mapped_column(Integer)
    success_count: Mapped[int] = mapped_column(Integer)
    failure_count: Mapped[int] = mapped_column(Integer)
    pending_count: Mapped[int] = mapped_column(Integer)
    #: [{"id", "version"}], and [{"id", "version", "message"}] for failures.
    successes: Mapped[list[Any]] = mapped_column(JSON)
    failures: Mapped[list[Any]] = mapped_column(JSON)
