"""Preserved evidence: what a finished report sent and got back, encrypted at
rest, kept until its retention ends (longer under a legal hold), then purged.

    evidence = Evidence(database, settings)
    package = evidence.preserve(report_id, [("report.xml", xml), ...], actor="system")
    evidence.show(package, actor="user:lee")         # objects, manifest, holds
    evidence.export(package, Path("out"), actor="user:lee")   # out/evidence-3.zip
    evidence.hold(package, "subpoena 2026-114", actor="user:lee")
    evidence.purge_due()                            # [ids purged]

Every access (list, view, read, export) and every change is audited, in the
transaction that makes the change.  Objects are sealed by ``evidence_keys``
(a data key per object, wrapped by the master key) and written to an
``evidence_store`` under opaque paths (``report-<id>/0000.bin``); a file's
name is kept only inside the encrypted manifest and the object's row.

Preserving is idempotent per report (``evidence_packages.report_id`` is
unique): the package row, the objects' rows and the audit entry commit in one
transaction around the writes, so a crash midway leaves no package, and the
next attempt overwrites the same paths and deletes any left over.

Purging (``evidence_purge``) and holds take turns on the package's row
(locked on PostgreSQL, SQLite serialises writers): a hold committed before
the purge locks the package keeps it; a hold asked for after finds it purged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.errors import (
    EvidenceError,
    InvalidFieldError,
    UnknownEvidenceError,
    UnknownHoldError,
    UnknownReportError,
)
from hashmatch.fieldlimits import DESCRIPTION_CHARS, check_text
from hashmatch.reporting.evidence.export import write_zip
from hashmatch.reporting.evidence.keys import MasterKey, SealedObject, load_master_key
from hashmatch.reporting.evidence.purge import Purger
from hashmatch.reporting.evidence.records import (
    hold_json,
    is_due,
    object_json,
    package_json,
)
from hashmatch.reporting.evidence.store import EvidenceStore, open_store
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.models import as_utc, iso_utc, utcnow
from hashmatch.store.reporting_models import (
    CybertipReport,
    EvidenceHold,
    EvidenceObject,
    EvidencePackage,
)

MANIFEST = "manifest.json"
MAX_PAGE = 500
MAX_NAME = 300


def _check_names(objects: Sequence[tuple[str, bytes]]) -> None:
    seen: set[str] = set()
    for name, _ in objects:
        if (
            not name
            or len(name) > MAX_NAME
            or name in (".", "..", MANIFEST, "SHA256SUMS")
            or any(c in name for c in "/\\")
            or any(ord(c) < 32 for c in name)
        ):
            raise EvidenceError(f"not a name for an evidence object: {name!r}")
        if name in seen:
            raise EvidenceError(f"two evidence objects named {name!r}")
        seen.add(name)


class Evidence:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        store: EvidenceStore | None = None,
        master_key: MasterKey | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.store = store or open_store(settings)
        self._master_key = master_key

    @property
    def master_key(self) -> MasterKey:
        """Loaded when first needed: listing and holds need no key."""
        if self._master_key is None:
            self._master_key = load_master_key(self.settings)
        return self._master_key

    # -- preserving ------------------------------------------------------------------

    def preserve(self, report_id: int, objects: Sequence[tuple[str, bytes]], *, actor: str) -> int:
        """The report's evidence package id: a new one holding ``objects``
        (each sealed; the manifest too), or the one it already has."""
        _check_names(objects)
        with self.database.reading() as session:
            existing = session.scalar(
                select(EvidencePackage.id).where(EvidencePackage.report_id == report_id)
            )
        if existing is not None:
            return existing
        key = self.master_key  # a missing key fails before anything is written
        try:
            with self.database.transaction() as session, audit.acting_named(actor):
                return self._preserve(session, key, report_id, objects)
        except IntegrityError:
            # Another process preserved it first (the unique report_id).
            with self.database.reading() as session:
                winner = session.scalar(
                    select(EvidencePackage.id).where(EvidencePackage.report_id == report_id)
                )
            if winner is None:
                raise
            return winner

    def _preserve(
        self, session: Session, key: MasterKey, report_id: int, objects: Sequence[tuple[str, bytes]]
    ) -> int:
        report = session.get(CybertipReport, report_id)
        if report is None:
            raise UnknownReportError(report_id)
        existing = session.scalar(
            select(EvidencePackage.id).where(EvidencePackage.report_id == report_id)
        )
        if existing is not None:
            return existing
        start = as_utc(report.finished_at) if report.finished_at is not None else utcnow()
        manifest = [
            {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in objects
        ]
        package = EvidencePackage(
            report_id=report_id,
            store=self.store.location,
            status="kept",
            retain_until=start + timedelta(days=self.settings.evidence_retention_days),
            manifest=manifest,
        )
        session.add(package)
        session.flush()  # the id binds each object; a concurrent preserve waits here
        folder = f"report-{report_id}"
        named = [*objects, (MANIFEST, json.dumps(manifest, indent=2).encode())]
        written: list[str] = []
        for index, (name, data) in enumerate(named):
            path = f"{folder}/manifest.bin" if name == MANIFEST else f"{folder}/{index:04d}.bin"
            sealed = key.seal(data, package_id=package.id, name=name)
            self._write(path, sealed.ciphertext)
            written.append(path)
            session.add(
                EvidenceObject(
                    package_id=package.id,
                    name=name,
                    path=path,
                    size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                    master_key_id=sealed.master_key_id,
                    wrapped_key=sealed.wrapped_key,
                )
            )
        for leftover in set(self.store.list(folder)) - set(written):
            self.store.delete(leftover)  # from an attempt that crashed
        audit.record(
            session,
            "evidence.preserve",
            f"evidence:{package.id}",
            after={
                "report": report_id,
                "objects": len(objects),
                "size": sum(len(data) for _, data in objects),
                "retain_until": iso_utc(package.retain_until),
                "store": self.store.location,
            },
        )
        return package.id

    def _write(self, path: str, data: bytes) -> None:
        try:
            self.store.write(path, data)
        except OSError as error:
            raise EvidenceError(
                f"cannot write evidence to {self.store.location}: {error}"
            ) from None

    # -- reading -----------------------------------------------------------------------

    def show(self, package_id: int, *, actor: str) -> dict[str, Any]:
        """The package, its objects (no keys), its manifest and holds."""
        now = utcnow()
        with self.database.transaction() as session, audit.acting_named(actor):
            package = self._package(session, package_id)
            objects = session.scalars(
                select(EvidenceObject)
                .where(EvidenceObject.package_id == package_id)
                .order_by(EvidenceObject.id)
            ).all()
            shown = package_json(
                package, self._holds(session, [package_id]).get(package_id, []), now
            )
            shown["manifest"] = package.manifest
            shown["objects"] = [object_json(row) for row in objects]
            audit.record(session, "evidence.view", f"evidence:{package_id}")
        return shown

    def read(self, package_id: int, name: str, *, actor: str) -> bytes:
        """One object's plaintext, decrypted and checked against its SHA-256."""
        with self.database.reading() as session:
            package = self._package(session, package_id)
            row = session.scalar(
                select(EvidenceObject).where(
                    EvidenceObject.package_id == package_id, EvidenceObject.name == name
                )
            )
            if package.status != "kept" or row is None:
                raise EvidenceError(
                    f"evidence package {package_id} was purged"
                    if package.status != "kept"
                    else f"evidence package {package_id} has no object {name!r}"
                )
            session.expunge(row)
        data = self._verified(package_id, [row], actor)[0]
        self._audit(actor, "evidence.read", package_id, {"object": name})
        return data

    def export(self, package_id: int, to: Path, *, actor: str) -> Path:
        """``to/evidence-<id>.zip`` (the objects, manifest.json, SHA256SUMS),
        every object verified before the file appears."""
        target = to / f"evidence-{package_id}.zip"
        partial = to / f".evidence-{package_id}.zip.partial"
        try:
            to.mkdir(parents=True, exist_ok=True)
            stream = partial.open("wb")
        except OSError as error:
            raise EvidenceError(f"cannot write the export to {to}: {error}") from None
        try:
            with stream:
                self.export_to(package_id, stream, actor=actor)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return target

    def export_to(self, package_id: int, stream: IO[bytes], *, actor: str) -> None:
        """Write the export zip to a binary ``stream`` (see :meth:`export`)."""
        with self.database.reading() as session:
            package = self._package(session, package_id)
            if package.status != "kept":
                raise EvidenceError(f"evidence package {package_id} was purged")
            rows = session.scalars(
                select(EvidenceObject)
                .where(EvidenceObject.package_id == package_id)
                .order_by(EvidenceObject.id)
            ).all()
            session.expunge_all()
        contents = self._verified(package_id, rows, actor)
        write_zip(stream, [(row.name, data) for row, data in zip(rows, contents, strict=True)])
        self._audit(
            actor,
            "evidence.export",
            package_id,
            {"objects": len(rows), "size": sum(row.size for row in rows)},
        )

    def _verified(self, package_id: int, rows: Sequence[EvidenceObject], actor: str) -> list[bytes]:
        """The rows' plaintexts; a missing, undecryptable or altered object is
        an EvidenceError, and audited as ``evidence.tampered``."""
        contents = []
        for row in rows:
            try:
                data = self.master_key.open(
                    SealedObject(self.store.read(row.path), row.wrapped_key, row.master_key_id),
                    package_id=package_id,
                    name=row.name,
                )
                if hashlib.sha256(data).hexdigest() != row.sha256:
                    raise EvidenceError(
                        f"evidence {row.name!r} of package {package_id} does not match its "
                        "SHA-256: it was tampered with"
                    )
            except EvidenceError as error:
                self._audit(
                    actor,
                    "evidence.tampered",
                    package_id,
                    {"object": row.name, "error": str(error)},
                )
                raise
            contents.append(data)
        return contents

    # -- holds --------------------------------------------------------------------------

    def hold(
        self, package_id: int, reason: str, *, actor: str, until: datetime | None = None
    ) -> dict[str, Any]:
        """Keep the package past its retention, until released (or ``until``)."""
        reason = reason.strip()
        if not reason:
            raise EvidenceError("a legal hold needs a reason")
        try:
            check_text("reason", reason, max_chars=DESCRIPTION_CHARS)
        except InvalidFieldError as error:
            raise EvidenceError(f"a legal hold's {error}") from None
        if until is not None and as_utc(until) <= utcnow():
            raise EvidenceError("a legal hold's end must be in the future")
        with self.database.transaction() as session, audit.acting_named(actor):
            package = self._package(session, package_id, lock=True)
            if package.status != "kept":
                raise EvidenceError(f"evidence package {package_id} was purged; nothing to hold")
            hold = EvidenceHold(
                package_id=package_id,
                reason=reason,
                until=as_utc(until) if until is not None else None,
                created_by=actor,
                created_at=utcnow(),
            )
            session.add(hold)
            session.flush()
            held = hold_json(hold)
            audit.record(session, "evidence.hold", f"evidence:{package_id}", after=held)
        return held

    def release(self, hold_id: int, *, actor: str) -> dict[str, Any]:
        """End a hold; the package's retention applies again (a later purge may delete it)."""
        with self.database.transaction() as session, audit.acting_named(actor):
            hold = session.get(EvidenceHold, hold_id)
            if hold is None:
                raise UnknownHoldError(hold_id)
            self._package(session, hold.package_id, lock=True)
            session.refresh(hold)
            if hold.released_at is not None:
                raise EvidenceError(f"legal hold {hold_id} was released already")
            before = hold_json(hold)
            hold.released_by = actor
            hold.released_at = utcnow()
            released = hold_json(hold)
            audit.record(
                session,
                "evidence.release",
                f"evidence:{hold.package_id}",
                before=before,
                after=released,
            )
        return released

    # -- purging ------------------------------------------------------------------------

    def purge_due(self, *, actor: str = "system", now: datetime | None = None) -> list[int]:
        """Purge every package past its retention with no hold in force
        (``evidence_purge``); the ids purged."""
        with audit.acting_named(actor):
            return Purger(self.database, self.store).purge_due(now or utcnow())

    # -- helpers ------------------------------------------------------------------------

    def _audit(self, actor: str, action: str, package_id: int, after: dict[str, Any]) -> None:
        with self.database.transaction() as session, audit.acting_named(actor):
            audit.record(session, action, f"evidence:{package_id}", after=after)

    @staticmethod
    def _package(session: Session, package_id: int, *, lock: bool = False) -> EvidencePackage:
        query = select(EvidencePackage).where(EvidencePackage.id == package_id)
        package = session.scalar(query.with_for_update() if lock else query)
        if package is None:
            raise UnknownEvidenceError(package_id)
        return package

    @staticmethod
    def _holds(session: Session, package_ids: Sequence[int]) -> dict[int, list[EvidenceHold]]:
        found: dict[int, list[EvidenceHold]] = {}
        if package_ids:
            for hold in session.scalars(
                select(EvidenceHold)
                .where(EvidenceHold.package_id.in_(package_ids))
                .order_by(EvidenceHold.id)
            ):
                found.setdefault(hold.package_id, []).append(hold)
        return found

    # Last in the class: a method named list would shadow the type in the annotations below it.
    def list(
        self, *, actor: str, status: str | None = None, due: bool = False, limit: int = MAX_PAGE
    ) -> list[dict[str, Any]]:
        """Packages, newest first (``due``: those a purge would delete now)."""
        now = utcnow()
        with self.database.transaction() as session, audit.acting_named(actor):
            query = select(EvidencePackage).order_by(EvidencePackage.id.desc())
            if status is not None:
                query = query.where(EvidencePackage.status == status)
            if due:
                query = query.where(is_due(now))
            packages = session.scalars(query.limit(min(max(limit, 1), MAX_PAGE))).all()
            holds = self._holds(session, [p.id for p in packages])
            listed = [package_json(p, holds.get(p.id, []), now) for p in packages]
            audit.record(
                session,
                "evidence.list",
                "evidence:*",
                after={"status": status, "due": due, "count": len(listed)},
            )
        return listed
