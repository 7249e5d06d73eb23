"""Banks of known content: create, change, fill, empty and export them.

    banks = Banks(Database.open(url))
    banks.create("known-images", labels=["A1"])
    banks.import_entries("known-images", read_file(Path("list.csv")))

Every change is one transaction, with its entry in the audit log
(:mod:`hashmatch.audit`; an import is one entry, not one per hash), and every
signal added or removed is written to the change log that live indexes
follow (the write path is in :mod:`hashmatch.banks.writes`).  Imports are
all-or-nothing and idempotent: an entry whose signals (or external id) the
bank already has is skipped, so importing a list twice adds nothing.  A
bank's row is locked for the length of a write, so two processes importing
into one bank take turns rather than clash.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, or_, select, text
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.banks.checks import (
    check_description,
    check_entries,
    check_kind,
    check_labels,
    check_min_inliers,
    check_name,
    check_thresholds,
    valid_ids,
)
from hashmatch.banks.records import BankInfo, ContentInfo, ImportResult, add_signal
from hashmatch.banks.writes import (
    delete_signals,
    insert_entries,
    log_added,
    log_removed,
    new_entries,
)
from hashmatch.errors import BankError, BankExistsError, UnknownBankError, UnknownContentError
from hashmatch.fieldlimits import MAX_ID, check_content_fields
from hashmatch.hashlists import FRAMES, Entry
from hashmatch.signals.base import FrameHash
from hashmatch.signals.quality import count_low_quality
from hashmatch.store import Bank, Content, ContentSignal, Database
from hashmatch.store.changelog import latest_seq
from hashmatch.store.models import UNIQUE_SIGNALS, ContentFeatures, as_utc, iso_utc

#: Imports of at least this many contents refresh the planner's statistics.
STATISTICS_AFTER = 10_000
#: Rows fetched at a time when a bank is exported.
EXPORT_BATCH = 250_000
_BANK_ID = select(Bank.id).where(Bank.name == bindparam("name"))
_LOCKED_BANK_ID = _BANK_ID.with_for_update()


#: A bank's own signals and video frames: not the variant hashes of its
#: images, which are derived from pixels and never exported.
OWN_OR_FRAME = or_(ContentSignal.variant.is_(None), ContentSignal.signal_type == FRAMES)


class BankCounts(NamedTuple):
    contents: int
    variant_hashes: int
    #: Local-features rows and their bytes (the second stage's cost).
    feature_images: int = 0
    feature_bytes: int = 0


class NewContent(NamedTuple):
    """One add of :meth:`Banks.add_many`, and who makes it (None: the current actor)."""

    bank: str
    entry: Entry
    source: str | None = None
    actor: audit.Actor | None = None


class Banks:
    """Bank operations on one database."""

    def __init__(self, database: Database) -> None:
        self.database = database
        #: bank id -> (the change log's last seq, the bank's counts then)
        self._counted: dict[int, tuple[int, BankCounts]] = {}

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
        image_variants: bool | None = None,
        local_features: bool = False,
        min_inliers: int | None = None,
    ) -> BankInfo:
        """A new bank; ``image_variants`` defaults to on for a match bank and
        off for an allowlist (which should suppress only what it holds).
        ``local_features``: images added store their local features and
        queries run the second stage here; ``min_inliers`` (None: the
        library's default) is how many verified inliers such a match needs."""
        check_name(name)
        check_kind(kind)
        check_min_inliers(min_inliers)
        with self.database.transaction() as session:
            if session.scalar(select(Bank.id).where(Bank.name == name)) is not None:
                raise BankExistsError(f"a bank named {name!r} already exists")
            bank = Bank(
                name=name,
                description=check_description(description),
                kind=kind,
                labels=check_labels(labels),
                thresholds=check_thresholds(thresholds or {}),
                enabled=enabled,
                image_variants=kind == "match" if image_variants is None else image_variants,
                local_features=local_features,
                min_inliers=min_inliers,
            )
            session.add(bank)
            session.flush()
            audit.record(session, "bank.create", f"bank:{name}", after=_bank_state(bank))
            return self._info(session, bank)

    def all(self) -> list[BankInfo]:
        with self.database.reading() as session:
            banks = session.scalars(select(Bank).order_by(Bank.name)).all()
            seq = latest_seq(session)
            return [self._info(session, bank, self._count(session, bank, seq)) for bank in banks]

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
            bank = self._bank(session, name)
            return self._info(session, bank, self._count(session, bank, latest_seq(session)))

    def update(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
        labels: Iterable[str] | None = None,
        thresholds: dict[str, int] | None = None,
        kind: str | None = None,
        image_variants: bool | None = None,
        local_features: bool | None = None,
        min_inliers: int | None = None,
    ) -> BankInfo:
        """Change what is given (None: unchanged); ``min_inliers=0`` goes back
        to the library's default."""
        if kind is not None:
            check_kind(kind)
        if min_inliers:
            check_min_inliers(min_inliers)
        with self.database.transaction() as session:
            bank = self._bank(session, name, lock=True)
            before = _bank_state(bank)
            if new_name is not None and new_name != name:
                check_name(new_name)
                if session.scalar(select(Bank.id).where(Bank.name == new_name)) is not None:
                    raise BankExistsError(f"a bank named {new_name!r} already exists")
                bank.name = new_name
            if description is not None:
                bank.description = check_description(description)
            if enabled is not None:
                bank.enabled = enabled
            if kind is not None:
                bank.kind = kind
            if image_variants is not None:
                bank.image_variants = image_variants
            if local_features is not None:
                bank.local_features = local_features
            if min_inliers is not None:
                bank.min_inliers = min_inliers or None
            if labels is not None:
                bank.labels = check_labels(labels)
            if thresholds is not None:
                bank.thresholds = {**bank.thresholds, **check_thresholds(thresholds)}
            session.flush()
            after = _bank_state(bank)
            if after != before:
                audit.record(session, "bank.update", f"bank:{name}", before=before, after=after)
            return self._info(session, bank)

    def delete(self, name: str) -> None:
        """Delete a bank and everything in it (its signals leave the indexes)."""
        with self.database.transaction() as session:
            bank = self._bank(session, name, lock=True)
            before = {**_bank_state(bank), "contents": self._count_now(session, bank).contents}
            gone = delete_signals(
                session, ContentSignal.bank_id == bank.id, [Content.bank_id == bank.id]
            )
            session.delete(bank)
            session.flush()
            audit.record(session, "bank.delete", f"bank:{name}", before=before)
            log_removed(session, gone)

    # -- content -------------------------------------------------------------

    def import_entries(
        self, name: str, entries: Iterable[Entry], *, source: str | None = None
    ) -> ImportResult:
        """Add every new entry in one transaction; skip the ones already there."""
        entries = check_entries(list(entries))
        with self.database.transaction() as session:
            bank_id = self._locked_bank_id(session, name)
            fresh = new_entries(session, bank_id, entries)
            _, signal_ids = insert_entries(session, bank_id, fresh, source)
            result = ImportResult(
                added=len(fresh),
                skipped=len(entries) - len(fresh),
                low_quality=count_low_quality(entry.quality for entry in entries),
            )
            audit.record(
                session, "bank.import", f"bank:{name}", after={**result.to_json(), "source": source}
            )
            log_added(session, signal_ids)
        if len(fresh) >= STATISTICS_AFTER:
            self.database.refresh_statistics()
        return result

    def add(self, name: str, entry: Entry, *, source: str | None = None) -> int | None:
        """Add one content; its id, or None when the bank already has it."""
        with self.database.transaction() as session:
            return self.add_in(session, name, entry, source=source)

    def add_in(
        self, session: Session, name: str, entry: Entry, *, source: str | None = None
    ) -> int | None:
        """:meth:`add` in the caller's transaction (a review decision adds to
        an allowlist with the decision); the change log is written last."""
        check_entries([entry])
        bank_id = self._locked_bank_id(session, name)
        if not new_entries(session, bank_id, [entry]):
            return None
        [content_id], signal_ids = insert_entries(session, bank_id, [entry], source)
        # record_all: record() would also build the entry as an ORM object.
        audit.record_all(session, [_added_event(name, content_id, entry, source)])
        log_added(session, signal_ids)
        return content_id

    def add_many(self, items: Sequence[NewContent]) -> list[int | None]:
        """Add items in one transaction: each one's content id, or None when
        its bank already has it (or an earlier item of the batch added it).
        Each add is audited as its item's actor's.  Banks are locked in name
        order, so batches in several processes never wait on each other in
        a circle."""
        check_entries([item.entry for item in items])
        by_bank: dict[str, list[int]] = {}
        for position, item in enumerate(items):
            by_bank.setdefault(item.bank, []).append(position)
        results: list[int | None] = [None] * len(items)
        with self.database.transaction() as session:
            logged: list[int] = []
            for name in sorted(by_bank):
                bank_id = self._locked_bank_id(session, name)
                positions = by_bank[name]
                fresh = {
                    id(e)
                    for e in new_entries(session, bank_id, [items[p].entry for p in positions])
                }
                by_source: dict[str | None, list[int]] = {}
                for position in positions:
                    if id(items[position].entry) in fresh:
                        by_source.setdefault(items[position].source, []).append(position)
                # No group's image variants may take a later group's own hash.
                own = {
                    pair
                    for chosen in by_source.values()
                    for position in chosen
                    for pair in items[position].entry.signals.items()
                }
                for source, chosen in by_source.items():
                    entries = [items[position].entry for position in chosen]
                    content_ids, signal_ids = insert_entries(session, bank_id, entries, source, own)
                    for position, content_id in zip(chosen, content_ids, strict=True):
                        results[position] = content_id
                    logged += signal_ids
            audit.record_all(
                session,
                [
                    _added_event(item.bank, content_id, item.entry, item.source, item.actor)
                    for item, content_id in zip(items, results, strict=True)
                    if content_id is not None
                ],
            )
            log_added(session, logged)
        return results

    def export(self, name: str) -> Iterator[Entry]:
        """Every content of a bank as an entry, in the order it was added."""
        with self.database.reading() as session:
            bank = self._bank(session, name)
            query = (
                select(Content, ContentSignal)
                .join(ContentSignal, ContentSignal.content_id == Content.id)
                .where(Content.bank_id == bank.id, OWN_OR_FRAME)
                .order_by(
                    Content.id, ContentSignal.signal_type, ContentSignal.frame, ContentSignal.id
                )
                .execution_options(yield_per=EXPORT_BATCH)
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
                        content_id=content.id,
                    )
                if current is not None:
                    add_signal(current.signals, current.frames, signal)
            if current is not None:
                yield current

    def content_ids(
        self, name: str, *, after: int = 0, limit: int = 100
    ) -> list[tuple[int, str | None]]:
        """A page of a bank's content: (content id, external id) for the first
        ``limit`` ids above ``after``, in id order (none above the largest id
        a row can have)."""
        with self.database.reading() as session:
            bank = self._bank(session, name)
            if after >= MAX_ID:
                return []
            rows = session.execute(
                select(Content.id, Content.external_id)
                .where(Content.bank_id == bank.id, Content.id > after)
                .order_by(Content.id)
                .limit(limit)
            )
            return [(int(content_id), external_id) for content_id, external_id in rows]

    def set_disabled(self, name: str, content_ids: Iterable[int], until: datetime | None) -> int:
        """Disable content until a time (None: enable again); how many changed."""
        ids = list(content_ids)
        with self.database.transaction() as session:
            bank = self._bank(session, name, lock=True)
            contents = session.scalars(
                select(Content).where(Content.bank_id == bank.id, Content.id.in_(valid_ids(ids)))
            ).all()
            missing = set(ids) - {content.id for content in contents}
            if missing:
                raise BankError(f"bank {name!r} has no content {sorted(missing)}")
            action = "content.disable" if until is not None else "content.enable"
            events = []
            for content in contents:
                before, after = iso_utc(content.disabled_until), iso_utc(until)
                if before != after:
                    events.append(
                        audit.Event(
                            action,
                            f"content:{name}/{content.id}",
                            before={"disabled_until": before},
                            after={"disabled_until": after},
                        )
                    )
                content.disabled_until = until
            session.flush()
            audit.record_all(session, events)
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
                        text(UNIQUE_SIGNALS),
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
        check_content_fields(
            note=note,
            labels=labels if labels is None else list(labels),
            source_metadata=source_metadata,
        )
        with self.database.transaction() as session:
            bank = self._bank(session, name, lock=True)
            content = self._content(session, bank, content_id)
            before = _described(content)
            if note is not None:
                content.note = note
            if labels is not None:
                content.labels = check_labels(labels)
            if source_metadata is not None:
                content.source_metadata = source_metadata
            session.flush()
            after = _described(content)
            if after != before:
                audit.record(
                    session,
                    "content.update",
                    f"content:{name}/{content_id}",
                    before=before,
                    after=after,
                )
            return self._content_info(session, bank, content)

    def remove_content(self, name: str, content_ids: Iterable[int]) -> int:
        """Delete content (its signals leave the indexes); how many were there."""
        ids = list(content_ids)
        with self.database.transaction() as session:
            bank = self._bank(session, name, lock=True)
            present: dict[int, str | None] = dict(
                session.execute(
                    select(Content.id, Content.external_id).where(
                        Content.bank_id == bank.id, Content.id.in_(valid_ids(ids))
                    )
                ).all()
            )
            if present:
                gone = delete_signals(
                    session, ContentSignal.content_id.in_(present), [Content.id.in_(present)]
                )
                audit.record_all(
                    session,
                    [
                        audit.Event(
                            "content.remove",
                            f"content:{name}/{content_id}",
                            before={"external_id": external_id},
                        )
                        for content_id, external_id in sorted(present.items())
                    ],
                )
                log_removed(session, gone)
            return len(present)

    # -- internals -----------------------------------------------------------

    def _content(self, session: Session, bank: Bank, content_id: int) -> Content:
        if not valid_ids([content_id]):
            raise UnknownContentError(bank.name, content_id)
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
            add_signal(signals, frames, signal)
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

    def _locked_bank_id(self, session: Session, name: str) -> int:
        """The bank's id, its row locked until the transaction ends (the
        write path's lookup: one plain row, no ORM object)."""
        query = _LOCKED_BANK_ID if self.database.dialect == "postgresql" else _BANK_ID
        bank_id = session.connection().execute(query, {"name": name}).scalar()
        if bank_id is None:
            raise UnknownBankError(name)
        return int(bank_id)

    def _count(self, session: Session, bank: Bank, seq: int) -> BankCounts:
        """The bank's content (and variant hash) counts, counted again only when the change log
        moved since (every add and removal of content writes it, in commit
        order): counting a 1M-content bank takes tens of milliseconds, a page
        of the UI has less.  ``seq`` is read before the count, so a count
        kept is never older than its seq.  Reading sessions only: a writing
        one could roll back and its seq be reused."""
        kept = self._counted.get(bank.id)
        if kept is not None and kept[0] == seq:
            return kept[1]
        count = self._count_now(session, bank)
        self._counted[bank.id] = (seq, count)
        return count

    @staticmethod
    def _count_now(session: Session, bank: Bank) -> BankCounts:
        contents = session.scalar(
            select(func.count()).select_from(Content).where(Content.bank_id == bank.id)
        )
        variants = session.scalar(
            select(func.count())
            .select_from(ContentSignal)
            .where(
                ContentSignal.bank_id == bank.id,
                text(UNIQUE_SIGNALS),  # through the bank's unique index: frames are not images
                ContentSignal.variant.is_not(None),
            )
        )
        features = session.execute(
            select(func.count(), func.coalesce(func.sum(func.length(ContentFeatures.features)), 0))
            .select_from(ContentFeatures)
            .where(ContentFeatures.bank_id == bank.id)
        ).one()
        return BankCounts(
            int(contents or 0), int(variants or 0), int(features[0]), int(features[1])
        )

    def _info(self, session: Session, bank: Bank, counts: BankCounts | None = None) -> BankInfo:
        if counts is None:
            counts = self._count_now(session, bank)
        return BankInfo(
            bank.name,
            bank.description,
            bank.enabled,
            bank.kind,
            list(bank.labels),
            dict(bank.thresholds),
            counts.contents,
            as_utc(bank.created_at),
            bank.image_variants,
            counts.variant_hashes,
            bank.local_features,
            bank.min_inliers,
            counts.feature_images,
            counts.feature_bytes,
        )


def _bank_state(bank: Bank) -> dict[str, Any]:
    """A bank as its audit entries keep it (without the count of its content,
    which costs a scan of the bank on PostgreSQL)."""
    return {
        "name": bank.name,
        "description": bank.description,
        "enabled": bank.enabled,
        "kind": bank.kind,
        "labels": list(bank.labels),
        "thresholds": dict(bank.thresholds),
        "image_variants": bank.image_variants,
        "local_features": bank.local_features,
        "min_inliers": bank.min_inliers,
    }


def _added_event(
    bank: str, content_id: int, entry: Entry, source: str | None, actor: audit.Actor | None = None
) -> audit.Event:
    """The audit entry of an add: the content as added, a video's frames
    counted, not listed."""
    after = {
        "external_id": entry.external_id,
        "source": source,
        "signals": dict(entry.signals),
        "frames": len(entry.frames),
        "labels": list(entry.labels),
        "note": entry.note,
        "source_metadata": dict(entry.source_metadata),
    }
    return audit.Event("content.add", f"content:{bank}/{content_id}", after=after, actor=actor)


def _described(content: Content) -> dict[str, Any]:
    """What ``update_content`` may change, for its audit entry."""
    return {
        "labels": list(content.labels),
        "note": content.note,
        "source_metadata": dict(content.source_metadata),
    }
