"""The hub's TAXII collections and who may read and write each.

    collections = Collections(database)
    collections.ensure_defaults()                       # "hashes" and "signals", once
    made = collections.create("keyed signals", kind="signals", identifiers="keyed")
    collections.grant(made["id"], member_id=3, read=True, write=True)
    collections.revoke(made["id"], member_id=3)
    collections.visible_to(member_id=3)                 # what a member's TAXII client lists

A collection carries one ``kind`` of signal: ``hashes`` (MD5, SHA-256, PDQ,
vPDQ indicators) or ``signals`` (URLs, email addresses, usernames,
keywords); opinions (feedback) and members' identities go in either.  A
``keyed`` collection takes email addresses and usernames only as keyed
hashes (``hub/identifiers.py``).  Members read and write a collection only
with a grant; hub admins manage collections and grants.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.errors import CollectionError, UnknownCollectionError, UnknownMemberError
from hashmatch.fieldlimits import check_text
from hashmatch.store import Database
from hashmatch.store.database import conflict_insert
from hashmatch.store.hub_models import HubMember
from hashmatch.store.hub_object_models import (
    COLLECTION_KINDS,
    IDENTIFIER_MODES,
    HubCollection,
    HubCollectionGrant,
)
from hashmatch.store.models import iso_utc, utcnow

TITLE_CHARS = 200
DESCRIPTION_CHARS = 2000
#: The collections a hub starts with; their ids are fixed, so two processes
#: starting at once make each one once.
DEFAULTS = (
    ("hashes", "hashes", "Hashes of known material: MD5, SHA-256, PDQ and vPDQ indicators."),
    ("signals", "signals", "Lantern-style signals: URLs, email addresses, usernames, keywords."),
)
_DEFAULTS_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:hashmatch:hub-collections")


def default_collection_id(title: str) -> str:
    return str(uuid.uuid5(_DEFAULTS_NAMESPACE, title))


def collection_json(collection: HubCollection) -> dict[str, Any]:
    return {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "kind": collection.kind,
        "identifiers": collection.identifiers,
        "created_at": iso_utc(collection.created_at),
    }


def find_collection(session: Session, ref: str) -> HubCollection:
    """A collection by its id or its title."""
    found = session.get(HubCollection, ref) if _is_uuid(ref) else None
    found = found or session.scalar(select(HubCollection).where(HubCollection.title == ref))
    if found is None:
        raise UnknownCollectionError(f"no hub collection {ref[:100]!r}")
    return found


def grant_of(session: Session, collection_id: str, member_id: int) -> HubCollectionGrant | None:
    return session.scalar(
        select(HubCollectionGrant).where(
            HubCollectionGrant.collection_id == collection_id,
            HubCollectionGrant.member_id == member_id,
        )
    )


class Collections:
    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock

    def ensure_defaults(self) -> builtins.list[dict[str, Any]]:
        """Make the default collections that are missing (idempotent, safe at once)."""
        with self.database.transaction() as session:
            for title, kind, description in DEFAULTS:
                insert = conflict_insert(self.database.dialect, HubCollection.__table__)
                made = session.execute(
                    insert.values(
                        id=default_collection_id(title),
                        title=title,
                        description=description,
                        kind=kind,
                        identifiers="raw",
                        last_added=0,
                        created_at=self.clock(),
                    ).on_conflict_do_nothing()
                )
                if made.rowcount:  # type: ignore[attr-defined]
                    audit.record(
                        session,
                        "hub.collection.create",
                        f"hub-collection:{default_collection_id(title)}",
                        after={"title": title, "kind": kind, "identifiers": "raw"},
                    )
        return self.list()

    def create(
        self, title: str, *, kind: str, identifiers: str = "raw", description: str = ""
    ) -> dict[str, Any]:
        check_text("title", title, max_chars=TITLE_CHARS, one_line=True)
        check_text("description", description, max_chars=DESCRIPTION_CHARS)
        if not title.strip():
            raise CollectionError("a collection needs a title")
        if kind not in COLLECTION_KINDS:
            raise CollectionError(f"kind must be one of {', '.join(COLLECTION_KINDS)}")
        if identifiers not in IDENTIFIER_MODES:
            raise CollectionError(f"identifiers must be one of {', '.join(IDENTIFIER_MODES)}")
        with self.database.transaction() as session:
            taken = session.scalar(select(HubCollection).where(HubCollection.title == title))
            if taken is not None:
                raise CollectionError(f"a collection is titled {title!r} already")
            collection = HubCollection(
                id=str(uuid.uuid4()),
                title=title.strip(),
                description=description,
                kind=kind,
                identifiers=identifiers,
                last_added=0,
                created_at=self.clock(),
            )
            session.add(collection)
            session.flush()
            audit.record(
                session,
                "hub.collection.create",
                f"hub-collection:{collection.id}",
                after={"title": collection.title, "kind": kind, "identifiers": identifiers},
            )
            return collection_json(collection)

    def list(self) -> list[dict[str, Any]]:
        """Every collection with its grants, oldest first (for hub admins)."""
        with self.database.reading() as session:
            collections = list(
                session.scalars(select(HubCollection).order_by(HubCollection.created_at))
            )
            grants: dict[str, list[dict[str, Any]]] = {c.id: [] for c in collections}
            for grant in session.scalars(
                select(HubCollectionGrant).order_by(HubCollectionGrant.member_id)
            ):
                grants[grant.collection_id].append(
                    {"member_id": grant.member_id, "read": grant.can_read, "write": grant.can_write}
                )
            return [{**collection_json(c), "grants": grants[c.id]} for c in collections]

    def grant(self, ref: str, *, member_id: int, read: bool, write: bool) -> dict[str, Any]:
        """Set a member's access to a collection (both False: no access)."""
        with self.database.transaction() as session:
            collection = find_collection(session, ref)
            if session.get(HubMember, member_id) is None:
                raise UnknownMemberError(f"no hub member {member_id}")
            grant = grant_of(session, collection.id, member_id)
            before = None if grant is None else {"read": grant.can_read, "write": grant.can_write}
            if grant is None:
                grant = HubCollectionGrant(collection_id=collection.id, member_id=member_id)
                session.add(grant)
            grant.can_read, grant.can_write = read, write
            session.flush()
            audit.record(
                session,
                "hub.collection.grant",
                f"hub-collection:{collection.id}",
                before=before,
                after={"member_id": member_id, "read": read, "write": write},
            )
            return {
                "collection_id": collection.id,
                "member_id": member_id,
                "read": read,
                "write": write,
            }

    def revoke(self, ref: str, *, member_id: int) -> dict[str, Any]:
        return self.grant(ref, member_id=member_id, read=False, write=False)

    def visible_to(self, member_id: int | None) -> builtins.list[tuple[dict[str, Any], bool, bool]]:
        """(collection, can_read, can_write) for the collections a member has
        any grant on; ``None``: a hub admin, who reads every collection."""
        with self.database.reading() as session:
            collections = session.scalars(select(HubCollection).order_by(HubCollection.created_at))
            if member_id is None:
                return [(collection_json(c), True, False) for c in collections]
            grants = {
                g.collection_id: g
                for g in session.scalars(
                    select(HubCollectionGrant).where(HubCollectionGrant.member_id == member_id)
                )
            }
            return [
                (collection_json(c), grants[c.id].can_read, grants[c.id].can_write)
                for c in collections
                if c.id in grants and (grants[c.id].can_read or grants[c.id].can_write)
            ]


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
