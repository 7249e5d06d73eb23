"""Evidence preservation: sealed objects, retention, holds, purges, audit."""

from __future__ import annotations

import io
import json
import random
import stat
import threading
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hashmatch import audit
from hashmatch.actions.media_vault import write_new_key
from hashmatch.actions.upkeep import run_upkeep
from hashmatch.errors import EvidenceError, EvidenceKeyError, UnknownEvidenceError
from hashmatch.reporting.evidence import Evidence
from hashmatch.reporting.evidence.export import check_zip
from hashmatch.reporting.evidence.keys import MasterKey, load_master_key
from hashmatch.reporting.evidence.purge import Purger
from hashmatch.reporting.evidence.store import (
    FsspecEvidenceStore,
    LocalEvidenceStore,
    open_store,
)
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.models import AuditEntry, as_utc, utcnow
from hashmatch.store.reporting_models import EvidenceObject, EvidencePackage
from tests.evidence_world import OBJECTS, evidence_settings, finished_report, long_ago, preserved


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return evidence_settings(tmp_path, database_url)


@pytest.fixture
def evidence(database: Database, settings: Settings) -> Evidence:
    return Evidence(database, settings)


def _audit(database: Database, action: str) -> list[AuditEntry]:
    with database.reading() as session:
        return audit.find(session, action=action, limit=1000)


def _root(settings: Settings) -> Path:
    return settings.data_dir / "evidence"


# -- preserving and reading ------------------------------------------------------------


def test_objects_are_sealed_private_and_read_back(evidence: Evidence, settings: Settings) -> None:
    package_id = preserved(evidence)
    folder = next(_root(settings).iterdir())
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == ["0000.bin", "0001.bin", "0002.bin", "manifest.bin"]
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        assert all(data not in file.read_bytes() for _, data in OBJECTS)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(_root(settings).stat().st_mode) == 0o700
    for name, data in OBJECTS:
        assert evidence.read(package_id, name, actor="user:lee") == data
    manifest = json.loads(evidence.read(package_id, "manifest.json", actor="user:lee"))
    assert manifest == evidence.show(package_id, actor="user:lee")["manifest"]
    assert [entry["name"] for entry in manifest] == [name for name, _ in OBJECTS]
    [entry] = _audit(evidence.database, "evidence.preserve")
    assert entry.target == f"evidence:{package_id}"
    assert entry.after["objects"] == 3


def test_preserving_is_idempotent_per_report(evidence: Evidence) -> None:
    report_id = finished_report(evidence.database)
    first = evidence.preserve(report_id, OBJECTS, actor="system")
    assert evidence.preserve(report_id, [("other", b"x")], actor="system") == first
    assert len(_audit(evidence.database, "evidence.preserve")) == 1
    assert evidence.show(first, actor="user:lee")["objects"][0]["name"] == OBJECTS[0][0]


def test_two_preserves_at_once_make_one_package(evidence: Evidence) -> None:
    report_id = finished_report(evidence.database)
    barrier = threading.Barrier(2)
    ids: list[int] = []

    def preserve() -> None:
        barrier.wait()
        ids.append(evidence.preserve(report_id, OBJECTS, actor="system"))

    threads = [threading.Thread(target=preserve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == 2
    assert ids[0] == ids[1]
    assert len(_audit(evidence.database, "evidence.preserve")) == 1
    for name, data in OBJECTS:
        assert evidence.read(ids[0], name, actor="t") == data


class _FailingStore(LocalEvidenceStore):
    """Writes ``allowed`` objects, then fails as a full disk would."""

    def __init__(self, root: Path, allowed: int) -> None:
        super().__init__(root)
        self.allowed = allowed

    def write(self, path: str, data: bytes) -> None:
        if self.allowed == 0:
            raise OSError(28, "No space left on device")
        self.allowed -= 1
        super().write(path, data)


def test_a_crash_midway_leaves_no_package_and_the_retry_cleans_up(
    database: Database, settings: Settings
) -> None:
    report_id = finished_report(database)
    crashing = Evidence(database, settings, store=_FailingStore(_root(settings), allowed=2))
    with pytest.raises(EvidenceError, match="No space left"):
        crashing.preserve(report_id, OBJECTS, actor="system")
    with database.reading() as session:
        assert session.scalar(select(func.count()).select_from(EvidencePackage)) == 0
    folder = _root(settings) / f"report-{report_id}"
    assert sorted(f.name for f in folder.iterdir()) == ["0000.bin", "0001.bin"]

    evidence = Evidence(database, settings)
    package_id = evidence.preserve(report_id, OBJECTS[:1], actor="system")
    assert sorted(f.name for f in folder.iterdir()) == ["0000.bin", "manifest.bin"]
    assert evidence.read(package_id, OBJECTS[0][0], actor="system") == OBJECTS[0][1]


def test_names_that_cannot_be_objects(evidence: Evidence) -> None:
    report_id = finished_report(evidence.database)
    for objects in ([("../escape", b"x")], [("a", b"1"), ("a", b"2")], [("manifest.json", b"")]):
        with pytest.raises(EvidenceError):
            evidence.preserve(report_id, objects, actor="system")


def test_a_flipped_byte_or_a_swapped_object_fails_and_is_audited(
    evidence: Evidence, settings: Settings
) -> None:
    package_id = preserved(evidence)
    folder = next(_root(settings).iterdir())
    sealed = bytearray((folder / "0001.bin").read_bytes())
    sealed[-1] ^= 1
    (folder / "0001.bin").write_bytes(bytes(sealed))
    with pytest.raises(EvidenceError, match="tampered"):
        evidence.read(package_id, OBJECTS[1][0], actor="user:lee")
    (folder / "0002.bin").write_bytes((folder / "0000.bin").read_bytes())
    with pytest.raises(EvidenceError, match="tampered"):
        evidence.read(package_id, OBJECTS[2][0], actor="user:lee")
    with pytest.raises(EvidenceError, match="tampered"):
        evidence.export(package_id, settings.data_dir / "out", actor="user:lee")
    assert not (settings.data_dir / "out" / f"evidence-{package_id}.zip").exists()
    assert len(_audit(evidence.database, "evidence.tampered")) == 3
    assert _audit(evidence.database, "evidence.export") == []


def test_a_wrong_or_missing_master_key_fails_clearly(
    evidence: Evidence, tmp_path: Path, database_url: str
) -> None:
    package_id = preserved(evidence)
    other = MasterKey(b"\x01" * 32)
    stranger = Evidence(evidence.database, evidence.settings, master_key=other)
    with pytest.raises(EvidenceKeyError, match=f"this server has key {other.key_id}"):
        stranger.read(package_id, OBJECTS[0][0], actor="user:lee")
    with pytest.raises(EvidenceKeyError, match="evidence_key_file or evidence_key_command"):
        load_master_key(Settings(data_dir=tmp_path, database_url=database_url))
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key")
    with pytest.raises(EvidenceKeyError, match=f"evidence_key_file {garbage} does not give"):
        load_master_key(evidence_settings(tmp_path, database_url, evidence_key_file=garbage))
    with pytest.raises(EvidenceKeyError, match="evidence_key_command '/nonexistent/tool'"):
        load_master_key(
            Settings(
                data_dir=tmp_path,
                database_url=database_url,
                evidence_key_command="/nonexistent/tool",
            )
        )


def test_the_key_command_gives_the_same_key_as_the_file(tmp_path: Path, database_url: str) -> None:
    key = tmp_path / "k"
    write_new_key(key)
    by_file = load_master_key(evidence_settings(tmp_path, database_url, evidence_key_file=key))
    by_command = load_master_key(
        Settings(data_dir=tmp_path, database_url=database_url, evidence_key_command=f"cat {key}")
    )
    assert by_file.key_id == by_command.key_id
    assert len(by_file.key_id) == 16


def test_an_fsspec_store_holds_only_ciphertext(
    database: Database, tmp_path: Path, database_url: str
) -> None:
    url = f"memory://evidence-{uuid.uuid4().hex}/prefix"
    settings = evidence_settings(tmp_path, database_url, evidence_store=url)
    store = open_store(settings)
    assert isinstance(store, FsspecEvidenceStore)
    evidence = Evidence(database, settings, store=store)
    package_id = preserved(evidence)
    folder = f"report-{evidence.show(package_id, actor='t')['report_id']}"
    paths = store.list(folder)
    assert len(paths) == 4
    assert all(store.exists(path) for path in paths)
    assert all(data not in store.read(path) for path in paths for _, data in OBJECTS)
    exported = evidence.export(package_id, tmp_path / "out", actor="t")
    with exported.open("rb") as stream:
        assert check_zip(stream) == []
    assert evidence.purge_due(now=utcnow() + timedelta(days=400)) == [package_id]
    assert store.list(folder) == []


def test_local_store_paths_stay_inside(tmp_path: Path) -> None:
    store = LocalEvidenceStore(tmp_path / "ev")
    for path in ("../x", "/etc/x", "a/../../x", ""):
        with pytest.raises(EvidenceError):
            store.write(path, b"x")
    store.write("a/b.bin", b"1")
    store.write("a/b.bin", b"2")
    assert store.read("a/b.bin") == b"2"
    assert store.list("a") == ["a/b.bin"]
    store.delete("a/b.bin")
    store.delete("a/b.bin")
    assert not store.exists("a/b.bin")
    with pytest.raises(EvidenceError, match="missing"):
        store.read("a/b.bin")


# -- retention and holds ----------------------------------------------------------------


def test_retention_runs_from_the_report_finishing(
    database: Database, tmp_path: Path, database_url: str
) -> None:
    finished = utcnow() - timedelta(days=10)
    settings = evidence_settings(tmp_path, database_url, evidence_retention_days=400)
    evidence = Evidence(database, settings)
    package = evidence.show(preserved(evidence, finished_at=finished), actor="t")
    assert package["retain_until"] == (finished + timedelta(days=400)).isoformat()
    assert package["kept_until"] == package["retain_until"]
    assert not package["due"]
    with pytest.raises(ValueError, match="365"):
        evidence_settings(tmp_path, database_url, evidence_retention_days=364)


def test_holds_extend_and_release_ends_them(evidence: Evidence) -> None:
    package_id = preserved(evidence, finished_at=long_ago())
    assert [p["id"] for p in evidence.list(actor="t", due=True)] == [package_id]
    with pytest.raises(EvidenceError, match="reason"):
        evidence.hold(package_id, "  ", actor="user:lee")
    with pytest.raises(EvidenceError, match="NUL"):
        evidence.hold(package_id, "case\x00 7", actor="user:lee")
    with pytest.raises(EvidenceError, match="at most"):
        evidence.hold(package_id, "x" * 100_000, actor="user:lee")
    with pytest.raises(EvidenceError, match="future"):
        evidence.hold(package_id, "case", actor="user:lee", until=utcnow() - timedelta(days=1))
    with pytest.raises(UnknownEvidenceError):
        evidence.hold(package_id + 1000, "case", actor="user:lee")

    until = utcnow() + timedelta(days=30)
    dated = evidence.hold(package_id, "case 7", actor="user:lee", until=until)
    shown = evidence.show(package_id, actor="t")
    assert shown["held"]
    assert shown["kept_until"] == as_utc(until).isoformat()
    open_ended = evidence.hold(package_id, "subpoena", actor="user:lee")
    assert evidence.show(package_id, actor="t")["kept_until"] is None
    assert evidence.list(actor="t", due=True) == []
    assert evidence.purge_due() == []

    evidence.release(open_ended["id"], actor="user:lee")
    with pytest.raises(EvidenceError, match="released already"):
        evidence.release(open_ended["id"], actor="user:lee")
    assert evidence.purge_due() == []  # the dated hold is still on
    assert evidence.purge_due(now=until + timedelta(seconds=1)) == [package_id]
    assert dated["reason"] == "case 7"
    assert [e.after["reason"] for e in _audit(evidence.database, "evidence.hold")] == [
        "case 7",
        "subpoena",
    ]
    assert len(_audit(evidence.database, "evidence.release")) == 1


def test_purge_deletes_only_what_is_due_and_unheld(evidence: Evidence, settings: Settings) -> None:
    recent = preserved(evidence)
    old = preserved(evidence, finished_at=long_ago())
    held = preserved(evidence, finished_at=long_ago())
    evidence.hold(held, "litigation", actor="user:lee")
    old_report = evidence.show(old, actor="t")["report_id"]

    assert evidence.purge_due() == [old]
    assert evidence.purge_due() == []
    assert not (_root(settings) / f"report-{old_report}").exists()
    shown = evidence.show(old, actor="t")
    assert shown["status"] == "purged"
    assert shown["purged_at"]
    assert shown["object_count"] == 3
    assert shown["objects"] == []
    with evidence.database.reading() as session:
        left = session.scalars(select(EvidenceObject.package_id).distinct()).all()
    assert sorted(left) == sorted([recent, held])
    with pytest.raises(EvidenceError, match="purged"):
        evidence.read(old, OBJECTS[0][0], actor="t")
    with pytest.raises(EvidenceError, match="purged"):
        evidence.hold(old, "too late", actor="user:lee")
    [entry] = _audit(evidence.database, "evidence.purge")
    assert entry.target == f"evidence:{old}"
    assert entry.actor == "system"
    assert [p["id"] for p in evidence.list(actor="t", status="purged")] == [old]


def test_upkeep_purges_due_evidence(evidence: Evidence, settings: Settings) -> None:
    old = preserved(evidence, finished_at=long_ago())
    assert run_upkeep(evidence.database, settings)["evidence_purged"] == 1
    assert evidence.show(old, actor="t")["status"] == "purged"


# -- concurrency -------------------------------------------------------------------------


def test_a_hold_committed_after_the_purge_listed_it_still_wins(
    evidence: Evidence, monkeypatch: pytest.MonkeyPatch
) -> None:
    package_id = preserved(evidence, finished_at=long_ago())
    purge_one = Purger.purge
    placed: list[dict[str, Any]] = []

    def hold_first(*args: Any) -> bool:
        # The purge has listed the package as due; a hold commits now, from another thread.
        holder = threading.Thread(
            target=lambda: placed.append(evidence.hold(package_id, "late", actor="user:lee"))
        )
        holder.start()
        holder.join()
        return purge_one(*args)

    monkeypatch.setattr(Purger, "purge", hold_first)
    assert evidence.purge_due() == []
    assert placed
    assert evidence.show(package_id, actor="t")["status"] == "kept"
    assert _audit(evidence.database, "evidence.purge") == []


class _PausingStore(LocalEvidenceStore):
    """Stops in the purge's first delete until released: the purge holds the package."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.deleting = threading.Event()
        self.go_on = threading.Event()

    def delete(self, path: str) -> None:
        self.deleting.set()
        self.go_on.wait(timeout=30)
        super().delete(path)


def test_a_hold_asked_for_during_a_purge_finds_it_purged(
    database: Database, settings: Settings
) -> None:
    store = _PausingStore(_root(settings))
    evidence = Evidence(database, settings, store=store)
    package_id = preserved(evidence, finished_at=long_ago())
    purged: list[list[int]] = []
    purger = threading.Thread(target=lambda: purged.append(evidence.purge_due()))
    purger.start()
    assert store.deleting.wait(timeout=30)
    errors: list[Exception] = []
    started = threading.Barrier(2)

    def hold() -> None:
        started.wait()
        try:
            evidence.hold(package_id, "too late", actor="user:lee")
        except EvidenceError as error:
            errors.append(error)

    holder = threading.Thread(target=hold)
    holder.start()
    started.wait()
    store.go_on.set()
    purger.join()
    holder.join()
    assert purged == [[package_id]]
    assert len(errors) == 1
    assert "purged" in str(errors[0])


def test_two_purgers_at_once_purge_and_audit_each_package_once(evidence: Evidence) -> None:
    packages = [preserved(evidence, finished_at=long_ago()) for _ in range(8)]
    barrier = threading.Barrier(2)
    results: list[list[int]] = []
    failures: list[BaseException] = []

    def purge() -> None:
        barrier.wait()
        try:
            results.append(evidence.purge_due())
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=purge) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(results[0] + results[1]) == packages
    audited = [int(e.target.split(":")[1]) for e in _audit(evidence.database, "evidence.purge")]
    assert sorted(audited) == packages


def test_stress_purgers_and_holders_agree(evidence: Evidence) -> None:
    packages = [preserved(evidence, finished_at=long_ago()) for _ in range(12)]
    rng = random.Random(14)
    targets = rng.sample(packages, 6)
    held: list[int] = []
    refused: list[int] = []
    barrier = threading.Barrier(3)

    def purge() -> None:
        barrier.wait()
        evidence.purge_due()

    def hold() -> None:
        barrier.wait()
        for package_id in targets:
            try:
                evidence.hold(package_id, "stress", actor="user:lee")
                held.append(package_id)
            except EvidenceError:
                refused.append(package_id)

    threads = [threading.Thread(target=purge) for _ in range(2)] + [threading.Thread(target=hold)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    evidence.purge_due()
    status = {p["id"]: p["status"] for p in evidence.list(actor="t")}
    assert all(status[p] == "kept" for p in held)
    assert all(status[p] == "purged" for p in refused)
    purged = {p for p, s in status.items() if s == "purged"}
    assert purged == set(packages) - set(held)
    audited = [int(e.target.split(":")[1]) for e in _audit(evidence.database, "evidence.purge")]
    assert sorted(audited) == sorted(purged)


# -- access ------------------------------------------------------------------------------


def test_every_access_is_audited_with_its_actor(evidence: Evidence, tmp_path: Path) -> None:
    package_id = preserved(evidence)
    evidence.list(actor="user:lee")
    evidence.show(package_id, actor="user:lee")
    evidence.read(package_id, "report.xml", actor="key:legal")
    evidence.export(package_id, tmp_path / "out", actor="cli:ops")
    with pytest.raises(UnknownEvidenceError):
        evidence.show(package_id + 1, actor="user:lee")
    seen = [
        (e.action, e.actor, e.target)
        for e in _audit(evidence.database, "evidence.*")
        if e.action != "evidence.preserve"
    ]
    target = f"evidence:{package_id}"
    assert seen == [
        ("evidence.list", "user:lee", "evidence:*"),
        ("evidence.view", "user:lee", target),
        ("evidence.read", "key:legal", target),
        ("evidence.export", "cli:ops", target),
    ]


def test_the_export_is_a_zip_whose_checksums_verify(evidence: Evidence, tmp_path: Path) -> None:
    package_id = preserved(evidence)
    exported = evidence.export(package_id, tmp_path / "out", actor="t")
    assert exported.name == f"evidence-{package_id}.zip"
    assert sorted(p.name for p in exported.parent.iterdir()) == [exported.name]
    data = exported.read_bytes()
    assert check_zip(io.BytesIO(data)) == []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert sorted(names) == sorted([n for n, _ in OBJECTS] + ["manifest.json", "SHA256SUMS"])
        for name, content in OBJECTS:
            assert archive.read(name) == content
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest == evidence.show(package_id, actor="t")["manifest"]
    broken = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(broken, "w") as copy:
        for name in source.namelist():
            copy.writestr(name, b"changed" if name == "report.xml" else source.read(name))
    assert check_zip(broken) == ["report.xml: checksum mismatch"]
    (tmp_path / "a-file").write_text("")
    with pytest.raises(EvidenceError, match="cannot write the export"):
        evidence.export(package_id, tmp_path / "a-file", actor="t")
