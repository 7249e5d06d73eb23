"""Drafting CyberTipline reports: one platform user's confirmed review
items (or the submissions a rule reported by itself) become one report, its
files hashed from the kept media and its details gathered
(``report_content``), in one transaction with its audit entry and the report
requests it answers.

    drafts = Drafts(database, settings, vault=lambda: vault)
    report_id = drafts.draft([12, 13], actor="user:ada", details={"screen_name": "someone"})
    drafts.take_requests(actor="worker")      # the rules' report requests, as due drafts

An item goes into one report only: ``cybertip_files.item_key`` is unique, so
of two drafts of one item at once, one wins and the other is a
ReportConflictError naming the item.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.actions.media_vault import MediaVault
from hashmatch.errors import ReportConflictError, ReportingError, UnknownReviewItemError
from hashmatch.fieldlimits import MAX_ID
from hashmatch.reporting.cybertip.environment import environment_of
from hashmatch.reporting.cybertip.report_xml import report_xml
from hashmatch.reporting.report_content import (
    ask_platform,
    check_details,
    file_name_of,
    publicly_available_of,
    report_content,
    reporter_of,
)
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.models import utcnow
from hashmatch.store.reporting_models import CybertipFile, CybertipReport
from hashmatch.store.review_models import ReviewReveal
from hashmatch.store.workflow import KeptMedia, ReportRequest, ReviewItem, Submission

log = logging.getLogger(__name__)

#: Report requests looked at per round.
REQUEST_BATCH = 500


@dataclass(frozen=True)
class _Item:
    """One thing to report, as read for a draft."""

    item_key: str
    review_item_id: int | None
    submission: Submission
    classification: str | None
    annotations: list[Any]
    viewed: bool


class Drafts:
    def __init__(
        self, database: Database, settings: Settings, *, vault: Callable[[], MediaVault]
    ) -> None:
        self.database = database
        self.settings = settings
        self.vault = vault

    # -- drafts ------------------------------------------------------------------------------

    def draft(
        self, item_ids: Sequence[int], *, actor: str, details: Mapping[str, Any] | None = None
    ) -> int:
        """One report for one platform user's confirmed review items; its id."""
        form = check_details(details)
        with self.database.reading() as session:
            items = self._review_items(session, item_ids)
        return self._draft(items, form, actor)

    def preview_xml(self, item_ids: Sequence[int], details: Mapping[str, Any] | None = None) -> str:
        """The report XML a draft of these items would submit (nothing written)."""
        form = check_details(details)
        with self.database.reading() as session:
            items = self._review_items(session, item_ids)
        reporter_of(self.settings)
        self._checked(items)
        submissions = [item.submission for item in items]
        extra = ask_platform(
            self.settings, submissions[0].user_ref, [(s.content_ref, s.id) for s in submissions]
        )
        return report_xml(report_content(self.settings, submissions, {**form, **extra})).decode()

    def _review_items(self, session: Session, item_ids: Sequence[int]) -> list[_Item]:
        wanted = list(dict.fromkeys(item_ids))
        if not wanted:
            raise ReportingError("name at least one confirmed review item to report")
        for item_id in wanted:  # no id the database could not hold reaches a query
            if not 0 <= item_id <= MAX_ID:
                raise UnknownReviewItemError(item_id)
        rows = {
            item.id: (item, submission)
            for item, submission in session.execute(
                select(ReviewItem, Submission)
                .join(Submission, Submission.id == ReviewItem.submission_id)
                .where(ReviewItem.id.in_(wanted))
            )
        }
        revealed = set(
            session.scalars(select(ReviewReveal.item_id).where(ReviewReveal.item_id.in_(wanted)))
        )
        items = []
        for item_id in wanted:
            if item_id not in rows:
                raise UnknownReviewItemError(item_id)
            item, submission = rows[item_id]
            if item.status != "closed" or item.decision != "confirm":
                raise ReportConflictError(
                    f"review item {item_id} is not confirmed: only confirmed items are reported"
                )
            items.append(
                _Item(
                    f"review:{item_id}",
                    item_id,
                    submission,
                    item.classification,
                    list(item.annotations),
                    item_id in revealed,
                )
            )
        return items

    def _checked(self, items: Sequence[_Item]) -> None:
        users = sorted({item.submission.user_ref or "" for item in items})
        if len(users) > 1:
            raise ReportingError(
                "one report is about one platform user; these items belong to "
                + ", ".join(repr(u) for u in users)
            )
        limit = self.settings.cybertip_max_files_per_report
        if len(items) > limit:
            raise ReportingError(
                f"{len(items)} items: at most {limit} go into one report "
                "(cybertip_max_files_per_report)"
            )

    def _draft(
        self, items: Sequence[_Item], form: dict[str, Any], actor: str, *, due: bool = False
    ) -> int:
        """Write the report; ``due``: for the filer to file (else a person does)."""
        reporter_of(self.settings)
        self._checked(items)
        with self.database.reading() as session:
            self._check_unreported(session, items)
            kept = {
                k.submission_id: k
                for k in session.scalars(
                    select(KeptMedia).where(
                        KeptMedia.submission_id.in_([i.submission.id for i in items])
                    )
                )
            }
        files = []
        for item in items:
            media = kept.get(item.submission.id)
            if media is None:
                raise ReportingError(
                    f"{item.item_key}: its media was not kept (or was purged): "
                    "there is no file to report"
                )
            data = self.vault().decrypt(
                media.nonce,
                media.ciphertext,
                submission_id=media.submission_id,
                key_id=media.key_id,
            )
            files.append((item, media.filename, data))
        submissions = [item.submission for item in items]
        user_ref = submissions[0].user_ref
        extra = ask_platform(self.settings, user_ref, [(s.content_ref, s.id) for s in submissions])
        report_details = {**form, **extra}
        report_xml(
            report_content(self.settings, submissions, report_details)
        )  # refuses what NCMEC would
        try:
            with self.database.transaction() as session, audit.acting_named(actor):
                report = CybertipReport(
                    environment=environment_of(self.settings.cybertip_url),
                    user_ref=user_ref,
                    details=report_details,
                    created_by=actor,
                    next_attempt_at=utcnow() if due else None,
                )
                session.add(report)
                session.flush()
                for item, filename, data in files:
                    session.add(
                        CybertipFile(
                            report_id=report.id,
                            item_key=item.item_key,
                            review_item_id=item.review_item_id,
                            submission_id=item.submission.id,
                            filename=file_name_of(item.submission, filename),
                            size=len(data),
                            md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
                            sha256=hashlib.sha256(data).hexdigest(),
                            classification=item.classification,
                            annotations=item.annotations,
                            viewed_by_esp=item.viewed,
                            publicly_available=publicly_available_of(item.submission, form),
                        )
                    )
                session.flush()
                self._answer_requests(session, items, "taken", report.id)
                audit.record(
                    session,
                    "report.draft",
                    f"report:{report.id}",
                    after={"user_ref": user_ref, "items": [item.item_key for item in items]},
                )
                return int(report.id)
        except IntegrityError:
            with self.database.reading() as session:
                self._check_unreported(session, items)
            raise

    @staticmethod
    def _check_unreported(session: Session, items: Sequence[_Item]) -> None:
        keys = [item.item_key for item in items]
        for key, report_id in session.execute(
            select(CybertipFile.item_key, CybertipFile.report_id).where(
                CybertipFile.item_key.in_(keys)
            )
        ):
            raise ReportConflictError(f"{key} is reported already, in report {report_id}")

    @staticmethod
    def _answer_requests(
        session: Session, items: Sequence[_Item], status: str, report_id: int | None
    ) -> None:
        """The pending report requests of these items: "taken" by a report, or "failed"."""
        reviewed = [i.review_item_id for i in items if i.review_item_id is not None]
        own = [i.submission.id for i in items if i.review_item_id is None]
        session.execute(
            update(ReportRequest)
            .where(
                ReportRequest.status == "pending",
                or_(
                    ReportRequest.review_item_id.in_(reviewed),
                    ReportRequest.review_item_id.is_(None) & ReportRequest.submission_id.in_(own),
                ),
            )
            .values(status=status, report_id=report_id)
        )

    def take_requests(self, *, actor: str = "worker") -> list[int]:
        """Pending report requests whose item is confirmed (or that have no
        review item), drafted by user (at most cybertip_max_files_per_report
        a report); the new reports' ids.  A request whose item is reported
        already is taken by that report; one that cannot be reported (its
        media is gone) is marked "failed", with a log line."""
        reporter_of(self.settings)  # unset: every request waits for the settings
        with self.database.reading() as session:
            rows = session.execute(
                select(ReportRequest, Submission, ReviewItem)
                .join(Submission, Submission.id == ReportRequest.submission_id)
                .outerjoin(ReviewItem, ReviewItem.id == ReportRequest.review_item_id)
                .where(ReportRequest.status == "pending")
                .order_by(ReportRequest.id)
                .limit(REQUEST_BATCH)
            ).all()
            revealed = set(
                session.scalars(
                    select(ReviewReveal.item_id).where(
                        ReviewReveal.item_id.in_([r.review_item_id for r, _, _ in rows])
                    )
                )
            )
        by_key: dict[str, _Item] = {}
        for request, submission, review in rows:
            if review is None and request.review_item_id is not None:
                continue  # its item is gone: nothing to report it from
            if review is not None and (review.status != "closed" or review.decision != "confirm"):
                continue
            if review is None:
                key = f"submission:{submission.id}"
                by_key[key] = _Item(key, None, submission, None, [], False)
            else:
                key = f"review:{review.id}"
                by_key[key] = _Item(
                    key,
                    review.id,
                    submission,
                    review.classification,
                    list(review.annotations),
                    review.id in revealed,
                )
        by_user: dict[str, list[_Item]] = {}
        for item in by_key.values():
            by_user.setdefault(item.submission.user_ref or "", []).append(item)
        limit = self.settings.cybertip_max_files_per_report
        made = []
        for user_items in by_user.values():
            for start in range(0, len(user_items), limit):
                made += self._take(user_items[start : start + limit], actor)
        return made

    def _take(self, items: list[_Item], actor: str) -> list[int]:
        """One user's items drafted; requests answered by a report already
        are taken by it, those whose media is gone fail."""
        with self.database.transaction() as session:
            reported = dict(
                session.execute(
                    select(CybertipFile.item_key, CybertipFile.report_id).where(
                        CybertipFile.item_key.in_([i.item_key for i in items])
                    )
                ).all()
            )
            for item in items:
                if item.item_key in reported:
                    self._answer_requests(session, [item], "taken", reported[item.item_key])
            kept = set(
                session.scalars(
                    select(KeptMedia.submission_id).where(
                        KeptMedia.submission_id.in_([i.submission.id for i in items])
                    )
                )
            )
            lost = [i for i in items if i.item_key not in reported and i.submission.id not in kept]
            if lost:
                self._fail_requests(session, lost, "their media was not kept (or was purged)")
        fresh = [i for i in items if i.item_key not in reported and i.submission.id in kept]
        if not fresh:
            return []
        try:
            return [self._draft(fresh, {}, actor, due=True)]
        except ReportConflictError:
            return []  # drafted meanwhile: the next round sees it
        except ReportingError as error:  # something NCMEC would refuse
            with self.database.transaction() as session:
                self._fail_requests(session, fresh, str(error))
            return []

    def _fail_requests(self, session: Session, items: Sequence[_Item], why: str) -> None:
        keys = ", ".join(item.item_key for item in items)
        log.warning("report requests of %s cannot be reported: %s", keys, why)
        self._answer_requests(session, items, "failed", None)
