"""CyberTipline reports end to end against the local simulator: reports per minute.

    python benchmarks/cybertip_speed.py                     # 60 reports of 3 files, SQLite
    python benchmarks/cybertip_speed.py --reports 5 --engines sqlite postgresql

For each engine: a fresh database with a bank ``known`` holding a shipped demo
photo, a rule that queues every match for review and asks for a report on
confirmation, media kept (encrypted), an evidence master key, and the local
CyberTipline server (``hashmatch.reporting.cybertip.simulator``) on loopback.
``--reports`` times ``--files`` uploads of that photo (new bytes each), one
platform user per report, are submitted and confirmed by a reviewer.  Then,
timed: for each user, a draft of their items and its filing, each step a
real HTTP call stored with its answer (submit, an upload and a fileinfo per
file, finish) and the evidence preserved (the files, the XML, NCMEC's
answers and the metadata, encrypted).  Besides the table::

    RESULT engine=<e> reports=<n> files_per_report=<n> reports_per_minute=<x>
        p50_ms=<x> p95_ms=<x> calls_per_report=<n>

(one line).  The simulator answers at once: the figure is hashmatch's own
cost per report, not NCMEC's; a real filing waits on the network too.

PostgreSQL: ``HASHMATCH_BENCH_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``), in a schema of its own.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

from PIL import Image
from sqlalchemy import select
from worker_stall import database_url, percentile

from hashmatch.actions.media_vault import load_vault, write_new_key
from hashmatch.actions.rule_store import Rules
from hashmatch.actions.rules import parse_rule
from hashmatch.actions.submissions import References, Submissions
from hashmatch.audit import Actor, acting_as
from hashmatch.banks import Banks
from hashmatch.demo import bundled_photos
from hashmatch.hashing import HashRequest, hash_file
from hashmatch.hashlists import Entry
from hashmatch.matching import Matcher
from hashmatch.reporting.cybertip.simulator import CybertipSimulator
from hashmatch.reporting.reports import Reports
from hashmatch.review import Review, Reviewer, Verdict
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.reporting_models import CybertipCall
from hashmatch.store.workflow import ReviewItem

CREDENTIALS = "bench:bench-password"
PHOTO = next(path for path in bundled_photos() if path.name == "nature-beach-malibu.jpg")
RULE = {
    "name": "review-and-report",
    "when": {"banks": ["known"]},
    "then": [{"action": "review", "queue": "default", "on_confirm": [{"action": "report"}]}],
}
REVIEWER = Reviewer("user:bench", role="reviewer")


def photo_variant(number: int) -> bytes:
    """The banked photo with a different JPEG comment: new bytes, same picture."""
    with Image.open(PHOTO) as image:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=90, comment=f"upload {number}".encode())
    return buffer.getvalue()


def settings_for(url: str, folder: Path, ncmec: CybertipSimulator) -> Settings:
    for name in ("media.key", "evidence.key"):
        write_new_key(folder / name)
    username, password = CREDENTIALS.split(":")
    return Settings(
        data_dir=folder / "data",
        database_url=url,
        keep_media=True,
        media_key_file=folder / "media.key",
        evidence_key_file=folder / "evidence.key",
        cybertip_url=ncmec.url,
        cybertip_username=username,
        cybertip_password=password,
        cybertip_reporter_first_name="Bench",
        cybertip_reporter_last_name="Mark",
        cybertip_reporter_email="bench@example.com",
        url_allow_private=True,
    )


def confirmed_items(
    database: Database, settings: Settings, users: int, files: int
) -> list[list[int]]:
    """``users`` times ``files`` uploads of the banked photo, confirmed: each user's item ids."""
    banks = Banks(database)
    banks.create("known", labels=["A1"])
    banks.add("known", Entry(dict(hash_file(PHOTO, HashRequest()).signals)))
    rules = Rules(database)
    rules.set_enabled("review-any-match", False)
    rules.create(parse_rule(RULE))
    submissions = Submissions(database, settings, load_vault(settings))
    matcher, review = Matcher(database), Review(database, settings, banks)
    uploads = settings.data_dir / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    by_user: list[list[int]] = []
    with acting_as(Actor("key:platform")):
        for user in range(users):
            submitted = []
            for file in range(files):
                path = uploads / f"upload-{user}-{file}.jpg"
                path.write_bytes(photo_variant(user * files + file))
                done = submissions.submit_file(
                    matcher,
                    References(f"post-{user}-{file}", user_ref=f"user-{user}"),
                    hash_file(path, HashRequest()),
                    path,
                    filename=path.name,
                )
                submitted.append(done.answer["submission_id"])
            with database.reading() as session:
                items = list(
                    session.scalars(
                        select(ReviewItem.id)
                        .where(ReviewItem.submission_id.in_(submitted))
                        .order_by(ReviewItem.id)
                    )
                )
            for item in items:
                review.decisions.decide(item, REVIEWER, Verdict("confirm", classification="A1"))
            by_user.append(items)
    return by_user


def run(engine: str, reports: int, files: int) -> None:
    with (
        tempfile.TemporaryDirectory() as folder,
        CybertipSimulator(CREDENTIALS) as ncmec,
        database_url(engine, Path(folder)) as url,
    ):
        settings = settings_for(url, Path(folder), ncmec)
        database = Database.open(url)
        try:
            by_user = confirmed_items(database, settings, reports, files)
            service = Reports(database, settings)
            timings = []
            started = time.perf_counter()
            for items in by_user:
                begun = time.perf_counter()
                report_id = service.draft(items, actor="user:bench")
                status = service.file(report_id)["status"]
                timings.append((time.perf_counter() - begun) * 1000)
                if status != "finished":
                    raise SystemExit(f"report {report_id} ended {status}")
            elapsed = time.perf_counter() - started
            with database.reading() as session:
                calls = session.query(CybertipCall).count()
        finally:
            database.close()
        finished = len(ncmec.finished_reports())
    if finished != reports:
        raise SystemExit(f"the simulator finished {finished} reports, not {reports}")
    per_minute = reports / elapsed * 60
    print(f"{engine:<11} {reports} reports of {files} files in {elapsed:.2f} s")
    print(
        f"RESULT engine={engine} reports={reports} files_per_report={files} "
        f"reports_per_minute={per_minute:.0f} p50_ms={percentile(timings, 50):.1f} "
        f"p95_ms={percentile(timings, 95):.1f} calls_per_report={calls / reports:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=60)
    parser.add_argument("--files", type=int, default=3, help="files per report")
    parser.add_argument("--engines", nargs="+", default=["sqlite"])
    args = parser.parse_args()
    for engine in args.engines:
        run(engine, args.reports, args.files)


if __name__ == "__main__":
    main()
