"""CyberTipline reports as the server keeps them: drafted from one platform
user's confirmed review items (``drafts``), filed step by step (``filing``),
listed, shown, retried and retracted.

    reports = Reports(database, settings)
    report_id = reports.draft([12, 13], actor="user:ada", details={"screen_name": "someone"})
    reports.file(report_id)["status"]        # "finished", or where it stopped
    reports.take_requests()                  # the rules' report requests, as drafts

An item (a review item, or a submission a rule reported by itself) goes into
one report only: ``cybertip_files.item_key`` is unique, so of two drafts of
one item at once, one wins and the other is a ReportConflictError.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.actions.media_vault import MediaVault, load_vault
from hashmatch.errors import ReportConflictError, ReportingError, UnknownReportError
from hashmatch.reporting.cybertip.client import CybertipClient
from hashmatch.reporting.cybertip.environment import environment_of
from hashmatch.reporting.cybertip.report_xml import report_xml
from hashmatch.reporting.drafts import Drafts
from hashmatch.reporting.filing import OPEN_AT_NCMEC, Filing, derived_status
from hashmatch.reporting.leases import ACTIVE
from hashmatch.reporting.preservation import Preserve, call_json
from hashmatch.reporting.report_content import report_content
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.models import iso_utc, utcnow
from hashmatch.store.reporting_models import (
    CybertipCall,
    CybertipFile,
    CybertipReport,
    EvidencePackage,
)
from hashmatch.store.workflow import KeptMedia, Submission

#: Most reports a page of :meth:`Reports.list` holds.
MAX_PAGE = 500
NOT_RETRACTABLE = (
    "report {id} is finished: NCMEC does not retract a finished report; to correct a "
    "mistaken one, contact NCMEC's CyberTipline with its report id ({ncmec})"
)


class Reports:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        vault: MediaVault | None = None,
        client: CybertipClient | None = None,
        preserve: Preserve | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self._vault = vault
        self.client = client or CybertipClient(
            settings.cybertip_url,
            settings.cybertip_username,
            settings.cybertip_password.get_secret_value(),
            timeout=settings.cybertip_timeout_seconds,
            allow_private=settings.url_allow_private,
        )
        self.filing = Filing(
            database,
            client=self.client,
            build_xml=self._report_xml,
            load_files=self._file_bytes,
            preserve=preserve or self._preserve,
            environment=environment_of(settings.cybertip_url),
            keep_confirmed=timedelta(days=settings.report_keep_confirmed_days),
        )
        self.drafts = Drafts(database, settings, vault=lambda: self.vault)

    @property
    def vault(self) -> MediaVault:
        if self._vault is None:
            self._vault = load_vault(self.settings)
            if self._vault is None:
                raise ReportingError(
                    "no media key is set (media_key_file): kept media cannot be read"
                )
        return self._vault

    def _preserve(self, report_id: int, objects: Sequence[tuple[str, bytes]], actor: str) -> int:
        from hashmatch.reporting.evidence import Evidence

        evidence = Evidence(self.database, self.settings)
        return int(evidence.preserve(report_id, objects, actor=actor))

    # -- drafts ------------------------------------------------------------------------------

    def draft(
        self, item_ids: Sequence[int], *, actor: str, details: Mapping[str, Any] | None = None
    ) -> int:
        """One report for one platform user's confirmed review items; its id."""
        return self.drafts.draft(item_ids, actor=actor, details=details)

    def preview_xml(self, item_ids: Sequence[int], details: Mapping[str, Any] | None = None) -> str:
        """The report XML a draft of these items would submit (nothing written)."""
        return self.drafts.preview_xml(item_ids, details)

    def take_requests(self, *, actor: str = "worker") -> list[int]:
        """Pending report requests with a confirmed item (or none), as due drafts; their ids."""
        return self.drafts.take_requests(actor=actor)

    # -- filing ------------------------------------------------------------------------------------

    def file(self, report_id: int) -> dict[str, Any]:
        """File the report now, as far as it goes; the report as it stands."""
        holder = self.filing.leases.acquire(report_id)
        try:
            self.filing.run(report_id, holder)
        finally:
            self.filing.leases.release(report_id, holder)
        return self.get(report_id)

    def retry(self, report_id: int, *, actor: str) -> dict[str, Any]:
        """A failed report (or one waiting to retry): filed again now, from where it stood."""
        holder = self.filing.leases.acquire(report_id)
        try:
            with self.database.transaction() as session, audit.acting_named(actor):
                row = self._row(session, report_id)
                if row.status not in (*ACTIVE, "failed"):
                    raise ReportConflictError(
                        f"report {report_id} is {row.status}: nothing to retry"
                    )
                files = list(
                    session.scalars(select(CybertipFile).where(CybertipFile.report_id == report_id))
                )
                before = {"status": row.status, "error_kind": row.error_kind}
                row.status = derived_status(row, files) if row.status == "failed" else row.status
                row.attempts = 0
                row.last_error = row.error_kind = None
                row.next_attempt_at = utcnow()
                audit.record(
                    session,
                    "report.retry",
                    f"report:{report_id}",
                    before=before,
                    after={"status": row.status},
                )
            with audit.acting_named(actor):
                self.filing.run(report_id, holder)
        finally:
            self.filing.leases.release(report_id, holder)
        return self.get(report_id)

    def retract(self, report_id: int, *, actor: str) -> dict[str, Any]:
        """Withdraw a report open at NCMEC (submitted, files uploaded)."""
        holder = self.filing.leases.acquire(report_id)
        try:
            with self.database.reading() as session:
                row = self._row(session, report_id)
            if row.status == "finished":
                raise ReportConflictError(
                    NOT_RETRACTABLE.format(id=report_id, ncmec=row.ncmec_report_id)
                )
            if not (
                row.status in OPEN_AT_NCMEC or (row.status == "failed" and row.ncmec_report_id)
            ):
                raise ReportConflictError(
                    f"report {report_id} is {row.status}: only a report open at NCMEC is retracted"
                )
            with audit.acting_named(actor):
                self.filing.retract_now(report_id, holder)
        finally:
            self.filing.leases.release(report_id, holder)
        return self.get(report_id)

    def _report_xml(self, session: Session, report: CybertipReport) -> bytes:
        submissions = list(
            session.scalars(
                select(Submission)
                .join(CybertipFile, CybertipFile.submission_id == Submission.id)
                .where(CybertipFile.report_id == report.id)
                .order_by(CybertipFile.id)
            )
        )
        return report_xml(report_content(self.settings, submissions, report.details))

    def _file_bytes(self, files: Sequence[CybertipFile]) -> dict[int, bytes]:
        """The files' bytes, from the kept media, as they were when drafted."""
        with self.database.reading() as session:
            kept = {
                k.submission_id: k
                for k in session.scalars(
                    select(KeptMedia).where(
                        KeptMedia.submission_id.in_([f.submission_id for f in files])
                    )
                )
            }
        found = {}
        for file in files:
            media = kept.get(file.submission_id)
            if media is None:
                raise ReportingError(f"the kept media of submission {file.submission_id} is gone")
            data = self.vault.decrypt(
                media.nonce,
                media.ciphertext,
                submission_id=media.submission_id,
                key_id=media.key_id,
            )
            if hashlib.sha256(data).hexdigest() != file.sha256:
                raise ReportingError(
                    f"the kept media of submission {file.submission_id} changed since the draft"
                )
            found[file.id] = data
        return found

    # -- reading ------------------------------------------------------------------------------

    @staticmethod
    def _row(session: Session, report_id: int) -> CybertipReport:
        row = session.get(CybertipReport, report_id)
        if row is None:
            raise UnknownReportError(report_id)
        return row

    def get(self, report_id: int) -> dict[str, Any]:
        with self.database.reading() as session:
            row = self._row(session, report_id)
            files = session.scalars(
                select(CybertipFile)
                .where(CybertipFile.report_id == report_id)
                .order_by(CybertipFile.id)
            )
            calls = session.scalars(
                select(CybertipCall)
                .where(CybertipCall.report_id == report_id)
                .order_by(CybertipCall.id)
            )
            package = session.scalar(
                select(EvidencePackage.id).where(EvidencePackage.report_id == report_id)
            )
            return {
                **report_json(row),
                "files": [file_json(file) for file in files],
                "calls": [
                    {k: v for k, v in call_json(call).items() if k != "response"} for call in calls
                ],
                "evidence_package_id": package,
            }

    def list(
        self,
        *,
        status: str | None = None,
        user_ref: str | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Reports, newest first; ``before_id`` pages on."""
        query = (
            select(CybertipReport)
            .order_by(CybertipReport.id.desc())
            .limit(max(1, min(limit, MAX_PAGE)))
        )
        if status is not None:
            query = query.where(CybertipReport.status == status)
        if user_ref is not None:
            query = query.where(CybertipReport.user_ref == user_ref)
        if before_id is not None:
            query = query.where(CybertipReport.id < before_id)
        with self.database.reading() as session:
            return [report_json(row) for row in session.scalars(query)]

    def xml(self, report_id: int) -> str:
        """The report XML as submitted (for a draft: as it would be)."""
        with self.database.reading() as session:
            row = self._row(session, report_id)
            return row.xml if row.xml is not None else self._report_xml(session, row).decode()


def report_json(row: CybertipReport) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "environment": row.environment,
        "ncmec_report_id": row.ncmec_report_id,
        "user_ref": row.user_ref,
        "created_by": row.created_by,
        "created_at": iso_utc(row.created_at),
        "opened_at": iso_utc(row.opened_at),
        "finished_at": iso_utc(row.finished_at),
        "retracted_at": iso_utc(row.retracted_at),
        "attempts": row.attempts,
        "next_attempt_at": iso_utc(row.next_attempt_at),
        "last_error": row.last_error,
        "error_kind": row.error_kind,
        "details": row.details,
    }


def file_json(file: CybertipFile) -> dict[str, Any]:
    return {
        "id": file.id,
        "item_key": file.item_key,
        "review_item_id": file.review_item_id,
        "submission_id": file.submission_id,
        "filename": file.filename,
        "size": file.size,
        "md5": file.md5,
        "sha256": file.sha256,
        "classification": file.classification,
        "annotations": file.annotations,
        "viewed_by_esp": file.viewed_by_esp,
        "status": file.status,
        "ncmec_file_id": file.ncmec_file_id,
    }
