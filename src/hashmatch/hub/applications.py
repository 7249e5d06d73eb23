"""Applications to join the hub, checked against the published criteria.

    applications = Applications(database)
    view, token = applications.submit(form)          # the applicant keeps the token
    applications.status(view["id"], token)           # state and any rejection reason
    for key in CRITERION_KEYS:
        applications.check(view["id"], key, note="seen their ToS")   # a named admin each
    approval = applications.approve(view["id"])      # the member, and its API key, shown once

An application is ``submitted`` until an admin approves it (only once every
criterion is checked off) or rejects it with a reason the applicant sees.
Whoever acts is the audit log's current actor (``key:<name>``,
``user:<name>``, ``cli:<os user>``), and that name is what is recorded on a
check or a decision.  Every change locks the application's row first, so two
admins deciding at once are served one after the other and the second finds
it decided (a 409), and two checks of one criterion cannot both land.

The status token is random, shown once, and stored as its SHA-256; a wrong
token answers as an unknown id, so ids cannot be probed with it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.errors import (
    InvalidFieldError,
    MembershipConflictError,
    MembershipError,
    UnknownApplicationError,
)
from hashmatch.fieldlimits import check_text
from hashmatch.hub.criteria import CRITERIA, CRITERION_KEYS
from hashmatch.hub.member_records import member_json
from hashmatch.hub.members import admit
from hashmatch.store import Database
from hashmatch.store.hub_models import APPLICATION_STATES, HubApplication, HubCriterionCheck
from hashmatch.store.models import iso_utc, utcnow

#: Characters of each field, as the columns and the form take them.
NAME_CHARS = 200
URL_CHARS = 500
EMAIL_CHARS = 320
TEXT_CHARS = 2000
#: Applications per page of a listing, at most.
MAX_PAGE = 500
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class ApplicationForm:
    """What an organisation sends: who it is, and its evidence for each
    criterion (criterion key -> a link or text)."""

    organisation: str
    website: str
    product: str
    contact_name: str
    contact_email: str
    evidence: Mapping[str, str]

    def check(self) -> None:
        """InvalidFieldError naming the first field that cannot be taken."""
        for field, value in (
            ("organisation", self.organisation),
            ("contact_name", self.contact_name),
        ):
            _required(field, value, NAME_CHARS, one_line=True)
        _required("website", self.website, URL_CHARS, one_line=True)
        parts = urlsplit(self.website.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidFieldError("website must be an http:// or https:// address")
        _required("contact_email", self.contact_email, EMAIL_CHARS, one_line=True)
        if not _EMAIL.match(self.contact_email.strip()):
            raise InvalidFieldError("contact_email must be an email address")
        _required("product", self.product, TEXT_CHARS)
        unknown = sorted(set(self.evidence) - set(CRITERION_KEYS))
        if unknown:
            raise InvalidFieldError(
                f"evidence names unknown criteria {unknown}: they are {', '.join(CRITERION_KEYS)}"
            )
        for key in CRITERION_KEYS:
            _required(f"evidence.{key}", self.evidence.get(key, ""), TEXT_CHARS)


def _required(field: str, value: str, max_chars: int, *, one_line: bool = False) -> None:
    check_text(field, value, max_chars=max_chars, one_line=one_line)
    if not value.strip():
        raise InvalidFieldError(f"{field} is required")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def applicant_view(application: HubApplication) -> dict[str, Any]:
    """What the applicant sees with its token: the state and any rejection reason."""
    return {
        "id": application.id,
        "organisation": application.organisation,
        "state": application.state,
        "rejection_reason": application.rejection_reason,
        "submitted_at": iso_utc(application.submitted_at),
        "decided_at": iso_utc(application.decided_at),
    }


def application_json(
    application: HubApplication, checks: list[HubCriterionCheck]
) -> dict[str, Any]:
    """An application as hub admins see it, each criterion with its check."""
    checked = {check.criterion: check for check in checks}
    criteria = []
    for criterion in CRITERIA:
        check = checked.get(criterion.key)
        criteria.append(
            {
                "criterion": criterion.key,
                "title": criterion.title,
                "evidence": application.attestations.get(criterion.key, ""),
                "checked_by": check.checked_by if check else None,
                "checked_at": iso_utc(check.checked_at) if check else None,
                "note": check.note if check else "",
            }
        )
    return {
        **applicant_view(application),
        "website": application.website,
        "product": application.product,
        "contact_name": application.contact_name,
        "contact_email": application.contact_email,
        "criteria": criteria,
        "all_checked": len(checked) == len(CRITERIA),
        "decided_by": application.decided_by,
    }


def locked_application(session: Session, application_id: int) -> HubApplication:
    """The application, its row locked until the transaction ends (SQLite's
    writers already take turns)."""
    application = session.scalar(
        select(HubApplication).where(HubApplication.id == application_id).with_for_update()
    )
    if application is None:
        raise UnknownApplicationError(f"no application {application_id}")
    return application


def _undecided(session: Session, application_id: int) -> HubApplication:
    application = locked_application(session, application_id)
    if application.state != "submitted":
        raise MembershipConflictError(
            f"application {application_id} was {application.state} already "
            f"(by {application.decided_by})"
        )
    return application


def _checks(session: Session, application_id: int) -> list[HubCriterionCheck]:
    return list(
        session.scalars(
            select(HubCriterionCheck).where(HubCriterionCheck.application_id == application_id)
        )
    )


class Applications:
    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock

    def submit(self, form: ApplicationForm) -> tuple[dict[str, Any], str]:
        """Take an application: what the applicant sees, and its status token (once)."""
        form.check()
        token = secrets.token_urlsafe(32)
        with self.database.transaction() as session:
            application = HubApplication(
                organisation=form.organisation.strip(),
                website=form.website.strip(),
                product=form.product.strip(),
                contact_name=form.contact_name.strip(),
                contact_email=form.contact_email.strip(),
                attestations={key: form.evidence[key].strip() for key in CRITERION_KEYS},
                state="submitted",
                token_hash=_token_hash(token),
                submitted_at=self.clock(),
            )
            session.add(application)
            session.flush()
            audit.record(
                session,
                "hub.application.submit",
                f"hub-application:{application.id}",
                after={"organisation": application.organisation, "website": application.website},
            )
            return applicant_view(application), token

    def status(self, application_id: int, token: str) -> dict[str, Any]:
        """The applicant's view, given the token it was handed."""
        with self.database.reading() as session:
            application = session.get(HubApplication, application_id)
            if application is None or not hmac.compare_digest(
                application.token_hash, _token_hash(token)
            ):
                raise UnknownApplicationError(
                    f"no application {application_id} with that status token"
                )
            return applicant_view(application)

    def list(
        self, *, state: str | None = None, before: int | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Applications, newest first."""
        if state is not None and state not in APPLICATION_STATES:
            raise MembershipError(f"state must be one of {', '.join(APPLICATION_STATES)}")
        query = (
            select(HubApplication).order_by(HubApplication.id.desc()).limit(min(limit, MAX_PAGE))
        )
        if state is not None:
            query = query.where(HubApplication.state == state)
        if before is not None:
            query = query.where(HubApplication.id < before)
        with self.database.reading() as session:
            found = list(session.scalars(query))
            checks: dict[int, list[HubCriterionCheck]] = {row.id: [] for row in found}
            for check in session.scalars(
                select(HubCriterionCheck).where(HubCriterionCheck.application_id.in_(checks))
            ):
                checks[check.application_id].append(check)
            return [application_json(row, checks[row.id]) for row in found]

    def get(self, application_id: int) -> dict[str, Any]:
        with self.database.reading() as session:
            application = session.get(HubApplication, application_id)
            if application is None:
                raise UnknownApplicationError(f"no application {application_id}")
            return application_json(application, _checks(session, application_id))

    def check(self, application_id: int, criterion: str, *, note: str = "") -> dict[str, Any]:
        """Check one criterion off as the current actor, with a note of what was seen."""
        if criterion not in CRITERION_KEYS:
            raise MembershipError(
                f"unknown criterion {criterion!r}: they are {', '.join(CRITERION_KEYS)}"
            )
        check_text("note", note, max_chars=TEXT_CHARS)
        admin = audit.current_actor().name
        with self.database.transaction() as session:
            application = _undecided(session, application_id)
            done = {check.criterion: check for check in _checks(session, application_id)}
            if criterion in done:
                raise MembershipConflictError(
                    f"criterion {criterion!r} of application {application_id} was checked "
                    f"already by {done[criterion].checked_by}"
                )
            check = HubCriterionCheck(
                application_id=application_id,
                criterion=criterion,
                checked_by=admin,
                checked_at=self.clock(),
                note=note,
            )
            session.add(check)
            session.flush()
            audit.record(
                session,
                "hub.application.check",
                f"hub-application:{application_id}",
                after={"criterion": criterion, "note": note},
            )
            return application_json(application, [*done.values(), check])

    def approve(self, application_id: int) -> dict[str, Any]:
        """Approve an application whose every criterion is checked: the new
        member, and its hub API key (``api_key``), shown this once."""
        with self.database.transaction() as session:
            application = _undecided(session, application_id)
            checks = _checks(session, application_id)
            missing = [key for key in CRITERION_KEYS if key not in {c.criterion for c in checks}]
            if missing:
                raise MembershipConflictError(
                    f"application {application_id} cannot be approved before every criterion "
                    f"is checked; not yet: {', '.join(missing)}"
                )
            now = self.clock()
            self._decide(session, application, "approved", now)
            member, secret = admit(session, application, now)
            audit.record(
                session,
                "hub.application.approve",
                f"hub-application:{application_id}",
                after={"state": "approved", "member_id": member.id},
            )
            return {
                "application": application_json(application, checks),
                "member": member_json(member, [], [], now),
                "api_key": secret,
            }

    def reject(self, application_id: int, reason: str) -> dict[str, Any]:
        """Reject an application; the applicant sees ``reason``."""
        _required("reason", reason, TEXT_CHARS)
        with self.database.transaction() as session:
            application = _undecided(session, application_id)
            application.rejection_reason = reason.strip()
            self._decide(session, application, "rejected", self.clock())
            audit.record(
                session,
                "hub.application.reject",
                f"hub-application:{application_id}",
                after={"state": "rejected", "reason": application.rejection_reason},
            )
            return application_json(application, _checks(session, application_id))

    def _decide(
        self, session: Session, application: HubApplication, state: str, now: datetime
    ) -> None:
        application.state = state
        application.decided_by = audit.current_actor().name
        application.decided_at = now
        session.flush()
