"""A world to review in, shared by the review queue's tests (core, API, CLI,
pages, browser): a bank ``known`` holding a benign photo, an allowlist bank
``ours-ok``, a webhook ``hook``, and the rule ``review-known`` that sends
every match in ``known`` to the queue ``default`` with a report and an
event to ``hook`` after a confirmation, and an event to ``hook`` after a
false positive.  Submissions keep their media (encrypted under a key made
for the test) so that pages have something to show and purges something
to purge.

    world = ReviewWorld.make(database, settings)
    item_ids = world.queue_photos(3)        # three submissions, three open items
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import update

from hashmatch.actions.media_vault import MediaVault, load_vault, write_new_key
from hashmatch.actions.rule_store import Rules
from hashmatch.actions.rules import parse_rule
from hashmatch.actions.submissions import References, Submissions
from hashmatch.audit import Actor, acting_as
from hashmatch.banks import Banks
from hashmatch.hashing import HashRequest, hash_file
from hashmatch.hashlists import Entry
from hashmatch.matching import Matcher
from hashmatch.settings import Settings
from hashmatch.store import Content, Database
from hashmatch.store.workflow import ReviewItem, Webhook
from tests.conftest import DATA

PHOTO = DATA / "photos" / "nature-beach-malibu.jpg"
REVIEW_KNOWN = {
    "name": "review-known",
    "when": {"banks": ["known"]},
    "then": [
        {
            "action": "review",
            "queue": "default",
            "on_confirm": [{"action": "report"}, {"action": "webhook", "webhook": "hook"}],
            "on_false_positive": [{"action": "webhook", "webhook": "hook"}],
        }
    ],
}


def review_settings(database_url: str, tmp_path: Path, **values: Any) -> Settings:
    """Settings with a media key (made once per test directory) and media kept."""
    key = tmp_path / "media.key"
    if not key.exists():
        write_new_key(key)
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        media_key_file=key,
        keep_media=True,
        **values,
    )


@dataclass
class ReviewWorld:
    database: Database
    settings: Settings
    vault: MediaVault
    submissions: Submissions
    matcher: Matcher

    @classmethod
    def make(
        cls, database: Database, settings: Settings, *, webhook_url: str = "http://127.0.0.1:9/hook"
    ) -> ReviewWorld:
        banks = Banks(database)
        banks.create("known", labels=["A1"])
        banks.add("known", Entry(dict(hash_file(PHOTO, HashRequest()).signals)))
        banks.create("ours-ok", kind="allowlist")
        with database.transaction() as session:
            session.add(Webhook(name="hook", url=webhook_url, events=[], secret="s"))
        rules = Rules(database)
        rules.set_enabled("review-any-match", False)
        rules.create(parse_rule(REVIEW_KNOWN))
        vault = load_vault(settings)
        assert vault is not None
        return cls(
            database, settings, vault, Submissions(database, settings, vault), Matcher(database)
        )

    def fetched_from_an_exchange(self) -> None:
        """The bank photo as if the exchange ``sim`` had sent it (so review
        opinions on it are pending, for the sender)."""
        with self.database.transaction() as session:
            session.execute(update(Content).values(source="exchange:sim", external_id="7-photo"))

    def queue_photos(self, count: int, *, start: int = 0) -> list[int]:
        """``count`` uploads of the banked photo (each slightly different
        bytes, one submission each); the review items they opened."""
        ids = []
        with acting_as(Actor("key:platform")):
            for number in range(start, start + count):
                path = self.settings.data_dir / f"upload-{number}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(_variant(number))
                done = self.submissions.submit_file(
                    self.matcher,
                    References(f"upload-{number}", user_ref=f"user-{number % 3}"),
                    hash_file(path, HashRequest(dihedral=True)),
                    path,
                    filename=path.name,
                )
                ids.append(done.answer["submission_id"])
        with self.database.reading() as session:
            found = dict(
                session.query(ReviewItem.submission_id, ReviewItem.id).filter(
                    ReviewItem.submission_id.in_(ids)
                )
            )
        return [found[submission] for submission in ids]


def _variant(number: int) -> bytes:
    """The banked photo, re-encoded with a different comment: new bytes, same picture."""
    with Image.open(PHOTO) as image:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=90, comment=f"upload {number}".encode())
    return buffer.getvalue()
