"""What evidence packages, their objects and holds look like to callers
(plain JSON for the CLI, API and UI), and the retention rules as queries:
which holds are in force, which packages are due for purging.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists

from hashmatch.store.models import as_utc, iso_utc
from hashmatch.store.reporting_models import EvidenceHold, EvidenceObject, EvidencePackage


def live_holds(now: datetime) -> ColumnElement[bool]:
    """Holds in force at ``now``: not released, and open-ended or not yet over."""
    return (EvidenceHold.released_at.is_(None)) & (
        EvidenceHold.until.is_(None) | (EvidenceHold.until > now)
    )


def is_due(now: datetime) -> ColumnElement[bool]:
    held = exists().where(EvidenceHold.package_id == EvidencePackage.id, live_holds(now))
    return (EvidencePackage.status == "kept") & (EvidencePackage.retain_until <= now) & ~held


def in_force(hold: EvidenceHold, now: datetime) -> bool:
    return hold.released_at is None and (hold.until is None or as_utc(hold.until) > now)


def kept_until(
    package: EvidencePackage, holds: Sequence[EvidenceHold], now: datetime
) -> str | None:
    """When the package may be purged: its retention, or the end of its
    latest hold in force; None while an open-ended hold is on."""
    ends = [as_utc(package.retain_until)]
    for hold in holds:
        if in_force(hold, now):
            if hold.until is None:
                return None
            ends.append(as_utc(hold.until))
    return max(ends).isoformat()


def package_json(
    package: EvidencePackage, holds: Sequence[EvidenceHold], now: datetime
) -> dict[str, Any]:
    live = [hold for hold in holds if in_force(hold, now)]
    return {
        "id": package.id,
        "report_id": package.report_id,
        "status": package.status,
        "store": package.store,
        "created_at": iso_utc(package.created_at),
        "retain_until": iso_utc(package.retain_until),
        "kept_until": kept_until(package, holds, now) if package.status == "kept" else None,
        "purged_at": iso_utc(package.purged_at),
        "object_count": len(package.manifest),
        "size": sum(int(entry["size"]) for entry in package.manifest),
        "held": bool(live),
        "due": package.status == "kept" and as_utc(package.retain_until) <= now and not live,
        "holds": [hold_json(hold) for hold in holds],
    }


def object_json(row: EvidenceObject) -> dict[str, Any]:
    return {
        "name": row.name,
        "size": row.size,
        "sha256": row.sha256,
        "master_key_id": row.master_key_id,
        "created_at": iso_utc(row.created_at),
    }


def hold_json(hold: EvidenceHold) -> dict[str, Any]:
    return {
        "id": hold.id,
        "package_id": hold.package_id,
        "reason": hold.reason,
        "until": iso_utc(hold.until),
        "created_by": hold.created_by,
        "created_at": iso_utc(hold.created_at),
        "released_by": hold.released_by,
        "released_at": iso_utc(hold.released_at),
    }
