"""The write path of bank content: new entries in bulk, and removals, each
logged for the live indexes.

    content_ids, signal_ids = insert_entries(session, bank_id, entries, source)
    log_added(session, signal_ids)
    gone = delete_signals(session, ContentSignal.content_id.in_(ids), [Content.id.in_(ids)])
    log_removed(session, gone)

Whether an entry is new is decided from its own values only (its signals
and external id, looked up through the bank's unique indexes), so adding one
content costs the same in an empty bank and in one with a million hashes.
The change log is written last in the transaction, after the audit entry
(``audit.py``): on PostgreSQL each holds its log's lock until the commit
(``store/changelog.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, text
from sqlalchemy.orm import Session

from hashmatch.hashlists import FRAMES, Entry
from hashmatch.store import Bank, Content, ContentSignal
from hashmatch.store.bulk import bulk_insert
from hashmatch.store.changelog import record
from hashmatch.store.ids import reserve_ids
from hashmatch.store.models import UNIQUE_SIGNALS, ContentFeatures, utcnow

CONTENTS = cast(Table, Content.__table__)
SIGNALS = cast(Table, ContentSignal.__table__)
FRAME_COLUMNS = ("quality", "frame", "timestamp", "variant")
#: Rows written per insert, and values per lookup of existing ones.
INSERT_BATCH = 250_000
LOOKUP_BATCH = 2_000


def new_entries(session: Session, bank_id: int, entries: list[Entry]) -> list[Entry]:
    """Entries whose signals and external id the bank (and the batch) lacks."""
    seen_signals = _existing_signals(
        session, bank_id, {pair for entry in entries for pair in entry.signals.items()}
    )
    seen_ids = _existing_external_ids(
        session, bank_id, {entry.external_id for entry in entries if entry.external_id}
    )
    fresh = []
    for entry in entries:
        items = entry.signals.items()
        if not (items or entry.frames):
            continue
        if entry.external_id in seen_ids or any(pair in seen_signals for pair in items):
            continue
        seen_signals.update(items)
        if entry.external_id is not None:
            seen_ids.add(entry.external_id)
        fresh.append(entry)
    return fresh


def _existing_signals(
    session: Session, bank_id: int, pairs: set[tuple[str, str]]
) -> set[tuple[str, str]]:
    """The pairs the bank has, looked up per type through its unique index."""
    by_type: dict[str, list[str]] = {}
    # Grouped, not sorted: sorting a million pairs is one C call that holds
    # the GIL for seconds, and the server's event loop waits for it.
    for kind, value in pairs:
        by_type.setdefault(kind, []).append(value)
    found: set[tuple[str, str]] = set()
    connection = session.connection()  # Core statements: no ORM execution path
    for kind, values in by_type.items():
        for start in range(0, len(values), LOOKUP_BATCH):
            chunk = values[start : start + LOOKUP_BATCH]
            rows = connection.execute(_SIGNALS_IN, {"bank": bank_id, "kind": kind, "values": chunk})
            found.update((kind, str(value)) for value in rows.scalars())
    return found


def _existing_external_ids(session: Session, bank_id: int, ids: set[str]) -> set[str]:
    found: set[str] = set()
    connection = session.connection()
    ordered = list(ids)
    for start in range(0, len(ordered), LOOKUP_BATCH):
        chunk = ordered[start : start + LOOKUP_BATCH]
        rows = connection.execute(_EXTERNAL_IDS_IN, {"bank": bank_id, "ids": chunk})
        found.update(str(value) for value in rows.scalars())
    return found


# Statements built once, so SQLAlchemy compiles and caches them once (an add
# is a handful of statements; building each anew cost as much as running it).
_SIGNALS_IN = select(ContentSignal.value).where(
    ContentSignal.bank_id == bindparam("bank"),
    ContentSignal.signal_type == bindparam("kind"),
    ContentSignal.value.in_(bindparam("values", expanding=True)),
    text(UNIQUE_SIGNALS),  # so the unique index is used, not a scan of the table
)
_EXTERNAL_IDS_IN = select(Content.external_id).where(
    Content.bank_id == bindparam("bank"),
    Content.external_id.in_(bindparam("ids", expanding=True)),
)


def insert_entries(
    session: Session,
    bank_id: int,
    entries: list[Entry],
    source: str | None,
    reserved: Iterable[tuple[str, str]] = (),
) -> tuple[list[int], list[int]]:
    """Insert new entries with their signals, not logged yet: content and
    signal ids (log the signals with :func:`log_added`, last).  ``reserved``:
    (type, value) pairs that entries inserted next in the transaction hold
    as their own, which no variant inserted now may take."""
    content_ids: list[int] = []
    signal_ids: list[int] = []
    variants = _storable_variants(session, bank_id, entries, set(reserved))
    for start in range(0, len(entries), INSERT_BATCH):
        batch = entries[start : start + INSERT_BATCH]
        batch_variants = variants[start : start + INSERT_BATCH]
        added, signals = _insert(session, bank_id, batch, source, batch_variants)
        content_ids += added
        signal_ids += signals
    _insert_features(session, bank_id, content_ids, entries)
    return content_ids, signal_ids


def log_added(session: Session, signal_ids: list[int]) -> None:
    """Log added signals: the transaction's last write."""
    record(session.connection(), "add", signal_ids)


def _storable_variants(
    session: Session, bank_id: int, entries: list[Entry], reserved: set[tuple[str, str]]
) -> list[list[tuple[str, str, str]]]:
    """Each entry's variant hashes to store, as (type, value, variant name):
    none when the bank does not store image variants, and never one whose
    value the bank or an entry of the batch already holds (the bank's
    unique index allows each value once: another content's own hash or
    variant keeps it, and the add goes on without this variant)."""
    if not any(entry.variants for entry in entries):
        return [[] for _ in entries]
    connection = session.connection()
    if not connection.execute(_STORES_VARIANTS, {"bank": bank_id}).scalar():
        return [[] for _ in entries]
    taken = reserved | {pair for entry in entries for pair in entry.signals.items()}
    wanted = {
        (kind, value)
        for entry in entries
        for kind, named in entry.variants.items()
        for value in named.values()
    }
    taken |= _existing_signals(session, bank_id, wanted)
    chosen: list[list[tuple[str, str, str]]] = []
    for entry in entries:
        rows = []
        for kind, named in sorted(entry.variants.items()):
            for variant, value in named.items():
                if (kind, value) not in taken:
                    taken.add((kind, value))
                    rows.append((kind, value, variant))
        chosen.append(rows)
    return chosen


_STORES_VARIANTS = select(Bank.image_variants).where(Bank.id == bindparam("bank"))


def _insert_features(
    session: Session, bank_id: int, content_ids: list[int], entries: list[Entry]
) -> None:
    """Store the entries' local features when the bank uses the second stage,
    in the transaction that adds their signals: a process that learns of the
    signals from the change log finds the features beside them."""
    if not any(entry.features is not None for entry in entries):
        return
    # Here only with features: OpenCV (a quarter of a second) is loaded then.
    from hashmatch.features import decode_features

    rows = [
        {
            "content_id": content_id,
            "bank_id": bank_id,
            "features": entry.features,
            "keypoints": len(decode_features(entry.features)),
            "created_at": utcnow(),
        }
        for content_id, entry in zip(content_ids, entries, strict=True)
        if entry.features is not None
    ]
    if rows and session.connection().execute(_STORES_FEATURES, {"bank": bank_id}).scalar():
        session.connection().execute(insert(ContentFeatures), rows)


_STORES_FEATURES = select(Bank.local_features).where(Bank.id == bindparam("bank"))


def _insert(
    session: Session,
    bank_id: int,
    entries: list[Entry],
    source: str | None,
    variants: list[list[tuple[str, str, str]]],
) -> tuple[list[int], list[int]]:
    """Insert entries and their signals (not logged yet): content and signal ids."""
    connection = session.connection()
    now = utcnow()
    content_ids = reserve_ids(connection, CONTENTS, len(entries))
    # Columns every entry leaves empty are left to the schema's defaults:
    # fewer values to convert and bind on a big, bare hash list.
    optional = [
        name
        for name in ("external_id", "source_metadata", "labels", "note")
        if any(getattr(entry, name) for entry in entries)
    ]
    bulk_insert(
        connection,
        CONTENTS,
        ("id", "bank_id", "source", "created_at", *optional),
        [
            (content_id, bank_id, source, now, *(getattr(entry, name) for name in optional))
            for content_id, entry in zip(content_ids, entries, strict=True)
        ],
    )
    rows: list[tuple[Any, ...]] = [
        (content_id, kind, value, None, None, None, None)
        for content_id, entry in zip(content_ids, entries, strict=True)
        for kind, value in sorted(entry.signals.items())
    ]
    rows += [
        (
            content_id,
            FRAMES,
            frame.hash,
            frame.quality,
            frame.frame,
            frame.timestamp,
            frame.variant or None,
        )
        for content_id, entry in zip(content_ids, entries, strict=True)
        for frame in entry.frames
    ]
    rows += [
        (content_id, kind, value, None, None, None, variant)
        for content_id, named in zip(content_ids, variants, strict=True)
        for kind, value, variant in named
    ]
    # A big hash list has no frames nor variants: it leaves their columns to
    # the defaults.
    with_frames = any(entry.frames for entry in entries) or any(variants)
    extra = FRAME_COLUMNS if with_frames else ()
    signal_ids = reserve_ids(connection, SIGNALS, len(rows))
    bulk_insert(
        connection,
        SIGNALS,
        ("id", "content_id", "bank_id", "signal_type", "value", *extra),
        [
            (signal_id, content_id, bank_id, kind, value, *(rest if with_frames else ()))
            for signal_id, (content_id, kind, value, *rest) in zip(signal_ids, rows, strict=True)
        ],
    )
    return content_ids, signal_ids


def delete_signals(session: Session, condition: Any, contents: Iterable[Any] = ()) -> list[int]:
    """Delete the signals matching ``condition`` and the content rows matching
    ``contents``; the signals' ids, for :func:`log_removed`."""
    gone = list(session.scalars(select(ContentSignal.id).where(condition)))
    session.execute(delete(ContentSignal).where(condition))
    for content_condition in contents:
        session.execute(delete(Content).where(content_condition))
    return gone


def log_removed(session: Session, signal_ids: list[int]) -> None:
    """Log removed signals: the transaction's last write."""
    record(session.connection(), "remove", signal_ids)
