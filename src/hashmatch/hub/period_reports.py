"""Members' period transparency records, signed and sent to the hub.

    envelope = signed_report(report, member_id=3, private_key=key, publish=True)   # member side
    PeriodReports(database).receive("hub-3", envelope)                             # hub side

The member signs an envelope, not the bare record: the record's schema
(``reporting/transparency/schema.json``) admits no extra property, while a
signature needs its signer named (``created_by_ref``, as a shared STIX
object names it) and the member's choice to publish its own figures must
be signed too.  The envelope is signed exactly as a shared object is
(``hub/signing.py``: a detached Ed25519 JWS over the RFC 8785 JSON)::

    {"type": "x-hashmatch-transparency-report", "created_by_ref": "identity--...",
     "publish": false, "report": {...}, "x_hashmatch_signature": "<header>..<sig>"}

The hub checks the signature against the sender's own registered keys, then
the record against the schema; one record per member and period is kept, a
resend replaces it (audited with the signature it replaced).  The member's
row is locked while it is written, so two sends at once leave one row.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.errors import InvalidFieldError, StixError
from hashmatch.hub.keys import parse_public_key
from hashmatch.hub.member_records import member_by_key
from hashmatch.hub.members import require_active
from hashmatch.hub.object_intake import member_identity
from hashmatch.hub.signing import SIGNATURE_PROPERTY, TrustedKey, key_ring, sign, verify
from hashmatch.reporting.transparency.periods import parse_period
from hashmatch.store import Database
from hashmatch.store.hub_models import HubMember, HubMemberKey
from hashmatch.store.hub_report_models import HubPeriodReport
from hashmatch.store.models import iso_utc, utcnow

ENVELOPE_TYPE = "x-hashmatch-transparency-report"
_ENVELOPE_FIELDS = frozenset({"type", "created_by_ref", "publish", "report", SIGNATURE_PROPERTY})


def signed_report(
    report: dict[str, Any], *, member_id: int, private_key: Ed25519PrivateKey, publish: bool
) -> dict[str, Any]:
    """The envelope a member sends: its record, signed as hub member ``member_id``."""
    envelope = {
        "type": ENVELOPE_TYPE,
        "created_by_ref": member_identity(member_id),
        "publish": publish,
        "report": report,
    }
    return sign(envelope, private_key)


@cache
def _validator() -> Any:
    import jsonschema

    location = resources.files("hashmatch.reporting.transparency") / "schema.json"
    schema = json.loads(location.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def check_record(report: Any) -> str:
    """The record's period name, or InvalidFieldError naming the first field at fault."""
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator().iter_errors(report))
    if error is not None:
        where = ".".join(["report", *(str(part) for part in error.absolute_path)])
        raise InvalidFieldError(f"{where}: {error.message[:300]}")
    name = str(report["period"]["name"])
    parse_period(name)
    return name


def report_json(row: HubPeriodReport, member_name: str) -> dict[str, Any]:
    return {
        "member_id": row.member_id,
        "member": member_name,
        "period": row.period,
        "kid": row.kid,
        "received_at": iso_utc(row.received_at),
        "publish": row.publish,
    }


class PeriodReports:
    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock

    def receive(self, key_name: str, envelope: Any) -> dict[str, Any]:
        """Verify, check and keep a member's signed record (a resend replaces it):
        SignatureError for a bad signature, InvalidFieldError for a bad record."""
        if not isinstance(envelope, dict) or envelope.get("type") != ENVELOPE_TYPE:
            raise StixError(f"the body is not a signed {ENVELOPE_TYPE} envelope")
        extra = set(envelope) - _ENVELOPE_FIELDS
        if extra:
            raise StixError(f"the envelope has unknown properties: {', '.join(sorted(extra))}")
        if not isinstance(envelope.get("publish"), bool):
            raise StixError("the envelope's publish must be true or false")
        with self.database.transaction() as session:
            member = member_by_key(session, key_name)
            session.refresh(member, with_for_update=True)
            require_active(member)
            verified = verify(envelope, key_ring(_own_keys(session, member)))
            period = check_record(envelope["report"])
            return self._keep(session, member, period, verified.kid, envelope)

    def _keep(
        self, session: Session, member: HubMember, period: str, kid: str, envelope: dict[str, Any]
    ) -> dict[str, Any]:
        row = session.scalar(
            select(HubPeriodReport).where(
                HubPeriodReport.member_id == member.id, HubPeriodReport.period == period
            )
        )
        before = None if row is None else report_json(row, member.name)
        if row is None:
            row = HubPeriodReport(member_id=member.id, period=period)
            session.add(row)
        row.report = envelope["report"]
        row.signature = envelope[SIGNATURE_PROPERTY]
        row.kid = kid
        row.received_at = self.clock()
        row.publish = envelope["publish"]
        session.flush()
        after = report_json(row, member.name)
        action = "hub.report.receive" if before is None else "hub.report.replace"
        audit.record(
            session, action, f"hub-member:{member.id}/report:{period}", before=before, after=after
        )
        return {**after, "replaced": before is not None}


def _own_keys(session: Session, member: HubMember) -> list[TrustedKey]:
    """The sender's keys only: a member signs its own record, no other's."""
    return [
        TrustedKey(
            parse_public_key(key.public_key), member_identity(member.id), key.revoked_at is not None
        )
        for key in session.scalars(select(HubMemberKey).where(HubMemberKey.member_id == member.id))
    ]
