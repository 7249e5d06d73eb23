"""Annual dues and the yearly re-attestation, and the check that lapses a
member's sharing access when either is overdue.

    dues = Dues(database, grace_days=30)
    dues.record(3, invoice="INV-2026-014", due=datetime(2026, 3, 1, tzinfo=UTC), paid=False)
    dues.reattest(3)                   # the criteria attested again: due in a year
    dues.lapse_check()                 # [{"member_id": 3, "reason": "..."}]

Dues are recorded, not processed: an invoice reference, a due date, paid or
not, and optionally the member's own grace period.  The lapse check turns an
``active`` member ``lapsed`` when its dues stay unpaid past the due date plus
the grace days, or its re-attestation is past due; the member is told (a
notice) and the audit log says why.  ``hashmatch serve`` runs it every
``hub_lapse_check_minutes`` (:func:`lapse_checking`); ``hashmatch hub
lapse-check`` runs it at once.  Each lapse locks the member's row and looks
again, so two servers checking at once lapse a member once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from hashmatch import audit
from hashmatch.errors import InvalidFieldError
from hashmatch.fieldlimits import check_text
from hashmatch.hub.member_records import (
    ATTESTATION_PERIOD,
    full_json,
    locked_member,
    notify,
)
from hashmatch.rounds import Rounds
from hashmatch.store import Database
from hashmatch.store.hub_models import HubMember
from hashmatch.store.models import as_utc, iso_utc, utcnow

INVOICE_CHARS = 100
#: The longest grace period a member may be given.
MAX_GRACE_DAYS = 3650


def lapse_reason(member: HubMember, now: datetime, default_grace_days: int) -> str | None:
    """Why the member's sharing access should lapse now, or None."""
    if member.dues_due is not None and not member.dues_paid:
        grace = member.dues_grace_days
        ends = as_utc(member.dues_due) + timedelta(
            days=default_grace_days if grace is None else grace
        )
        if now > ends:
            return (
                f"annual dues (invoice {member.dues_invoice or 'not given'}) were due "
                f"{iso_utc(member.dues_due)} and are unpaid past the grace period "
                f"(ended {ends.isoformat()})"
            )
    if now > as_utc(member.reattest_due):
        return (
            f"the yearly re-attestation of the membership criteria was due "
            f"{iso_utc(member.reattest_due)}"
        )
    return None


class Dues:
    def __init__(
        self, database: Database, *, grace_days: int, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.database = database
        self.grace_days = grace_days
        self.clock = clock

    def record(
        self,
        member_id: int,
        *,
        invoice: str,
        due: datetime,
        paid: bool,
        grace_days: int | None = None,
    ) -> dict[str, Any]:
        """Record the member's dues for the year (the invoice, when due, paid or not)."""
        check_text("invoice", invoice, max_chars=INVOICE_CHARS, one_line=True)
        if grace_days is not None and not 0 <= grace_days <= MAX_GRACE_DAYS:
            raise InvalidFieldError(f"grace_days must be 0 to {MAX_GRACE_DAYS}")
        with self.database.transaction() as session:
            member = locked_member(session, member_id)
            before = _dues(member)
            member.dues_invoice = invoice or None
            member.dues_due = as_utc(due)
            member.dues_paid = paid
            member.dues_grace_days = grace_days
            session.flush()
            audit.record(
                session,
                "hub.member.dues",
                f"hub-member:{member_id}",
                before=before,
                after=_dues(member),
            )
            return full_json(session, member, self.clock())

    def reattest(self, member_id: int) -> dict[str, Any]:
        """The member attested the criteria again: the next is due a year from now."""
        now = self.clock()
        with self.database.transaction() as session:
            member = locked_member(session, member_id)
            before = {"reattest_due": iso_utc(member.reattest_due)}
            member.reattest_due = now + ATTESTATION_PERIOD
            session.flush()
            audit.record(
                session,
                "hub.member.reattest",
                f"hub-member:{member_id}",
                before=before,
                after={"reattest_due": iso_utc(member.reattest_due)},
            )
            return full_json(session, member, now)

    def lapse_check(self) -> list[dict[str, Any]]:
        """Lapse every active member whose dues or re-attestation are overdue."""
        now = self.clock()
        with self.database.reading() as session:
            active = list(session.scalars(select(HubMember).where(HubMember.state == "active")))
        due = [m.id for m in active if lapse_reason(m, now, self.grace_days) is not None]
        lapsed = []
        for member_id in due:
            with audit.acting_as(audit.SYSTEM), self.database.transaction() as session:
                member = locked_member(session, member_id)
                reason = lapse_reason(member, now, self.grace_days)
                if member.state != "active" or reason is None:
                    continue  # changed since it was read: another check, or an admin
                member.state = "lapsed"
                member.state_reason = f"Sharing access lapsed: {reason}."
                notify(session, member, "lapsed", member.state_reason, now)
                session.flush()
                audit.record(
                    session,
                    "hub.member.lapse",
                    f"hub-member:{member_id}",
                    before={"state": "active"},
                    after={"state": "lapsed", "reason": reason},
                )
                lapsed.append({"member_id": member_id, "name": member.name, "reason": reason})
        return lapsed


def _dues(member: HubMember) -> dict[str, Any]:
    return {
        "invoice": member.dues_invoice,
        "due": iso_utc(member.dues_due),
        "paid": member.dues_paid,
        "grace_days": member.dues_grace_days,
    }


def lapse_checking(dues: Dues, *, every_minutes: float) -> Rounds:
    """The lapse check as ``hashmatch serve``'s background job."""

    def one_pass() -> bool:
        dues.lapse_check()
        return False  # one pass per interval, whatever it found

    return Rounds(
        one_pass,
        name="hashmatch-hub-lapse",
        what="checking hub members' dues and re-attestation",
        poll_seconds=every_minutes * 60,
    )
