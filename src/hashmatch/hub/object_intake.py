"""Members' posts of signed STIX objects into a hub collection (TAXII's
Add Objects), each object verified before the hub keeps it.

    intake = ObjectIntake(database)
    status = intake.post("hub-7", collection_id, {"objects": [signed, ...]})

For each object, in order: it parses as a hashmatch Identity, Indicator,
Opinion or Sighting (``hub/stix.py``); its publisher is the posting member's Identity
(:func:`member_identity`); its signature verifies against the member's
registered, unrevoked keys (``hub/signing.py``); its signal fits the
collection's kind, and a ``keyed`` collection takes email addresses and
usernames only as keyed hashes; an earlier version is the same member's and
not revoked (a revoked object is final); an opinion's or a sighting's
indicator is in the collection.  A refused object is a failure in the status resource, with the
reason, and ``hub.object_rejected`` in the audit log; the others are kept,
as received, signature included, so receivers verify it themselves.  A
version already held is a success and stored once.

Objects are verified before the transaction; the transaction locks the
collection row, which orders writers, and hands each object the next
``date_added`` of the collection's clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.errors import CollectionAccessError, HubError, StixError, UnknownHubObjectError
from hashmatch.hub.collections import find_collection, grant_of
from hashmatch.hub.keys import parse_public_key
from hashmatch.hub.member_records import member_by_key
from hashmatch.hub.members import require_active
from hashmatch.hub.signing import TrustedKey, key_ring, verify
from hashmatch.hub.stix import (
    identity_id,
    parse_identity,
    parse_indicator,
    parse_opinion,
    parse_sighting,
)
from hashmatch.hub.taxii_objects import micros, taxii_timestamp
from hashmatch.signals import names
from hashmatch.store import Database
from hashmatch.store.hub_models import HubMember, HubMemberKey
from hashmatch.store.hub_object_models import HubCollection, HubObject, HubObjectStatus
from hashmatch.store.models import as_utc, utcnow

#: The most objects one envelope may carry.
MAX_OBJECTS = 1000
#: The signal types each collection kind takes.
KIND_TYPES = {
    "hashes": frozenset({names.MD5, names.SHA256, names.PDQ, names.VPDQ}),
    "signals": frozenset({names.URL, names.EMAIL, names.USERNAME, names.KEYWORD}),
}
_PERSONAL = frozenset({names.EMAIL, names.USERNAME})


def member_identity(member_id: int) -> str:
    """The STIX Identity id a hub member publishes as (``created_by_ref``)."""
    return identity_id(f"hub-member:{member_id}")


@dataclass(frozen=True)
class Candidate:
    """An object that verified and parsed, ready for the collection's checks."""

    stix_id: str
    type: str
    modified: str
    modified_us: int
    object: dict[str, Any]
    revoked: bool
    refers_to: str | None = None
    verdict: str | None = None
    sighting_count: int | None = None


class RefusedObjectError(Exception):
    """One object's refusal; the message goes into the status resource."""


def status_json(status: HubObjectStatus) -> dict[str, Any]:
    """A TAXII 2.1 status resource."""
    return {
        "id": status.id,
        "status": status.status,
        "request_timestamp": taxii_timestamp(micros(as_utc(status.request_timestamp))),
        "total_count": status.total_count,
        "success_count": status.success_count,
        "failure_count": status.failure_count,
        "pending_count": status.pending_count,
        "successes": status.successes,
        "failures": status.failures,
        "pendings": [],
    }


class ObjectIntake:
    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock

    def post(self, key_name: str, ref: str, envelope: Any) -> dict[str, Any]:
        """Verify and keep the envelope's objects; the status resource."""
        objects = _objects_of(envelope)
        with self.database.reading() as session:
            member = member_by_key(session, key_name)
            require_active(member)
            collection = find_collection(session, ref)
            grant = grant_of(session, collection.id, member.id)
            if grant is None or not grant.can_write:
                raise CollectionAccessError(f"no write grant on collection {collection.title!r}")
            ring = key_ring(_trusted_keys(session))
            kind, keyed_only = collection.kind, collection.identifiers == "keyed"
            collection_id, member_id = collection.id, member.id
        publisher = member_identity(member_id)
        checked: list[Candidate | tuple[dict[str, str], str]] = []
        for obj in objects:
            try:
                checked.append(_check(obj, publisher, ring, kind, keyed_only))
            except (RefusedObjectError, HubError) as refusal:
                checked.append((_version_of(obj), str(refusal)))
        now = self.clock()
        with self.database.transaction() as session:
            locked = session.scalar(
                select(HubCollection).where(HubCollection.id == collection_id).with_for_update()
            )
            if locked is None:
                raise CollectionAccessError("the collection was deleted")
            successes, failures = [], []
            for item in checked:
                if isinstance(item, Candidate):
                    try:
                        _keep(session, locked, member_id, item, micros(now))
                        successes.append({"id": item.stix_id, "version": item.modified})
                        continue
                    except RefusedObjectError as refusal:
                        item = ({"id": item.stix_id, "version": item.modified}, str(refusal))
                failures.append({**item[0], "message": item[1]})
                audit.record(
                    session,
                    "hub.object_rejected",
                    f"hub-collection:{collection_id}",
                    after={**item[0], "member_id": member_id, "reason": item[1]},
                )
            status = HubObjectStatus(
                id=str(uuid.uuid4()),
                collection_id=collection_id,
                member_id=member_id,
                status="complete",
                request_timestamp=now,
                total_count=len(checked),
                success_count=len(successes),
                failure_count=len(failures),
                pending_count=0,
                successes=successes,
                failures=failures,
            )
            session.add(status)
            session.flush()
            return status_json(status)

    def status(self, key_name: str | None, status_id: str) -> dict[str, Any]:
        """A status resource, for the member that posted it (None: a hub admin)."""
        with self.database.reading() as session:
            status = session.get(HubObjectStatus, status_id[:36])
            if (
                key_name is not None
                and status is not None
                and member_by_key(session, key_name).id != status.member_id
            ):
                status = None
            if status is None:
                raise UnknownHubObjectError(f"no status {status_id[:40]!r}")
            return status_json(status)


def _objects_of(envelope: Any) -> list[Any]:
    if not isinstance(envelope, dict) or not isinstance(envelope.get("objects"), list):
        raise StixError('the body must be a TAXII envelope: {"objects": [...]}')
    objects: list[Any] = envelope["objects"]
    if not objects:
        raise StixError("the envelope has no objects")
    if len(objects) > MAX_OBJECTS:
        raise StixError(f"an envelope carries at most {MAX_OBJECTS} objects")
    return objects


def _trusted_keys(session: Session) -> list[TrustedKey]:
    """Every member's keys, revoked ones marked: a wrong member's key or a
    revoked one is named as such, not as unknown."""
    return [
        TrustedKey(parse_public_key(key.public_key), member_identity(key.member_id), revoked)
        for key, revoked in session.execute(
            select(HubMemberKey, HubMemberKey.revoked_at.is_not(None)).join(HubMember)
        )
    ]


def _version_of(obj: Any) -> dict[str, str]:
    """The id and version a failure names, as far as the object says them."""
    if not isinstance(obj, dict):
        return {"id": "", "version": ""}
    return {"id": str(obj.get("id", ""))[:100], "version": str(obj.get("modified", ""))[:40]}


def _check(
    obj: Any, publisher: str, ring: dict[str, TrustedKey], kind: str, keyed_only: bool
) -> Candidate:
    if not isinstance(obj, dict):
        raise RefusedObjectError("an object must be a JSON object")
    creator = obj.get("id") if obj.get("type") == "identity" else obj.get("created_by_ref")
    if creator != publisher:
        raise RefusedObjectError(f"the publisher must be the posting member ({publisher})")
    verified = verify(obj, ring)
    kind_of = obj.get("type")
    refers_to = verdict = None
    count = None
    if kind_of == "indicator":
        signal = parse_indicator(obj)
        version, revoked = signal.modified, signal.revoked
        if signal.signal_type not in KIND_TYPES[kind]:
            raise RefusedObjectError(
                f"a {kind} collection takes no {signal.signal_type} indicators"
            )
        if keyed_only and signal.signal_type in _PERSONAL and signal.key_id is None:
            raise RefusedObjectError(
                f"this collection takes {signal.signal_type} values only as keyed hashes "
                "(hub/identifiers.py), not raw"
            )
    elif kind_of == "opinion":
        opinion = parse_opinion(obj)
        version, revoked = opinion.modified, opinion.revoked
        refers_to, verdict = opinion.indicator_id, opinion.verdict
    elif kind_of == "sighting":
        sighting = parse_sighting(obj)
        version, revoked = sighting.modified, sighting.revoked
        refers_to, count = sighting.indicator_id, sighting.count
        verdict = "reported" if sighting.reported else None
    elif kind_of == "identity":
        identity = parse_identity(obj)
        version, revoked = identity.modified, identity.revoked
    else:
        raise RefusedObjectError(
            f"the hub keeps identity, indicator, opinion and sighting objects, not {kind_of!r}"
        )
    return Candidate(
        stix_id=str(obj["id"]),
        type=str(kind_of),
        modified=str(obj["modified"]),
        modified_us=micros(version),
        object=verified.object,
        revoked=revoked,
        refers_to=refers_to,
        verdict=verdict,
        sighting_count=count,
    )


def _keep(
    session: Session, collection: HubCollection, member_id: int, item: Candidate, now_us: int
) -> None:
    """Store one checked object under the collection's lock, or RefusedObjectError."""
    held = session.execute(
        select(HubObject.publisher_id, HubObject.modified_us, HubObject.revoked).where(
            HubObject.collection_id == collection.id, HubObject.stix_id == item.stix_id
        )
    ).all()
    if any(row.publisher_id != member_id for row in held):
        raise RefusedObjectError("another member published this object id")
    if any(row.modified_us == item.modified_us for row in held):
        return  # this version is held already: a repeat post changes nothing
    if any(row.revoked for row in held):
        raise RefusedObjectError("the object is revoked: STIX allows it no new versions")
    if item.refers_to is not None:
        indicator = session.scalar(
            select(func.count())
            .select_from(HubObject)
            .where(HubObject.collection_id == collection.id, HubObject.stix_id == item.refers_to)
        )
        if not indicator:
            raise RefusedObjectError(
                f"the {item.type}'s indicator {item.refers_to} is not in this collection"
            )
    latest = all(row.modified_us < item.modified_us for row in held)
    if latest and held:
        session.execute(
            update(HubObject)
            .where(HubObject.collection_id == collection.id, HubObject.stix_id == item.stix_id)
            .values(is_latest=False)
        )
    collection.last_added = max(collection.last_added + 1, now_us)
    session.add(
        HubObject(
            collection_id=collection.id,
            stix_id=item.stix_id,
            type=item.type,
            modified=item.modified,
            modified_us=item.modified_us,
            date_added=collection.last_added,
            publisher_id=member_id,
            object=item.object,
            revoked=item.revoked,
            is_latest=latest,
            refers_to=item.refers_to,
            verdict=item.verdict,
            sighting_count=item.sighting_count,
        )
    )
    session.flush()
