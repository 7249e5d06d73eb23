"""Putting a page of records into a bank, inside the page's transaction.

    result = apply_records(session, bank_id, "exchange:ncmec", records)
    ...                                      # checkpoint, audit
    log_removed(session, result.removed_signals); log_added(session, result.added_signals)

A record is known by its external id (the source's id; the bank's index
``uq_contents_bank_external_id`` holds each once), so applying a record
twice changes nothing: a new one is added (``banks.writes``), one whose
labels or source metadata changed is updated in place, one whose hashes
changed is replaced, and a deleted one is removed.  A record whose hashes
another content of the bank already has is a duplicate, and skipped, as an
import skips it.  Change-log entries are left to the caller, to be written
last in the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from hashmatch.banks.writes import (
    CONTENTS,
    LOOKUP_BATCH,
    delete_signals,
    insert_entries,
    new_entries,
)
from hashmatch.exchange.base import Record
from hashmatch.hashlists import FRAMES, Entry
from hashmatch.store import Content, ContentSignal


@dataclass
class Applied:
    """What a page did to the bank, and the signals to log."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    duplicate: int = 0
    added_signals: list[int] = field(default_factory=list)
    removed_signals: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "duplicate": self.duplicate,
        }


@dataclass
class _Stored:
    content_id: int
    labels: list[str]
    source_metadata: dict[str, Any]
    signals: dict[str, str] = field(default_factory=dict)
    frames: list[tuple[int, str]] = field(default_factory=list)


def apply_records(
    session: Session, bank_id: int, source: str, records: Iterable[Record]
) -> Applied:
    """Apply records (the last of each external id wins) to the bank."""
    latest = {record.external_id: record for record in records}
    stored = _stored(session, bank_id, list(latest))
    applied = Applied()
    replaced: list[int] = []
    metadata_updates: list[dict[str, Any]] = []
    fresh: list[Record] = []
    for external_id, record in latest.items():
        current = stored.get(external_id)
        if record.deleted:
            if current is None:
                applied.unchanged += 1
            else:
                replaced.append(current.content_id)
                applied.removed += 1
        elif current is None:
            fresh.append(record)
        elif current.signals != record.signals or current.frames != _frames(record):
            replaced.append(current.content_id)
            fresh.append(record)
        elif current.labels != record.labels or current.source_metadata != record.source_metadata:
            metadata_updates.append(
                {
                    "content": current.content_id,
                    "new_labels": record.labels,
                    "new_metadata": record.source_metadata,
                }
            )
            applied.updated += 1
        else:
            applied.unchanged += 1
    if metadata_updates:
        session.connection().execute(_UPDATE_DESCRIPTION, metadata_updates)
    for start in range(0, len(replaced), LOOKUP_BATCH):
        chunk = replaced[start : start + LOOKUP_BATCH]
        applied.removed_signals += delete_signals(
            session, ContentSignal.content_id.in_(chunk), [Content.id.in_(chunk)]
        )
    entries = [
        Entry(r.signals, r.external_id, r.labels, "", r.source_metadata, r.frames) for r in fresh
    ]
    kept = new_entries(session, bank_id, entries)
    new_ids = {id(entry) for entry in kept}
    for entry in entries:
        was_stored = entry.external_id in stored
        if id(entry) in new_ids:
            applied.updated += was_stored
            applied.added += not was_stored
        else:  # another content of the bank has its hashes
            applied.duplicate += 1
            applied.removed += was_stored
    _, applied.added_signals = insert_entries(session, bank_id, kept, source)
    return applied


def _frames(record: Record) -> list[tuple[int, str]]:
    return [(frame.frame, frame.hash) for frame in record.frames]


def _stored(session: Session, bank_id: int, external_ids: list[str]) -> dict[str, _Stored]:
    """The bank's content with these external ids, with their hashes."""
    found: dict[str, _Stored] = {}
    connection = session.connection()
    for start in range(0, len(external_ids), LOOKUP_BATCH):
        wanted = external_ids[start : start + LOOKUP_BATCH]
        for row in connection.execute(_CONTENTS_IN, {"bank": bank_id, "ids": wanted}):
            found[str(row.external_id)] = _Stored(
                int(row.id), list(row.labels or []), dict(row.source_metadata or {})
            )
    by_id = {item.content_id: item for item in found.values()}
    content_ids = list(by_id)
    for start in range(0, len(content_ids), LOOKUP_BATCH):
        chunk = content_ids[start : start + LOOKUP_BATCH]
        for signal in connection.execute(_SIGNALS_OF, {"ids": chunk}):
            item = by_id[int(signal.content_id)]
            if signal.signal_type == FRAMES:
                item.frames.append((int(signal.frame or 0), str(signal.value)))
            else:
                item.signals[str(signal.signal_type)] = str(signal.value)
    return found


_CONTENTS_IN = select(
    Content.id, Content.external_id, Content.labels, Content.source_metadata
).where(
    Content.bank_id == bindparam("bank"),
    Content.external_id.in_(bindparam("ids", expanding=True)),
)
_SIGNALS_OF = (
    select(
        ContentSignal.content_id,
        ContentSignal.signal_type,
        ContentSignal.value,
        ContentSignal.frame,
    )
    .where(ContentSignal.content_id.in_(bindparam("ids", expanding=True)))
    .order_by(ContentSignal.content_id, ContentSignal.frame, ContentSignal.id)
)
_UPDATE_DESCRIPTION = (
    update(CONTENTS)
    .where(CONTENTS.c.id == bindparam("content"))
    .values(labels=bindparam("new_labels"), source_metadata=bindparam("new_metadata"))
)
