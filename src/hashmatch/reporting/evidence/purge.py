"""Purging evidence past its retention: the objects leave the store, their
rows go, the package stays as a tombstone (``status`` purged, ``purged_at``),
one ``evidence.purge`` audit entry each (as the current actor).

    Purger(database, store).purge_due(utcnow())     # [ids purged]

Each package is purged in its own transaction, after locking its row and
asking again whether it is due: a hold committed meanwhile keeps it, and of
two purgers only one purges and audits it (the other skips the locked row,
or finds it purged).  Holds lock the same row (``Evidence.hold``); SQLite
serialises writers anyway.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from hashmatch import audit
from hashmatch.errors import EvidenceError
from hashmatch.reporting.evidence.records import is_due
from hashmatch.reporting.evidence.store import EvidenceStore
from hashmatch.store import Database
from hashmatch.store.models import as_utc, iso_utc, utcnow
from hashmatch.store.reporting_models import EvidenceObject, EvidencePackage

log = logging.getLogger(__name__)


class Purger:
    def __init__(self, database: Database, store: EvidenceStore) -> None:
        self.database = database
        self.store = store

    def purge_due(self, now: datetime) -> list[int]:
        """Purge what is due at ``now``; a package whose objects cannot be
        deleted stays (logged) and is tried again next time."""
        at = as_utc(now)
        with self.database.reading() as session:
            candidates = list(
                session.scalars(
                    select(EvidencePackage.id).where(is_due(at)).order_by(EvidencePackage.id)
                )
            )
        purged = []
        for package_id in candidates:
            try:
                if self.purge(package_id, at):
                    purged.append(package_id)
            except (OSError, EvidenceError) as error:
                log.warning("evidence package %s was not purged: %s", package_id, error)
        return purged

    def purge(self, package_id: int, now: datetime) -> bool:
        """Purge one package if it is still due once locked; whether it was."""
        with self.database.transaction() as session:
            package = session.scalar(
                select(EvidencePackage)
                .where(EvidencePackage.id == package_id)
                .with_for_update(skip_locked=True)
            )
            still_due = session.scalar(
                select(EvidencePackage.id).where(EvidencePackage.id == package_id, is_due(now))
            )
            if package is None or still_due is None:
                return False
            objects = session.scalars(
                select(EvidenceObject).where(EvidenceObject.package_id == package_id)
            ).all()
            for row in objects:
                self.store.delete(row.path)
                session.delete(row)
            package.status = "purged"
            package.purged_at = utcnow()
            audit.record(
                session,
                "evidence.purge",
                f"evidence:{package_id}",
                before={
                    "report": package.report_id,
                    "objects": len(objects),
                    "retain_until": iso_utc(package.retain_until),
                },
            )
        return True
