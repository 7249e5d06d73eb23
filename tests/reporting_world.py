"""A world to report from, shared by the CyberTipline tests: the review world
(tests/review_world.py: a bank ``known``, the rule ``review-known`` that asks
for a report on confirmation, kept media), reporter settings, confirmed
review items of chosen platform users, and a ``Reports`` service filing to a
local CyberTipline simulator, its evidence preserved under a key made for
the test.

    world = ReportingWorld.make(database, settings, ncmec)
    items = world.confirmed(3, user="user-7")        # three confirmed items of one user
    reports = world.reports()
    report_id = reports.draft(items, actor="user:alice")
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hashmatch.actions.media_vault import write_new_key
from hashmatch.actions.submissions import References
from hashmatch.audit import Actor, acting_as
from hashmatch.banks import Banks
from hashmatch.hashing import HashRequest, hash_file
from hashmatch.reporting.cybertip.client import Call, CybertipClient
from hashmatch.reporting.cybertip.simulator import CybertipSimulator
from hashmatch.reporting.evidence import Evidence
from hashmatch.reporting.reports import Reports
from hashmatch.review.decisions import Verdict
from hashmatch.review.desk import Review
from hashmatch.review.reviewer import Reviewer
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.workflow import ReviewItem
from tests.review_world import ReviewWorld, _variant, review_settings

CREDENTIALS = ("reporter", "s3cret-pass")
REPORTER = {
    "cybertip_reporter_first_name": "Ada",
    "cybertip_reporter_last_name": "Lovelace",
    "cybertip_reporter_email": "tips@example.com",
    "cybertip_legal_url": "https://example.com/legal",
}
ALICE = Reviewer("user:alice", role="reviewer")
UPLOADED_AT = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)


def reporting_settings(database_url: str, tmp_path: Path, **values: Any) -> Settings:
    """The review world's settings, with a reporter and an evidence key set."""
    key = tmp_path / "evidence.key"
    if not key.exists():
        write_new_key(key)
    return review_settings(
        database_url, tmp_path, **{**REPORTER, "evidence_key_file": key, **values}
    )


def server_settings(tmp_path: Path, ncmec: CybertipSimulator) -> dict[str, Any]:
    """Settings of a server that keeps media and files to ``ncmec`` (the
    reporter and both keys set): for the web and browser tests' servers."""
    keys = reporting_settings("sqlite://", tmp_path)
    return {
        **REPORTER,
        "media_key_file": keys.media_key_file,
        "evidence_key_file": keys.evidence_key_file,
        "keep_media": True,
        "cybertip_url": ncmec.url,
        "cybertip_username": CREDENTIALS[0],
        "cybertip_password": CREDENTIALS[1],
        "url_allow_private": True,
    }


def simulator() -> CybertipSimulator:
    return CybertipSimulator(credentials=":".join(CREDENTIALS))


class ScriptedClient(CybertipClient):
    """A client that runs a test's action just before or just after a chosen
    call (to arm a simulator fault for it, move NCMEC's clock, or stop a
    process there).

        client.before("upload", lambda: ncmec.fail_next("wrong_md5"), nth=2)
        client.after("finish", pause_forever)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._counts: dict[str, int] = {}
        self._actions: dict[tuple[str, str, int], Callable[[], None]] = {}

    def before(self, endpoint: str, action: Callable[[], None], *, nth: int = 1) -> None:
        """Run ``action`` before the ``nth`` call to ``endpoint`` from now on."""
        self._actions[("before", endpoint, self._counts.get(endpoint, 0) + nth)] = action

    def after(self, endpoint: str, action: Callable[[], None], *, nth: int = 1) -> None:
        """Run ``action`` once the ``nth`` call to ``endpoint`` from now on succeeded."""
        self._actions[("after", endpoint, self._counts.get(endpoint, 0) + nth)] = action

    def _around(self, endpoint: str, send: Callable[[], Call]) -> Call:
        number = self._counts[endpoint] = self._counts.get(endpoint, 0) + 1
        before = self._actions.pop(("before", endpoint, number), None)
        after = self._actions.pop(("after", endpoint, number), None)
        if before is not None:
            before()
        call = send()
        if after is not None:
            after()
        return call

    def submit(self, xml: bytes) -> Call:
        return self._around("submit", lambda: super(ScriptedClient, self).submit(xml))

    def upload(self, report_id: str, filename: str, data: bytes) -> Call:
        return self._around(
            "upload", lambda: super(ScriptedClient, self).upload(report_id, filename, data)
        )

    def file_info(self, xml: bytes) -> Call:
        return self._around("fileinfo", lambda: super(ScriptedClient, self).file_info(xml))

    def finish(self, report_id: str) -> Call:
        return self._around("finish", lambda: super(ScriptedClient, self).finish(report_id))

    def retract(self, report_id: str) -> Call:
        return self._around("retract", lambda: super(ScriptedClient, self).retract(report_id))


@dataclass
class ReportingWorld:
    review_world: ReviewWorld
    review: Review
    ncmec: CybertipSimulator
    _uploads: int = 0

    @classmethod
    def make(
        cls, database: Database, settings: Settings, ncmec: CybertipSimulator
    ) -> ReportingWorld:
        world = ReviewWorld.make(database, settings)
        return cls(world, Review(database, settings, Banks(database)), ncmec)

    @property
    def database(self) -> Database:
        return self.review_world.database

    @property
    def settings(self) -> Settings:
        return self.review_world.settings

    def client(self, *, timeout: float = 5.0) -> ScriptedClient:
        return ScriptedClient(self.ncmec.url, *CREDENTIALS, timeout=timeout, allow_private=True)

    def reports(self, *, timeout: float = 5.0, settings: Settings | None = None) -> Reports:
        """The service, filing to the simulator through a ScriptedClient (``.client``)."""
        return Reports(
            self.database,
            settings or self.settings,
            vault=self.review_world.vault,
            client=self.client(timeout=timeout),
        )

    def evidence(self) -> Evidence:
        return Evidence(self.database, self.settings)

    def uploaded(
        self, count: int, *, user: str = "user-1", metadata: dict[str, Any] | None = None
    ) -> list[int]:
        """``count`` uploads of the banked photo by ``user`` (new bytes each):
        the review items they opened."""
        submission_ids = []
        with acting_as(Actor("key:platform")):
            for _ in range(count):
                self._uploads += 1
                number = self._uploads
                path = self.settings.data_dir / f"report-upload-{number}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(_variant(1000 + number))
                done = self.review_world.submissions.submit_file(
                    self.review_world.matcher,
                    References(
                        f"post-{number}",
                        user_ref=user,
                        uploaded_at=UPLOADED_AT + timedelta(minutes=number),
                        content_url=f"https://example.com/p/{number}",
                        metadata=metadata or {},
                    ),
                    hash_file(path, HashRequest(dihedral=True)),
                    path,
                    filename=path.name,
                )
                submission_ids.append(done.answer["submission_id"])
        with self.database.reading() as session:
            found = dict(
                session.execute(
                    select(ReviewItem.submission_id, ReviewItem.id).where(
                        ReviewItem.submission_id.in_(submission_ids)
                    )
                ).all()
            )
        return [found[submission] for submission in submission_ids]

    def confirm(self, item_ids: Sequence[int], *, classification: str = "A1") -> None:
        for item_id in item_ids:
            self.review.decisions.decide(
                item_id, ALICE, Verdict("confirm", classification=classification)
            )

    def confirmed(
        self,
        count: int,
        *,
        user: str = "user-1",
        classification: str = "A1",
        metadata: dict[str, Any] | None = None,
    ) -> list[int]:
        """``count`` confirmed review items of ``user``, their media kept."""
        item_ids = self.uploaded(count, user=user, metadata=metadata)
        self.confirm(item_ids, classification=classification)
        return item_ids
