"""Reading a hub collection's objects the way TAXII 2.1 serves them.

    reader = TaxiiObjects(database)
    page = reader.page(collection, ObjectFilter(added_after=t, types=("indicator",), limit=100))
    page.objects, page.more, page.next      # next: give it back as ObjectFilter(next=...)

Pages run in ``date_added`` order, which is strictly increasing per
collection and handed out under the collection's lock (see
``store/hub_object_models.py``), so paging with ``added_after`` or ``next``
never misses a row that commits late, nor repeats one.  ``next`` is the
last row's ``date_added`` in microseconds, as text.  ``match[version]`` is
``last`` by default (each object's version with the latest ``modified``),
``first``, ``all``, or timestamps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select
from sqlalchemy.orm import Session, aliased

from hashmatch.errors import CollectionAccessError, StixError, UnknownHubObjectError
from hashmatch.hub.collections import find_collection, grant_of
from hashmatch.hub.stix_properties import read_timestamp
from hashmatch.store import Database
from hashmatch.store.hub_object_models import HubCollection, HubObject

#: The most objects one page carries (TAXII's ``limit`` is capped to it).
MAX_PAGE = 1000
DEFAULT_PAGE = 100
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(moment: datetime) -> int:
    """Microseconds since the epoch (exact: no float on the way)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def taxii_timestamp(value: int) -> str:
    """A date_added as TAXII writes it: RFC 3339, UTC, to the microsecond."""
    seconds, fraction = divmod(value, 1_000_000)
    moment = datetime.fromtimestamp(seconds, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction:06d}Z"


def parse_taxii_timestamp(field_name: str, text: str) -> int:
    """A timestamp a client sent, in microseconds; StixError naming the field."""
    try:
        return micros(read_timestamp(field_name, text))
    except StixError:
        raise StixError(f"{field_name} must be a timestamp like 2026-11-27T09:00:00.000Z") from None


@dataclass(frozen=True)
class ObjectFilter:
    added_after: int | None = None
    types: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    #: "last", "first", "all", or versions (``modified``) in microseconds.
    versions: tuple[str | int, ...] = ("last",)
    limit: int = DEFAULT_PAGE
    next: int | None = None


class Row(NamedTuple):
    """What a page needs of a stored version (columns only: no ORM objects)."""

    stix_id: str
    modified: str
    date_added: int
    object: dict[str, Any]


@dataclass(frozen=True)
class Page:
    rows: list[Row] = field(default_factory=list)
    more: bool = False

    @property
    def objects(self) -> list[dict[str, Any]]:
        return [row.object for row in self.rows]

    @property
    def next(self) -> str | None:
        return str(self.rows[-1].date_added) if self.more else None

    @property
    def first_added(self) -> str | None:
        return taxii_timestamp(self.rows[0].date_added) if self.rows else None

    @property
    def last_added(self) -> str | None:
        return taxii_timestamp(self.rows[-1].date_added) if self.rows else None

    def manifest(self) -> list[dict[str, Any]]:
        return [
            {
                "id": row.stix_id,
                "date_added": taxii_timestamp(row.date_added),
                "version": row.modified,
                "media_type": STIX_MEDIA_TYPE,
            }
            for row in self.rows
        ]


def readable_collection(session: Session, ref: str, member_id: int | None) -> HubCollection:
    """The collection, if this member (None: a hub admin) may read it."""
    collection = find_collection(session, ref)
    if member_id is not None:
        grant = grant_of(session, collection.id, member_id)
        if grant is None or not grant.can_read:
            raise CollectionAccessError(f"no read grant on collection {collection.title!r}")
    return collection


def parse_next(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    if not text.isdigit() or len(text) > 20:
        raise StixError("next must be the token a previous page gave")
    return int(text)


class TaxiiObjects:
    def __init__(self, database: Database) -> None:
        self.database = database

    def page(self, ref: str, member_id: int | None, wanted: ObjectFilter) -> Page:
        """One page of the collection's objects, oldest date_added first."""
        with self.database.reading() as session:
            collection = readable_collection(session, ref, member_id)
            rows = [Row._make(row) for row in session.execute(_query(collection.id, wanted))]
        more = len(rows) > wanted.limit
        return Page(rows[: wanted.limit], more)

    def one(self, ref: str, member_id: int | None, stix_id: str, wanted: ObjectFilter) -> Page:
        """A page of one object's versions (``wanted`` names it); UnknownHubObjectError if none."""
        with self.database.reading() as session:
            collection = readable_collection(session, ref, member_id)
            known = session.scalar(
                select(HubObject.id)
                .where(HubObject.collection_id == collection.id, HubObject.stix_id == stix_id)
                .limit(1)
            )
            if known is None:
                raise UnknownHubObjectError(f"no object {stix_id[:100]!r} in this collection")
            rows = [Row._make(row) for row in session.execute(_query(collection.id, wanted))]
        return Page(rows[: wanted.limit], len(rows) > wanted.limit)


def _query(collection_id: str, wanted: ObjectFilter) -> Select[str, str, int, dict[str, Any]]:
    after = max(wanted.added_after or 0, wanted.next or 0)
    query = (
        select(HubObject.stix_id, HubObject.modified, HubObject.date_added, HubObject.object)
        .where(HubObject.collection_id == collection_id, HubObject.date_added > after)
        .order_by(HubObject.date_added)
        .limit(wanted.limit + 1)
    )
    if wanted.types:
        query = query.where(HubObject.type.in_(wanted.types))
    if wanted.ids:
        query = query.where(HubObject.stix_id.in_(wanted.ids))
    if "all" not in wanted.versions:
        query = query.where(or_(*_version_clauses(wanted.versions)))
    return query


def _version_clauses(versions: Sequence[str | int]) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [false()]
    stamps = [v for v in versions if isinstance(v, int)]
    if stamps:
        clauses.append(HubObject.modified_us.in_(stamps))
    if "last" in versions:
        clauses.append(HubObject.is_latest.is_(True))
    if "first" in versions:
        older = aliased(HubObject)
        clauses.append(
            ~exists().where(
                and_(
                    older.collection_id == HubObject.collection_id,
                    older.stix_id == HubObject.stix_id,
                    older.modified_us < HubObject.modified_us,
                )
            )
        )
    return clauses
