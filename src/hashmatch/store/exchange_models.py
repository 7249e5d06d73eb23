"""The exchanges' tables: each exchange's configuration, and its fetch state.

An exchange is a named source of hashes bound to one bank (docs/exchanges.md).
Its credentials are never stored: only the name of the environment variable
or the path of the file that holds them.  The fetch state is a row of its
own, written by the fetch that holds the exchange's lease (``leased_by``
until ``leased_until``), page by page, in the same transaction as the page's
content: the checkpoint there is exactly what the bank has.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hashmatch.store.models import Base, Id, utcnow


class Exchange(Base):
    """A configured source, the bank it fills, and how often it is fetched."""

    __tablename__ = "exchanges"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    #: The source type's stable name ("ncmec", "file", ...).
    source_type: Mapped[str] = mapped_column(String(32))
    #: Deleting the bank deletes its exchanges.
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    #: Option name -> value (text), as the source type defines them.
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Where the credentials are: an environment variable's name, or a file's path.
    credentials_env: Mapped[str | None] = mapped_column(String(200))
    credentials_file: Mapped[str | None] = mapped_column(String(1000))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Seconds between scheduled fetches in ``serve``.
    interval_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class ExchangeState(Base):
    """Where an exchange's fetching stands: checkpoint, lease, last run."""

    __tablename__ = "exchange_state"

    exchange_id: Mapped[int] = mapped_column(
        ForeignKey("exchanges.id", ondelete="CASCADE"), primary_key=True
    )
    #: The source's own cursor after the last committed page (None: from the start).
    checkpoint: Mapped[dict[str, Any] | None] = mapped_column()
    #: Who fetches now, and until when the lease holds unless renewed.
    leased_by: Mapped[str | None] = mapped_column(String(200))
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The last run: when it started and ended, whether it reached the source's end.
    run_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    run_finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    succeeded: Mapped[bool | None] = mapped_column(Boolean)
    up_to_date: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Why the last run failed (credentials never in it).
    error: Mapped[str | None] = mapped_column(Text)
    #: The last run's counts: pages, added, updated, removed, unchanged, malformed, ...
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: A few malformed records of the last run, with why.
    malformed_samples: Mapped[list[Any]] = mapped_column(default=list)
    #: Records applied over every run.
    fetched_total: Mapped[int] = mapped_column(BigInteger, default=0)
