"""A platform user with a history, for the platform-users tests (library,
API, CLI, pages): uploads that match the banked photo (a review item each)
and uploads that match nothing, review decisions, an appeal, statements of
reasons (on), and CyberTipline reports made as rows.

    world = UserWorld.make(database, settings)
    history = world.busy_user("user-7")   # what was made, by kind
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from hashmatch.actions.submissions import References
from hashmatch.audit import Actor, acting_as
from hashmatch.banks import Banks
from hashmatch.hashing import HashRequest, hash_file
from hashmatch.review import Review, Reviewer, Verdict
from hashmatch.review.appeals import AppealTarget
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.models import utcnow
from hashmatch.store.reporting_models import (
    CybertipFile,
    CybertipReport,
    EvidenceHold,
    EvidencePackage,
)
from hashmatch.store.workflow import ReviewItem
from tests.review_world import ReviewWorld, _variant, review_settings

ALICE = Reviewer("user:alice", role="reviewer")
#: A PDQ hash far from the banked photo's: a submission that matches nothing.
UNMATCHED_PDQ = "0" * 64


def user_settings(database_url: str, tmp_path: Path, **values: Any) -> Settings:
    return review_settings(database_url, tmp_path, dsa_statements_enabled=True, **values)


@dataclass
class Made:
    """What ``UserWorld.busy_user`` made for one user."""

    matched: list[int] = field(default_factory=list)
    unmatched: list[int] = field(default_factory=list)
    items: list[int] = field(default_factory=list)
    appeals: list[int] = field(default_factory=list)


@dataclass
class UserWorld:
    review_world: ReviewWorld
    review: Review
    _uploads: int = 0

    @classmethod
    def make(cls, database: Database, settings: Settings) -> UserWorld:
        world = ReviewWorld.make(database, settings)
        return cls(world, Review(database, settings, Banks(database)))

    @property
    def database(self) -> Database:
        return self.review_world.database

    def upload(self, user: str, *, matching: bool = True) -> int:
        """One submission by ``user``: the banked photo (new bytes), or a hash
        that matches nothing; its id."""
        self._uploads += 1
        number = self._uploads
        world = self.review_world
        refs = References(f"{user}-post-{number}", user_ref=user)
        with acting_as(Actor("key:platform")):
            if not matching:
                return world.submissions.submit_hashes(
                    world.matcher, refs, [("pdq", UNMATCHED_PDQ[:-4] + f"{number:04x}")]
                ).answer["submission_id"]
            path = world.settings.data_dir / f"user-upload-{number}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_variant(5000 + number))
            done = world.submissions.submit_file(
                world.matcher, refs, hash_file(path, HashRequest(dihedral=True)), path, path.name
            )
        return int(done.answer["submission_id"])

    def item_of(self, submission_id: int) -> int:
        with self.database.reading() as session:
            item = session.query(ReviewItem.id).filter_by(submission_id=submission_id).scalar()
        assert item is not None
        return int(item)

    def busy_user(self, user: str, *, matched: int = 2, unmatched: int = 1) -> Made:
        """Matched uploads (the first confirmed and appealed, the rest left
        open) and unmatched ones."""
        made = Made()
        for _ in range(matched):
            made.matched.append(self.upload(user))
            made.items.append(self.item_of(made.matched[-1]))
        for _ in range(unmatched):
            made.unmatched.append(self.upload(user, matching=False))
        if made.items:
            self.review.decisions.decide(
                made.items[0], ALICE, Verdict("confirm", classification="A1")
            )
            appeal = self.review.appeals.create(
                AppealTarget(review_item_id=made.items[0]), text="it is my beach", received_at=None
            )
            made.appeals.append(appeal["id"])
        return made

    def report(
        self, user: str, submission_ids: list[int], *, status: str, hold: bool = False
    ) -> int:
        """A CyberTipline report (a row, as if filed) holding the submissions'
        review items; a finished one with its evidence package."""
        with self.database.transaction() as session:
            report = CybertipReport(
                status=status,
                environment="test",
                user_ref=user,
                created_by="test",
                ncmec_report_id=None if status == "draft" else f"9{len(submission_ids)}1",
            )
            session.add(report)
            session.flush()
            for submission_id in submission_ids:
                digest = hashlib.sha256(str(submission_id).encode()).hexdigest()
                session.add(
                    CybertipFile(
                        report_id=report.id,
                        item_key=f"submission:{submission_id}",
                        submission_id=submission_id,
                        filename=f"{submission_id}.jpg",
                        size=10,
                        md5=digest[:32],
                        sha256=digest,
                    )
                )
            if status == "finished":
                package = EvidencePackage(
                    report_id=report.id,
                    store="/nowhere",
                    retain_until=utcnow() + timedelta(days=365),
                )
                session.add(package)
                session.flush()
                if hold:
                    session.add(
                        EvidenceHold(package_id=package.id, reason="court order", created_by="t")
                    )
            return int(report.id)
