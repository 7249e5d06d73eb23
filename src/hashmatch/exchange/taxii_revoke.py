"""Retracting what this member shared: ``hashmatch hub revoke``.

    outcomes = revoke_indicators(database, policy, ["indicator--..."], exchange="hub")
    [outcome.to_json() for outcome in outcomes]   # {"id", "outcome", "message"}

Each indicator is read back from the collection (its newest version), and
posted again as its next version with ``revoked: true``, signed with the
member's key (docs/hub-stix.md, "Retraction").  Every member's next pull
removes the content it made.  Only the publisher may revoke: an indicator
another member published is refused here before the hub would refuse it.
An indicator already revoked, or one the collection does not hold, is said
so and nothing is sent for it.  Each run is one ``hub.revoke`` audit entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hashmatch import audit
from hashmatch.exchange.taxii_share import open_taxii
from hashmatch.hub.patterns import PatternSignal
from hashmatch.hub.signing import sign
from hashmatch.hub.stix import indicator_id, revoke
from hashmatch.media.download import UrlPolicy
from hashmatch.store import Database
from hashmatch.store.models import utcnow

REVOKE_ACTION = "hub.revoke"


@dataclass(frozen=True)
class Revocation:
    id: str
    #: revoked, refused (by the server), already_revoked, not_found or not_ours.
    outcome: str
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "outcome": self.outcome, "message": self.message}


def revoke_indicators(
    database: Database,
    policy: UrlPolicy,
    indicator_ids: Sequence[str] = (),
    *,
    signals: Sequence[PatternSignal] = (),
    exchange: str | None = None,
    collection: str | None = None,
    actor: audit.Actor | None = None,
) -> list[Revocation]:
    """Revoke each of ``indicator_ids``, and this member's Indicator of each
    of ``signals``, in the exchange's collection (or ``collection``);
    ExchangeError when the server cannot be asked."""
    info, source = open_taxii(database, policy, exchange, collection)
    key, identity = source.signer()
    wanted = list(dict.fromkeys([*indicator_ids, *(indicator_id(s, identity) for s in signals)]))
    outcomes: dict[str, Revocation] = {}
    objects: list[dict[str, Any]] = []
    for object_id in wanted:
        current = source.latest_version(object_id)
        if current is None:
            outcomes[object_id] = Revocation(
                object_id, "not_found", "the collection holds no object by this id"
            )
        elif current.get("created_by_ref") != identity:
            outcomes[object_id] = Revocation(
                object_id, "not_ours", f"published by {str(current.get('created_by_ref'))[:80]}"
            )
        elif current.get("revoked") is True:
            outcomes[object_id] = Revocation(object_id, "already_revoked")
        else:
            objects.append(sign(revoke(current, modified=utcnow()), key))
    failures = source.post_objects(objects) if objects else {}
    for obj in objects:
        why = failures.get(obj["id"])
        outcomes[obj["id"]] = Revocation(obj["id"], "refused" if why else "revoked", why)
    done = [outcomes[object_id] for object_id in wanted]
    with database.transaction() as session:
        audit.record(
            session,
            REVOKE_ACTION,
            info.source,
            after={
                "collection": source.config.option("collection"),
                "outcomes": [outcome.to_json() for outcome in done],
            },
            actor=actor,
        )
    return done
