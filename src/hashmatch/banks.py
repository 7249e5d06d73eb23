"""Banks of known content: create, change, fill, empty and export them.

    banks = Banks(Database.open(url))
    banks.create("known-images", labels=["A1"])
    banks.import_entries("known-images", read_file(Path("list.csv")))

Every change is one transaction, and every signal added or removed is
written to the change log that live indexes follow.  Imports are
all-or-nothing and idempotent: an entry whose signals (or external id) the
bank already has is skipped, so importing a list twice adds nothing.  A
bank's row is locked for the length of a write, so two processes importing
into one bank take turns rather than clash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from hashmatch.errors import BankError, BankExistsError, UnknownBankError, UnknownContentError
from hashmatch.hashlists import FRAMES, Entry
from hashmatch.signals import get_signal_type
from hashmatch.signals.base import FrameHash
from hashmatch.store import Bank, Change, Content, ContentSignal, Database
from hashmatch.store.bulk import bulk_insert, reserve_ids, runs
from hashmatch.store.models import as_utc, utcnow
from hashmatch.video_matching import DEFAULT_SHARES

BANK_KINDS = ("match", "allowlist")
#: The industry classification (Tech Coalition / NCMEC categories).
CLASSIFICATIONS = ("A1", "A2", "B1", "B2")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_BATCH = 250_000
CONTENTS = cast(Table, Content.__table__)
SIGNALS = cast(Table, ContentSignal.__table__)
CHANGES = cast(Table, Change.__table__)
FRAME_COLUMNS = ("quality", "frame", "timestamp", "variant")


@dataclass(frozen=True)
class BankInfo:
    name: str
    description: str
    enabled: bool
    kind: str
    labels: list[str]
    thresholds: dict[str, int]
    contents: int
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "enabled": self.enabled,
            "kind": self.kind,
            "labels": self.labels,
            "thresholds": self.thresholds,
            "contents": self.contents,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class ContentInfo:
    """One content of a bank, with its signals."""

    id: int
    bank: str
    signals: dict[str, str]
    external_id: str | None
    labels: list[str]
    note: str
    source: str | None
    source_metadata: dict[str, Any]
    created_at: datetime
    disabled_until: datetime | None
    #: A video's frames (vPDQ), in frame order.
    frames: list[FrameHash] = field(default_factory=list)

    def enabled(self, now: datetime | None = None) -> bool:
        return self.disabled_until is None or self.disabled_until <= (now or utcnow())

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "bank": self.bank,
            "signals": self.signals,
            "external_id": self.external_id,
            "labels": self.labels,
            "note": self.note,
            "source": self.source,
            "source_metadata": self.source_metadata,
            "created_at": self.created_at.isoformat(),
            "disabled_until": self.disabled_until.isoformat() if self.disabled_until else None,
            "enabled": self.enabled(),
            **({FRAMES: [frame.to_json() for frame in self.frames]} if self.frames else {}),
        }


@dataclass(frozen=True)
class ImportResult:
    added: int
    skipped: int

    def to_json(self) -> dict[str, int]:
        return {"added": self.added, "skipped": self.skipped}


def _add_signal(signals: dict[str, str], frames: list[FrameHash], row: ContentSignal) -> None:
    if row.signal_type == FRAMES:
        frames.append(
            FrameHash(
                row.frame or 0,
                row.quality or 0,
                row.value,
                row.timestamp or 0.0,
                (),
                row.variant or "",
            )
        )
    else:
        signals[row.signal_type] = row.value


def check_labels(labels: Iterable[str]) -> list[str]:
    """Free tags, with the classification codes written in capitals."""
    out = []
    for label in labels:
        text = label.strip()
        if not text or len(text) > 100 or "," in text or ";" in text:
            raise BankError(f"invalid label {label!r}: 1-100 characters, no commas or semicolons")
        out.append(text.upper() if text.upper() in CLASSIFICATIONS else text)
    return sorted(set(out))


def check_thresholds(thresholds: dict[str, int]) -> dict[str, int]:
    """Distances per signal type, and the video shares (percent) of video_matching."""
    out = {}
    for name, value in thresholds.items():
        if name in DEFAULT_SHARES:
            if not isinstance(value, int) or not 0 <= value <= 100:
                raise BankError(f"{name} is a percentage: 0-100, got {value!r}")
            out[name] = value
            continue
        signal_type = get_signal_type(name)
        if not isinstance(value, int) or value < 0:
            raise BankError(f"threshold for {name} must be a whole number >= 0, got {value!r}")
        if signal_type.default_threshold == 0 and value != 0:
            raise BankError(f"{name} is an exact hash: its threshold can only be 0")
        out[name] = value
    return out


class Banks:
    """Bank operations on one database."""

    def __init__(self, database: Database) -> None:
        self.database = database

    # -- banks ---------------------------------------------------------------

    def create(
        self,
        name: str,
        *,
        description: str = "",
        kind: str = "match",
        labels: Iterable[str] = (),
        thresholds: dict[str, int] | None = None,
        enabled: bool = True,
    ) -> BankInfo:
        if not _NAME.match(name):
            raise BankError(
                f"invalid bank name {name!r}: 1-100 letters, digits, '_', '.' or '-', "
                "starting with a letter or digit"
            )
        if kind not in BANK_KINDS:
            raise BankError(f"bank kind must be one of {', '.join(BANK_KINDS)}, got {kind!r}")
        with self.database.transaction() as session:
            if session.scalar(select(Bank.id).where(Bank.name == name)) is not None:
                raise BankExistsError(f"a bank named {name!r} already exists")
            bank = Bank(
                name=name,
                description=description,
                kind=kind,
                labels=check_labels(labels),
                thresholds=check_thresholds(thresholds or {}),
                enabled=enabled,
            )
            session.add(bank)
            session.flush()
            return self._info(session, bank)

    def all(self) -> list[BankInfo]:
        with self.database.reading() as session:
            banks = session.scalars(select(Bank).order_by(Bank.name)).all()
            return [self._info(session, bank) for bank in banks]

    def is_enabled(self, name: str) -> bool:
        """Whether a bank matches (UnknownBankError if there is none): a
        cheap existence check, where ``get`` also counts the content."""
        with self.database.reading() as session:
            enabled = session.scalar(select(Bank.enabled).where(Bank.name == name))
        if enabled is None:
            raise UnknownBankError(name)
        return bool(enabled)

    def get(self, name: str) -> BankInfo:
        with self.database.reading() as session:
            return self._info(session, self._bank(session, name))

    def update(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
        labels: Iterable[str] | None = None,
        thresholds: dict[str, int] | None = None,
    ) -> BankInfo:
        with self.database.transaction() as session:
            bank = self._bank(session, name, lock=True)
            if new_name is not None and new_name != name:
                if not _NAME.match(new_name):
                    raise BankError(f"invalid bank name {new_name!r}")
                if session.scalar(select(Bank.id).where(Bank.name == new_name)) is not None:
                    raise BankExistsError(f"a bank named {new_name!r} already exists")
                bank.name = new_name
            if description is not None:
                bank.description = description
            if enabled is not None:
                bank.enabled = enabled
            if labels is not None:
                bank.labels = check_labels(labels)
            if thresholds is not None:
                bank.thresholds = {**bank.thresholds, **check_thresholds(thresholds)}
            session.flush()
            return self._info(session, bank)

    def delete(self, name: str) -> None:
        """Delete a bank and everything in it (its signals leave the indexes)."""
        with self.database.transaction() as session:
            bank = self._bank(session, name, lock=True)
            self._log_removals(session, ContentSignal.bank_id == bank.id)
            session.execute(delete(ContentSignal).where(ContentSignal.bank_id == bank.id))
            session.execute(delete(Content).where(Content.bank_id == bank.id))
            session.delete(bank)

    # -- content -------------------------------------------------------------

    def import_entries(
        self, name: str, entries: Iterable[Entry], *, source: str | None = None
    ) -> ImportResult:
        """Add every new entry in one transaction; skip the ones already there."""
        entries = list(entries)
        with self.database.transaction() as session:
            bank = self._bank(session, name, lock=True)
            fresh = self._new_entries(session, bank.id, entries)
            for start in range(0, len(fresh), _BATCH):
                self._insert(session, bank.id, fresh[start : start + _BATCH], source)
            return ImportResult(added=len(fresh), skipped=len(entries) - len(fresh))

    def add(self, name: str, entry: Entry, *, source: str | None = None) -> int | None:
        """Add one content; its id, or None when the bank already has it."""
        with self.database.transaction() as session:
            bank = self._bank(session, name, lock=True)
            fresh = self._new_entries(session, bank.id, [entry])
            return self._insert(session, bank.id, fresh, source)[0] if fresh else None

    def export(self, name: str) -> Iterator[Entry]:
        """Every content of a bank as an entry, in the order it was added."""
        with self.database.reading() as session:
            bank = self._bank(session, name)
            query = (
                select(Content, ContentSignal)
                .join(ContentSignal, ContentSignal.content_id == Content.id)
                .where(Content.bank_id == bank.id)
                .order_by(
                    Content.id, ContentSignal.signal_type, ContentSignal.frame, ContentSignal.id
                )
                .execution_options(yield_per=_BATCH)
            )
            current: Entry | None = None
            current_id = None
            for content, signal in session.execute(query):
                if content.id != current_id:
                    if current is not None:
                        yield current
                    current_id = content.id
                    current = Entry(
                        {},
                        content.external_id,
                        list(content.labels),
                        content.note,
                        dict(content.source_metadata),
                    )
                assert current is not None
                _add_signal(current.signals, current.frames, signal)
            if current is not None:
                yield current

    def set_disabled(self, name: str, content_ids: Iterable[int], until: datetime | None) -> int:
        """Disable content until a time (None: enable again); how many changed."""
        ids = list(content_ids)
        with self.database.transaction() as session:
            bank = self._bank(session, name, lock=True)
            contents = session.scalars(
                select(Content).where(Content.bank_id == bank.id, Content.id.in_(ids))
            ).all()
            missing = set(ids) - {content.id for content in contents}
            if missing:
                raise BankError(f"bank {name!r} has no content {sorted(missing)}")
            for content in contents:
                content.disabled_until = until
            return len(contents)

    def existing_content(self, name: str, entry: Entry) -> int | None:
        """The content that made ``add`` skip ``entry``: one with a signal or
        the external id of the entry."""
        with self.database.reading() as session:
            bank = self._bank(session, name)
            for kind, value in sorted(entry.signals.items()):
                found = session.scalar(
                    select(ContentSignal.content_id).where(
                        ContentSignal.bank_id == bank.id,
                        ContentSignal.signal_type == kind,
                        ContentSignal.value == value,
                    )
                )
                if found is not None:
                    return int(found)
            if entry.external_id is None:
                return None
            return session.scalar(
                select(Content.id).where(
                    Content.bank_id == bank.id, Content.external_id == entry.external_id
                )
            )

    def content(self, name: str, content_id: int) -> ContentInfo:
        """One content of a bank (UnknownContentError if the bank has no such id)."""
        with self.database.reading() as session:
            bank = self._bank(session, name)
            return self._content_info(session, bank, self._content(session, bank, content_id))

    def update_content(
        self,
        name: str,
        content_id: int,
        *,
        note: str | None = None,
        labels: Iterable[str] | None = None,
        source_metadata: dict[str, Any] | None = None,
    ) -> ContentInfo:
        """Change what is known about a content (its signals stay as they are)."""
        with self.database.transaction() as session:
            bank = self._bank(session, name, lock=True)
            content = self._content(session, bank, content_id)
            if note is not None:
                content.note = note
            if labels is not None:
                content.labels = check_labels(labels)
            if source_metadata is not None:
                content.source_metadata = source_metadata
            session.flush()
            return self._content_info(session, bank, content)

    def remove_content(self, name: str, content_ids: Iterable[int]) -> int:
        """Delete content (its signals leave the indexes); how many were there."""
        ids = list(content_ids)
        with self.database.transaction() as session:
            bank = self._bank(session, name, lock=True)
            present = list(
                session.scalars(
                    select(Content.id).where(Content.bank_id == bank.id, Content.id.in_(ids))
                )
            )
            if present:
                self._log_removals(session, ContentSignal.content_id.in_(present))
                session.execute(delete(ContentSignal).where(ContentSignal.content_id.in_(present)))
                session.execute(delete(Content).where(Content.id.in_(present)))
            return len(present)

    # -- internals -----------------------------------------------------------

    def _content(self, session: Session, bank: Bank, content_id: int) -> Content:
        content = session.get(Content, content_id)
        if content is None or content.bank_id != bank.id:
            raise UnknownContentError(bank.name, content_id)
        return content

    def _content_info(self, session: Session, bank: Bank, content: Content) -> ContentInfo:
        signals: dict[str, str] = {}
        frames: list[FrameHash] = []
        for signal in session.scalars(
            select(ContentSignal)
            .where(ContentSignal.content_id == content.id)
            .order_by(ContentSignal.signal_type, ContentSignal.frame, ContentSignal.id)
        ):
            _add_signal(signals, frames, signal)
        return ContentInfo(
            content.id,
            bank.name,
            signals,
            content.external_id,
            list(content.labels),
            content.note,
            content.source,
            dict(content.source_metadata),
            as_utc(content.created_at),
            as_utc(content.disabled_until) if content.disabled_until else None,
            frames,
        )

    def _bank(self, session: Session, name: str, *, lock: bool = False) -> Bank:
        query = select(Bank).where(Bank.name == name)
        if lock and self.database.dialect == "postgresql":
            query = query.with_for_update()
        bank = session.scalar(query)
        if bank is None:
            raise UnknownBankError(name)
        return bank

    def _info(self, session: Session, bank: Bank) -> BankInfo:
        count = session.scalar(
            select(func.count()).select_from(Content).where(Content.bank_id == bank.id)
        )
        return BankInfo(
            bank.name,
            bank.description,
            bank.enabled,
            bank.kind,
            list(bank.labels),
            dict(bank.thresholds),
            int(count or 0),
            as_utc(bank.created_at),
        )

    def _new_entries(self, session: Session, bank_id: int, entries: list[Entry]) -> list[Entry]:
        """Entries whose signals and external id the bank (and the batch) lacks."""
        if not entries:
            return []
        seen_signals: set[tuple[str, str]] = set(
            session.execute(
                select(ContentSignal.signal_type, ContentSignal.value).where(
                    ContentSignal.bank_id == bank_id, ContentSignal.signal_type != FRAMES
                )
            )
        )
        seen_ids: set[str] = set(
            session.scalars(
                select(Content.external_id).where(
                    Content.bank_id == bank_id, Content.external_id.is_not(None)
                )
            )
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

    def _insert(
        self, session: Session, bank_id: int, entries: list[Entry], source: str | None
    ) -> list[int]:
        """Insert new entries with their signals and change-log rows."""
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
        # A big hash list has no frames: it leaves their columns to the defaults.
        with_frames = any(entry.frames for entry in entries)
        extra = FRAME_COLUMNS if with_frames else ()
        signal_ids = reserve_ids(connection, SIGNALS, len(rows))
        bulk_insert(
            connection,
            SIGNALS,
            ("id", "content_id", "bank_id", "signal_type", "value", *extra),
            [
                (signal_id, content_id, bank_id, kind, value, *(rest if with_frames else ()))
                for signal_id, (content_id, kind, value, *rest) in zip(
                    signal_ids, rows, strict=True
                )
            ],
        )
        bulk_insert(
            connection,
            CHANGES,
            ("op", "signal_id", "last_signal_id", "created_at"),
            [("add", first, last, now) for first, last in runs(signal_ids)],
        )
        return content_ids

    def _log_removals(self, session: Session, condition: Any) -> None:
        now = utcnow()
        session.execute(
            insert(Change).from_select(
                ["op", "signal_id", "last_signal_id", "created_at"],
                select(literal("remove"), ContentSignal.id, ContentSignal.id, literal(now)).where(
                    condition
                ),
            )
        )
