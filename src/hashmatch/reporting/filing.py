"""Filing a CyberTipline report, one step at a time, so that a crash at any
point resumes without a second report or a file reported twice.

    filing = Filing(database, client=client, build_xml=..., load_files=...,
                    preserve=evidence.preserve, environment="test")
    holder = filing.leases.acquire(report_id)   # one filer per report
    filing.run(report_id, holder)               # until finished, failed or "later"
    filing.leases.release(report_id, holder)

draft → submitted (NCMEC's report id) → files_uploaded (every file has an id
and its details were accepted) → finished | retracted | failed.  Before each
call, the call is committed as ``call_in_flight``; its answer (a
``cybertip_calls`` row) and the change it causes commit together, clearing
it.  A step that finds a call in flight does what is safe for that call:

* submit, fileinfo, finish: send it again (an orphan report NCMEC may have
  opened is never finished, and NCMEC deletes it; 5102 "already finished" on
  finish means finished).
* upload: NCMEC may hold a file we have no id for, so the open report is
  retracted and filed again from the start: a finished report never holds a
  file twice.
* retract: again (5101 "already retracted" means retracted).

A call that got no answer (a timeout, a dropped connection) leaves its call
in flight too: it may have happened.  NCMEC deletes an unfinished report 24 h
after it was opened or 1 h after its last change; when the stored clock says
so, or NCMEC answers 5001/5002 for our report, the report is filed again from
the start (a ``refile`` entry in its timeline, a new NCMEC id).  Errors by
kind (``responses.kind_of``): "retry" waits (exponential backoff with jitter,
at most an hour) with the status unchanged; "credentials", "invalid" and
"protocol" fail the report, with NCMEC's description, an audit entry
``report.failed`` and a log line.  Finishing queues the ``reported``
feedback for the exchanges that sent matched content
(``exchange/reported.py``).  A finished report's evidence is preserved
next (``preservation``), and its submissions' kept media purged if nothing
else needs it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.actions.outbox import Retries
from hashmatch.actions.upkeep import purge_if_unneeded
from hashmatch.errors import HashmatchError, ReportConflictError, ReportingError, UnknownReportError
from hashmatch.exchange.reported import queue_reported
from hashmatch.reporting.cybertip.client import Call, CybertipCallError, CybertipClient
from hashmatch.reporting.cybertip.report_xml import file_details_xml
from hashmatch.reporting.leases import ACTIVE, DEFAULT_LEASE, ReportLeases
from hashmatch.reporting.preservation import Preserve, announce_filed, evidence_objects
from hashmatch.reporting.report_content import file_content
from hashmatch.store.models import as_utc, utcnow
from hashmatch.store.reporting_models import (
    CybertipCall,
    CybertipFile,
    CybertipReport,
    EvidencePackage,
)
from hashmatch.store.workflow import Submission

if TYPE_CHECKING:
    from hashmatch.store import Database

log = logging.getLogger(__name__)

#: Builds the report XML for a report row, in a session.
BuildXml = Callable[[Session, CybertipReport], bytes]
#: The reported files' bytes, by file row id.
LoadFiles = Callable[[Sequence[CybertipFile]], dict[int, bytes]]
#: A step's change once its call succeeded, in the call's transaction.
Apply = Callable[[Session, CybertipReport, Call], None]

OPEN_AT_NCMEC = ("submitted", "files_uploaded")
AFTER_OPENING = timedelta(hours=24)
AFTER_CHANGE = timedelta(hours=1)
#: Refiled this much before NCMEC's deadline, so that no step races it.
EXPIRY_MARGIN = timedelta(minutes=2)
#: A run that has refiled this often waits instead (NCMEC keeps losing it).
MAX_REFILES_PER_RUN = 3
RETRIES = Retries(max_attempts=0, backoff=30.0, backoff_max=3600.0)
ALREADY_RETRACTED, ALREADY_FINISHED = 5101, 5102
GO, STOP, REFILED = "go", "stop", "refiled"


def derived_status(report: CybertipReport, files: Sequence[CybertipFile]) -> str:
    """Where a report stands at NCMEC by what is stored (a failed report resumes there)."""
    if report.ncmec_report_id is None:
        return "draft"
    return "files_uploaded" if all(f.status == "described" for f in files) else "submitted"


class Filing:
    """The state machine; ``now`` and ``retries`` may be replaced in tests."""

    def __init__(
        self,
        database: Database,
        *,
        client: CybertipClient,
        build_xml: BuildXml,
        load_files: LoadFiles,
        preserve: Preserve,
        environment: str,
        keep_confirmed: timedelta,
        now: Callable[[], datetime] = utcnow,
        lease: timedelta = DEFAULT_LEASE,
        retries: Retries = RETRIES,
    ) -> None:
        self.database = database
        self.client = client
        self.build_xml = build_xml
        self.load_files = load_files
        self.preserve = preserve
        #: Where reports are submitted ("test" or "production"), recorded on each.
        self.environment = environment
        #: How long a confirmed, unreported item's media waits (report_keep_confirmed_days).
        self.keep_confirmed = keep_confirmed
        self.now = now
        self.retries = retries
        self.leases = ReportLeases(database, lease=lease, now=now)
        self._locked = self.leases.locked

    def run(self, report_id: int, holder: str) -> None:
        """Steps until the report is finished and preserved, or stops (an
        error to wait out, a failure, a retraction)."""
        with self._locked(report_id, holder) as (_, row):
            if row.status in ACTIVE and row.next_attempt_at is None:
                row.next_attempt_at = self.now()  # a crash leaves it due for a filer
        refiles = 0
        while (outcome := self._step(report_id, holder)) != STOP:
            refiles += outcome == REFILED
            if refiles > MAX_REFILES_PER_RUN:
                with self._locked(report_id, holder) as (_, row):
                    self._wait(row, "NCMEC lost the report again after refiling it")
                return

    def _snapshot(self, report_id: int) -> tuple[CybertipReport, list[CybertipFile], bool]:
        with self.database.reading() as session:
            report = session.get(CybertipReport, report_id)
            if report is None:
                raise UnknownReportError(report_id)
            files = list(
                session.scalars(
                    select(CybertipFile)
                    .where(CybertipFile.report_id == report_id)
                    .order_by(CybertipFile.id)
                )
            )
            preserved = session.scalar(
                select(EvidencePackage.id).where(EvidencePackage.report_id == report_id)
            )
        return report, files, preserved is not None

    def _step(self, report_id: int, holder: str) -> str:
        report, files, preserved = self._snapshot(report_id)
        if report.status == "finished":
            if not preserved:
                self._preserve(report, files, holder)
            return STOP
        if report.status not in ACTIVE:
            return STOP
        flight = report.call_in_flight or ""
        if flight == "retract":
            return self.retract_now(report_id, holder)
        if flight.startswith("upload:"):
            why = "an upload's answer was lost: NCMEC may hold a file we have no id for"
            return self._start_over(report, holder, why, retract=True)
        expired = self._expired(report) if report.ncmec_report_id is not None else None
        if expired is not None:
            return self._start_over(report, holder, expired, retract=False)
        if report.ncmec_report_id is None:
            return self._submit(report, holder)
        for file in files:
            if file.status == "pending":
                return self._upload(report, file, holder)
        for file in files:
            if file.status == "uploaded":
                return self._describe(report, file, holder)
        return self._call(
            report_id,
            holder,
            "finish",
            lambda: self.client.finish(_ncmec_id(report)),
            self._finished,
        )

    def _expired(self, report: CybertipReport) -> str | None:
        now = self.now() + EXPIRY_MARGIN
        if report.opened_at is not None and as_utc(report.opened_at) + AFTER_OPENING <= now:
            return "NCMEC deletes a report that is not finished 24 h after it opened"
        if report.changed_at is not None and as_utc(report.changed_at) + AFTER_CHANGE <= now:
            return "NCMEC deletes a report that is not finished 1 h after its last change"
        return None

    def _submit(self, report: CybertipReport, holder: str) -> str:
        try:
            with self.database.reading() as session:
                xml = self.build_xml(session, report)
        except ReportingError as error:
            return self._fail_before_call(report.id, holder, str(error))

        def submitted(session: Session, row: CybertipReport, call: Call) -> None:
            row.ncmec_report_id = call.answer.report_id if call.answer else None
            row.status = "submitted"
            row.environment = self.environment
            row.opened_at = row.changed_at

        return self._call(
            report.id, holder, "submit", lambda: self.client.submit(xml), submitted, xml=xml
        )

    def _upload(self, report: CybertipReport, file: CybertipFile, holder: str) -> str:
        try:
            data = self.load_files([file])[file.id]
        except HashmatchError as error:
            return self._fail_before_call(report.id, holder, f"file {file.id}: {error}")

        def uploaded(session: Session, row: CybertipReport, call: Call) -> None:
            file_id = call.answer.file_id if call.answer else None
            session.execute(
                update(CybertipFile)
                .where(CybertipFile.id == file.id)
                .values(status="uploaded", ncmec_file_id=file_id)
            )

        send = lambda: self.client.upload(_ncmec_id(report), file.filename, data)  # noqa: E731
        return self._call(report.id, holder, f"upload:{file.id}", send, uploaded)

    def _describe(self, report: CybertipReport, file: CybertipFile, holder: str) -> str:
        try:
            with self.database.reading() as session:
                submission = session.get_one(Submission, file.submission_id)
            xml = file_details_xml(file_content(file, submission, _ncmec_id(report)))
        except ReportingError as error:
            return self._fail_before_call(report.id, holder, f"file {file.id}: {error}")

        def described(session: Session, row: CybertipReport, call: Call) -> None:
            session.execute(
                update(CybertipFile).where(CybertipFile.id == file.id).values(status="described")
            )
            left = session.scalar(
                select(func.count()).where(
                    CybertipFile.report_id == row.id, CybertipFile.status != "described"
                )
            )
            if not left:
                row.status = "files_uploaded"

        return self._call(
            report.id, holder, f"fileinfo:{file.id}", lambda: self.client.file_info(xml), described
        )

    def _finished(self, session: Session, row: CybertipReport, call: Call) -> None:
        row.status = "finished"
        row.finished_at = self.now()
        row.next_attempt_at = self.now()  # to be preserved
        files = list(session.scalars(select(CybertipFile).where(CybertipFile.report_id == row.id)))
        answered = sorted(call.answer.file_ids) if call.answer else []
        ours = sorted(f.ncmec_file_id or "" for f in files)
        if answered and answered != ours:
            warning = f"NCMEC finished the report with files {answered}; we uploaded {ours}"
            row.details = {**row.details, "warnings": [*row.details.get("warnings", []), warning]}
        announce_filed(session, row, files)
        queue_reported(session, row.id, {f.submission_id for f in files})

    # -- calls and their answers -----------------------------------------------------------------

    def _call(
        self,
        report_id: int,
        holder: str,
        flight: str,
        send: Callable[[], Call],
        apply: Apply,
        *,
        xml: bytes | None = None,
    ) -> str:
        with self._locked(report_id, holder) as (_, row):
            row.call_in_flight = flight
            if xml is not None:
                row.xml = xml.decode()
        error: CybertipCallError | None = None
        try:
            call = send()
        except CybertipCallError as failure:
            error = failure
            call = failure.call or _unanswered(flight, str(failure))
        with self._locked(report_id, holder) as (session, row):
            session.add(_call_row(row.id, call, self.now()))
            if error is None:
                row.call_in_flight = None
                row.changed_at = self.now()
                row.attempts = 0
                row.last_error = row.error_kind = None
                apply(session, row, call)
                return GO
            return self._after_error(session, row, flight, error, call, apply)

    def _after_error(
        self,
        session: Session,
        row: CybertipReport,
        flight: str,
        error: CybertipCallError,
        call: Call,
        apply: Apply,
    ) -> str:
        answer = call.answer
        # Did it happen?  Unknown without an answer; an upload answered "0"
        # with a wrong hash left a file there.  A retraction stays the goal.
        uncertain = answer is None or (flight.startswith("upload:") and answer.code == 0)
        row.call_in_flight = flight if uncertain or flight == "retract" else None
        code = answer.code if answer else None
        if error.kind == "unknown" and flight == "retract":
            self._retracted(session, row)  # NCMEC holds nothing to retract
            return STOP
        if error.kind == "unknown":
            self._reset(
                session,
                row,
                f"NCMEC no longer knows the report ({code}: {answer and answer.description})",
            )
            return REFILED
        if error.kind == "done" and code == ALREADY_FINISHED and flight == "finish":
            row.call_in_flight = None
            apply(session, row, call)
            return GO
        if error.kind == "done" and code == ALREADY_RETRACTED:
            self._retracted(session, row)
            return STOP
        if error.kind == "retry":
            self._wait(row, str(error))
            return STOP
        self._fail(
            session,
            row,
            answer.description if answer and answer.description else str(error),
            error.kind,
        )
        return STOP

    def _wait(self, row: CybertipReport, why: str) -> None:
        row.attempts += 1
        row.next_attempt_at = self.now() + timedelta(seconds=self.retries.delay(row.attempts))
        row.last_error = why
        row.error_kind = "retry"

    def _fail(self, session: Session, row: CybertipReport, why: str, kind: str) -> None:
        row.status = "failed"
        row.last_error = why
        row.error_kind = kind
        row.next_attempt_at = None
        audit.record(
            session, "report.failed", f"report:{row.id}", after={"error_kind": kind, "error": why}
        )
        log.warning("CyberTipline report %s failed (%s): %s; an admin must act", row.id, kind, why)

    def _fail_before_call(self, report_id: int, holder: str, why: str) -> str:
        with self._locked(report_id, holder) as (session, row):
            self._fail(session, row, why, "invalid")
        return STOP

    def _reset(self, session: Session, row: CybertipReport, why: str) -> None:
        """File the report again from the start: NCMEC's id forgotten, every file pending."""
        session.add(
            CybertipCall(
                report_id=row.id,
                endpoint="refile",
                at=self.now(),
                request=f"NCMEC report {row.ncmec_report_id}",
                response_description=why,
            )
        )
        row.ncmec_report_id = None
        row.status = "draft"
        row.opened_at = row.changed_at = None
        row.call_in_flight = None
        session.execute(
            update(CybertipFile)
            .where(CybertipFile.report_id == row.id)
            .values(status="pending", ncmec_file_id=None)
        )

    def _start_over(self, report: CybertipReport, holder: str, why: str, *, retract: bool) -> str:
        call: Call | None = None
        error: CybertipCallError | None = None
        if retract and report.ncmec_report_id is not None:
            try:
                call = self.client.retract(report.ncmec_report_id)
            except CybertipCallError as failure:
                error = failure
                call = failure.call or _unanswered("retract", str(failure))
        with self._locked(report.id, holder) as (session, row):
            if call is not None:
                session.add(_call_row(row.id, call, self.now()))
            if error is not None and error.kind not in ("unknown", "done"):
                if error.kind == "retry":
                    self._wait(row, f"retracting before refiling: {error}")
                else:
                    self._fail(session, row, f"retracting before refiling: {error}", error.kind)
                return STOP  # the upload stays in flight: the next try retracts again
            self._reset(session, row, why)
        return REFILED

    def retract_now(self, report_id: int, holder: str) -> str:
        """POST /retract for an open report (the caller checked that it is)."""
        report, _, _ = self._snapshot(report_id)

        def retracted(session: Session, row: CybertipReport, call: Call) -> None:
            self._retracted(session, row)

        self._call(
            report_id, holder, "retract", lambda: self.client.retract(_ncmec_id(report)), retracted
        )
        return STOP

    def _retracted(self, session: Session, row: CybertipReport) -> None:
        row.status = "retracted"
        row.retracted_at = self.now()
        row.call_in_flight = None
        row.next_attempt_at = None
        audit.record(
            session,
            "report.retract",
            f"report:{row.id}",
            after={"ncmec_report_id": row.ncmec_report_id},
        )

    # -- evidence --------------------------------------------------------------------------

    def _preserve(self, report: CybertipReport, files: Sequence[CybertipFile], holder: str) -> None:
        """Preserve what the finished report said and sent; then its
        submissions' kept media may go (unless something else needs it)."""
        try:
            data = self.load_files(files)
            with self.database.reading() as session:
                calls = session.scalars(
                    select(CybertipCall)
                    .where(CybertipCall.report_id == report.id)
                    .order_by(CybertipCall.id)
                ).all()
                submission_ids = sorted({f.submission_id for f in files})
                submissions = session.scalars(
                    select(Submission).where(Submission.id.in_(submission_ids))
                ).all()
            objects = evidence_objects(report, files, data, calls, submissions)
            self.preserve(report.id, objects, audit.current_actor().name)
        except HashmatchError as error:
            with self._locked(report.id, holder) as (_, row):
                self._wait(row, f"preserving the evidence: {error}")
                row.error_kind = "evidence"
            return
        with self._locked(report.id, holder) as (session, row):
            row.next_attempt_at = None
            row.attempts = 0
            row.last_error = row.error_kind = None
            for submission_id in submission_ids:
                purge_if_unneeded(session, submission_id, keep_confirmed=self.keep_confirmed)


def _ncmec_id(report: CybertipReport) -> str:
    if report.ncmec_report_id is None:
        raise ReportConflictError(f"report {report.id} has no NCMEC report id")
    return report.ncmec_report_id


def _unanswered(flight: str, why: str) -> Call:
    return Call(flight.split(":")[0], None, None, None, "", "", 0, why)


def _call_row(report_id: int, call: Call, at: datetime) -> CybertipCall:
    answer = call.answer
    return CybertipCall(
        report_id=report_id,
        endpoint=call.endpoint.strip("/")[:16],
        at=at,
        elapsed_ms=float(call.elapsed_ms),
        http_status=call.http_status,
        request_id=call.request_id,
        response_code=answer.code if answer else None,
        response_description=answer.description if answer else None,
        request=call.request_summary,
        response=call.response_text,
        error=call.error,
    )
