"""What members' feedback says about each shared indicator: the publisher's
view of what its signals did.

    Feedback(database).signals(member_id=3)     # that member's indicators
    Feedback(database).signals(member_id=None)  # every indicator (hub admins)

Feedback is Opinion objects on indicators (``hub/object_intake.py`` keeps
each one's indicator and verdict); each member's latest opinion on an
indicator counts once, as confirmed, false_positive or disputed.  And it is
Sighting objects flagged ``x_hashmatch_reported``: a member reported matches
of the indicator to the authorities (one sighting per member and report);
``reported`` is the sum of their counts.  A revoked opinion or sighting
(the member took it back) does not count.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from hashmatch.hub.taxii_objects import taxii_timestamp
from hashmatch.store import Database
from hashmatch.store.hub_object_models import HubCollection, HubObject

VERDICTS = ("confirmed", "false_positive", "disputed", "reported")
MAX_SIGNALS = 1000


class Feedback:
    def __init__(self, database: Database) -> None:
        self.database = database

    def signals(
        self, member_id: int | None, *, after: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Indicators (latest versions, by row id above ``after``) with their
        feedback counts; ``member_id`` None: every member's."""
        query = (
            select(HubObject, HubCollection.title)
            .join(HubCollection)
            .where(
                HubObject.type == "indicator", HubObject.is_latest.is_(True), HubObject.id > after
            )
            .order_by(HubObject.id)
            .limit(min(limit, MAX_SIGNALS))
        )
        if member_id is not None:
            query = query.where(HubObject.publisher_id == member_id)
        with self.database.reading() as session:
            rows = session.execute(query).all()
            counts: dict[tuple[str, str], dict[str, int]] = {}
            ids = [(row[0].collection_id, row[0].stix_id) for row in rows]
            if ids:
                # An opinion counts once; a sighting, its count.
                opinions = session.execute(
                    select(
                        HubObject.collection_id,
                        HubObject.refers_to,
                        HubObject.verdict,
                        func.sum(func.coalesce(HubObject.sighting_count, 1)),
                    )
                    .where(
                        HubObject.type.in_(("opinion", "sighting")),
                        HubObject.verdict.in_(VERDICTS),
                        HubObject.is_latest.is_(True),
                        HubObject.revoked.is_(False),
                        HubObject.refers_to.in_({stix_id for _c, stix_id in ids}),
                    )
                    .group_by(HubObject.collection_id, HubObject.refers_to, HubObject.verdict)
                )
                for collection_id, refers_to, verdict, count in opinions:
                    counts.setdefault((collection_id, str(refers_to)), {})[str(verdict)] = int(
                        count
                    )
        return [
            {
                "row": indicator.id,
                "id": indicator.stix_id,
                "collection": title,
                "publisher_id": indicator.publisher_id,
                "version": indicator.modified,
                "date_added": taxii_timestamp(indicator.date_added),
                "revoked": indicator.revoked,
                "pattern": indicator.object.get("pattern"),
                "feedback": {
                    verdict: counts.get((indicator.collection_id, indicator.stix_id), {}).get(
                        verdict, 0
                    )
                    for verdict in VERDICTS
                },
            }
            for indicator, title in rows
        ]
