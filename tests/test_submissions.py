"""Submissions on both engines: verdicts from rules, idempotency, what a
verdict writes (once), kept media encrypted and purged, and racing retries."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from hashmatch import audit
from hashmatch.actions import submissions as submissions_module
from hashmatch.actions.media_vault import (
    MediaVault,
    load_vault,
    new_key_text,
    parse_key,
    write_new_key,
)
from hashmatch.actions.rule_store import Rules
from hashmatch.actions.rules import parse_rule
from hashmatch.actions.submissions import References, Submissions, Submitted
from hashmatch.actions.upkeep import run_upkeep
from hashmatch.audit import Actor, acting_as
from hashmatch.banks import Banks
from hashmatch.errors import InvalidFieldError, MediaKeyError, SubmissionError
from hashmatch.hashing import HashRequest, hash_file
from hashmatch.hashlists import Entry
from hashmatch.matching import Matcher
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.models import AuditEntry, utcnow
from hashmatch.store.workflow import (
    Delivery,
    Event,
    KeptMedia,
    ReportRequest,
    ReviewItem,
    Submission,
    Webhook,
)
from tests.conftest import DATA, noise_image

PHOTO = DATA / "photos" / "nature-beach-malibu.jpg"
PHOTO_HASHES = hash_file(PHOTO, HashRequest()).signals
NO_MATCH = [("md5", "0" * 32)]

#: Every kind of action, on a match in the bank "known".
ACT_ON_KNOWN = {
    "name": "act-on-known",
    "when": {"banks": ["known"]},
    "then": [
        {"action": "block"},
        {"action": "review", "queue": "urgent", "priority": 1},
        {"action": "report"},
        {"action": "webhook", "webhook": "hook"},
    ],
}


def make_world(database: Database, *rules: dict[str, Any]) -> None:
    """A bank "known" holding PHOTO, two webhooks ("hook", named by rules
    only; "all", subscribed to every verdict) and ``rules`` (the default
    rule, review-any-match, turned off)."""
    banks = Banks(database)
    banks.create("known", labels=["A1"])
    banks.add("known", Entry(dict(PHOTO_HASHES)))
    with database.transaction() as session:
        session.add(Webhook(name="hook", url="http://127.0.0.1:9/hook", events=[], secret="s"))
        session.add(
            Webhook(
                name="all", url="http://127.0.0.1:9/all", events=["submission.verdict"], secret="s"
            )
        )
    Rules(database).set_enabled("review-any-match", False)
    for rule in rules:
        Rules(database).create(parse_rule(rule))


def settings_for(database_url: str, tmp_path: Path, **values: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, **values)


def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "media.key"
    if not path.exists():
        write_new_key(path)
    return path


@pytest.fixture
def world(database: Database) -> Database:
    make_world(database, ACT_ON_KNOWN)
    return database


@pytest.fixture
def matcher(world: Database) -> Matcher:
    return Matcher(world)


@pytest.fixture
def submissions(world: Database, database_url: str, tmp_path: Path) -> Submissions:
    return Submissions(world, settings_for(database_url, tmp_path), None)


def count(database: Database, table: Any) -> int:
    with database.reading() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def event_types(database: Database) -> list[str]:
    with database.reading() as session:
        return sorted(session.scalars(select(Event.type)))


def deliveries(database: Database) -> set[tuple[str, str]]:
    """(webhook, event type) of each delivery job."""
    with database.reading() as session:
        rows = session.execute(
            select(Webhook.name, Event.type)
            .join(Delivery, Delivery.webhook_id == Webhook.id)
            .join(Event, Event.id == Delivery.event_id)
        )
        return {(name, kind) for name, kind in rows}


# -- verdicts and what they write ------------------------------------------------


def test_a_match_blocks_and_sets_every_action_going(
    world: Database, matcher: Matcher, submissions: Submissions
) -> None:
    with acting_as(Actor("key:platform")):
        done = submissions.submit_hashes(
            matcher, References("upload-1", user_ref="u-9"), [("pdq", PHOTO_HASHES["pdq"])]
        )
    assert not done.replayed
    answer = done.answer
    assert answer["verdict"] == "block"
    assert [m["bank"] for m in answer["matches"]] == ["known"]
    assert answer["actions"] == [
        {"rule": "act-on-known", "action": "block", "status": "applied"},
        {
            "rule": "act-on-known",
            "action": "review",
            "queue": "urgent",
            "priority": 1,
            "status": "queued",
        },
        {"rule": "act-on-known", "action": "report", "status": "pending"},
        {"rule": "act-on-known", "action": "webhook", "webhook": "hook", "status": "pending"},
    ]
    with world.reading() as session:
        row = session.get(Submission, answer["submission_id"])
        assert row is not None
        assert (row.actor, row.content_type, row.user_ref) == ("key:platform", "photo", "u-9")
        assert row.signals == {"pdq": [PHOTO_HASHES["pdq"]]}
        [review] = session.scalars(select(ReviewItem)).all()
        assert (review.queue, review.priority, review.rule, review.status) == (
            "urgent",
            1,
            "act-on-known",
            "open",
        )
        [report] = session.scalars(select(ReportRequest)).all()
        assert (report.submission_id, report.status) == (row.id, "pending")
    assert event_types(world) == ["submission.matched", "submission.verdict"]
    # The named webhook gets the matched event; the subscriber, the verdict.
    assert deliveries(world) == {("hook", "submission.matched"), ("all", "submission.verdict")}
    assert count(world, KeptMedia) == 0  # nothing to keep: hashes only


def test_no_match_is_allowed_and_announced_as_a_verdict_only(
    world: Database, matcher: Matcher, submissions: Submissions
) -> None:
    done = submissions.submit_hashes(matcher, References("upload-2"), NO_MATCH)
    assert (done.answer["verdict"], done.answer["matches"], done.answer["actions"]) == (
        "allow",
        [],
        [],
    )
    assert event_types(world) == ["submission.verdict"]
    assert count(world, ReviewItem) == 0
    assert submissions.get(done.answer["submission_id"])["content_type"] == "file"


def test_a_rule_changed_elsewhere_applies_to_the_next_submission(
    world: Database, matcher: Matcher, database_url: str, tmp_path: Path
) -> None:
    fresh = Submissions(world, settings_for(database_url, tmp_path), None)
    query = [("pdq", PHOTO_HASHES["pdq"])]
    assert fresh.submit_hashes(matcher, References("a"), query).answer["verdict"] == "block"
    elsewhere = Database.open(database_url)  # another process's connection
    Rules(elsewhere).set_enabled("act-on-known", False)
    assert fresh.submit_hashes(matcher, References("b"), query).answer["verdict"] == "allow"
    Rules(elsewhere).set_enabled("act-on-known", True)
    elsewhere.close()
    assert fresh.submit_hashes(matcher, References("c"), query).answer["verdict"] == "block"


# -- idempotency -----------------------------------------------------------------


def test_the_same_content_ref_gets_the_first_answer_and_acts_once(
    world: Database, matcher: Matcher, submissions: Submissions
) -> None:
    first = submissions.submit_hashes(matcher, References("same"), [("pdq", PHOTO_HASHES["pdq"])])
    again = submissions.submit_hashes(matcher, References("same"), NO_MATCH)
    assert again == Submitted(first.answer, replayed=True)
    assert count(world, Submission) == 1
    assert count(world, ReviewItem) == count(world, ReportRequest) == 1
    assert len(event_types(world)) == 2


def test_an_idempotency_key_wins_over_the_content_ref(
    world: Database, matcher: Matcher, submissions: Submissions
) -> None:
    first = submissions.submit_hashes(
        matcher, References("ref-a", idempotency_key="k1"), NO_MATCH
    ).answer
    by_key = submissions.submit_hashes(matcher, References("ref-b", idempotency_key="k1"), NO_MATCH)
    assert by_key == Submitted(first, replayed=True)
    other_key = submissions.submit_hashes(
        matcher, References("ref-a", idempotency_key="k2"), NO_MATCH
    )
    assert not other_key.replayed
    assert other_key.answer["submission_id"] != first["submission_id"]


def test_after_the_window_a_content_ref_is_a_new_submission(
    world: Database, matcher: Matcher, submissions: Submissions
) -> None:
    first = submissions.submit_hashes(matcher, References("old"), NO_MATCH).answer
    with world.transaction() as session:
        session.execute(update(Submission).values(created_at=utcnow() - timedelta(hours=25)))
    later = submissions.submit_hashes(matcher, References("old"), NO_MATCH)
    assert not later.replayed
    assert later.answer["submission_id"] != first["submission_id"]
    with world.reading() as session:
        keys = dict(session.execute(select(Submission.id, Submission.dedupe_key)).all())
    assert keys == {first["submission_id"]: None, later.answer["submission_id"]: "ref:old"}


def test_upkeep_frees_keys_past_the_window(
    world: Database, matcher: Matcher, submissions: Submissions
) -> None:
    submissions.submit_hashes(matcher, References("stale"), NO_MATCH)
    submissions.submit_hashes(matcher, References("fresh"), NO_MATCH)
    with world.transaction() as session:
        session.execute(
            update(Submission)
            .where(Submission.content_ref == "stale")
            .values(created_at=utcnow() - timedelta(hours=30))
        )
    done = run_upkeep(world, submissions.settings)
    assert done["dedupe_keys_cleared"] == 1
    with world.reading() as session:
        live = set(session.scalars(select(Submission.dedupe_key)))
    assert live == {None, "ref:fresh"}


# -- what is refused -------------------------------------------------------------


@pytest.mark.parametrize(
    ("refs", "error", "named"),
    [
        (References(""), SubmissionError, "content_ref"),
        (References("x" * 201), InvalidFieldError, "content_ref"),
        (References("a\x00b"), InvalidFieldError, "content_ref"),
        (References("a", user_ref="line\nbreak"), InvalidFieldError, "user_ref"),
        (References("a", metadata={"big": "x" * 20_000}), InvalidFieldError, "metadata"),
        (References("a", metadata=[1]), SubmissionError, "metadata"),  # type: ignore[arg-type]
        (References("a", idempotency_key=""), SubmissionError, "Idempotency-Key"),
    ],
)
def test_references_that_cannot_be_stored(
    submissions: Submissions, matcher: Matcher, refs: References, error: type, named: str
) -> None:
    with pytest.raises(error, match=named):
        submissions.submit_hashes(matcher, refs, NO_MATCH)
    assert count(submissions.database, Submission) == 0


def test_keeping_media_without_a_key_is_refused(submissions: Submissions, matcher: Matcher) -> None:
    result = hash_file(PHOTO, HashRequest(dihedral=True))
    with pytest.raises(SubmissionError, match="no media key"):
        submissions.submit_file(matcher, References("k", keep_media=True), result, PHOTO, "a.jpg")


# -- kept media ------------------------------------------------------------------


@pytest.fixture
def keeping(world: Database, database_url: str, tmp_path: Path) -> Submissions:
    settings = settings_for(
        database_url, tmp_path, keep_media=True, media_key_file=key_file(tmp_path)
    )
    return Submissions(world, settings, load_vault(settings))


def submit_photo(submissions: Submissions, matcher: Matcher, ref: str, path: Path = PHOTO) -> int:
    result = hash_file(path, HashRequest(dihedral=True))
    done = submissions.submit_file(matcher, References(ref), result, path, path.name)
    return int(done.answer["submission_id"])


def test_kept_media_is_encrypted_and_bound_to_its_submission(
    world: Database, matcher: Matcher, keeping: Submissions, tmp_path: Path
) -> None:
    other_path = tmp_path / "other.png"
    noise_image(64, 64, seed=3).save(other_path)
    first = submit_photo(keeping, matcher, "kept")
    # An allowed upload needs no review or report: nothing is kept.
    assert submit_photo(keeping, matcher, "allowed", other_path)
    assert count(world, KeptMedia) == 1
    plain = PHOTO.read_bytes()
    with world.reading() as session:
        kept = session.scalars(select(KeptMedia)).one()
    assert plain[100:200] not in kept.ciphertext
    assert (kept.size, kept.filename) == (len(plain), PHOTO.name)
    assert keeping.media(first).data == plain
    assert keeping.get(first)["kept_media"] == {"size": len(plain), "filename": PHOTO.name}

    vault = keeping.vault
    assert vault is not None
    tampered = bytes([kept.ciphertext[0] ^ 1]) + kept.ciphertext[1:]
    with pytest.raises(MediaKeyError, match="does not decrypt"):
        vault.decrypt(kept.nonce, tampered, submission_id=first, key_id=kept.key_id)
    with pytest.raises(MediaKeyError, match="does not decrypt"):
        vault.decrypt(kept.nonce, kept.ciphertext, submission_id=first + 1, key_id=kept.key_id)
    stranger = MediaVault(parse_key(new_key_text(), "test"))
    with pytest.raises(MediaKeyError, match="kept with key"):
        stranger.decrypt(kept.nonce, kept.ciphertext, submission_id=first, key_id=kept.key_id)


def test_media_is_purged_when_nothing_needs_it_and_audited(
    world: Database, matcher: Matcher, keeping: Submissions
) -> None:
    kept_for = submit_photo(keeping, matcher, "purge-me")
    assert run_upkeep(world, keeping.settings)["media_purged"] == 0  # review and report open
    with world.transaction() as session:
        session.execute(update(ReviewItem).values(status="closed"))
    assert run_upkeep(world, keeping.settings)["media_purged"] == 0  # the report still needs it
    with world.transaction() as session:
        session.execute(update(ReportRequest).values(status="filed"))
    assert run_upkeep(world, keeping.settings)["media_purged"] == 1
    assert count(world, KeptMedia) == 0
    with world.reading() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "media.purge"))
        [entry] = entries.all()
    assert (entry.target, entry.actor) == (f"submission:{kept_for}", audit.SYSTEM.name)
    assert run_upkeep(world, keeping.settings)["media_purged"] == 0


def test_media_keys_that_are_not_keys(tmp_path: Path, database_url: str) -> None:
    short = tmp_path / "short.key"
    short.write_text(base64.b64encode(b"x" * 16).decode())
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not base64 at all!")
    cases = [
        ({"media_key_file": short}, "gives 16 bytes"),
        ({"media_key_file": garbage}, "does not give a base64 key"),
        ({"media_key_file": tmp_path / "missing.key"}, "cannot read the key"),
        ({"media_key_command": "false"}, "failed"),
        ({"media_key_command": "/nonexistent/keytool"}, "could not run"),
        ({"media_key_command": "echo c2hvcnQ="}, "gives 5 bytes"),
    ]
    for values, message in cases:
        settings = settings_for(database_url, tmp_path, keep_media=True, **values)
        with pytest.raises(MediaKeyError, match=message) as raised:
            load_vault(settings)
        where = str(values.get("media_key_file") or values.get("media_key_command"))
        assert where in str(raised.value)
    good = settings_for(database_url, tmp_path, media_key_command=f"cat {key_file(tmp_path)}")
    assert load_vault(good) is not None


def test_a_new_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = key_file(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(parse_key(path.read_text(), "test")) == 32
    before = path.read_text()
    with pytest.raises(MediaKeyError, match="refusing to overwrite"):
        write_new_key(path)
    assert path.read_text() == before


# -- races -----------------------------------------------------------------------


@pytest.fixture
def paused_writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, ...]]:
    """The first submission's transaction stops after its insert (inside the
    transaction) until ``release`` is set; ``inserted`` says it got there."""
    inserted, release = threading.Event(), threading.Event()
    announce = submissions_module._announce
    first = threading.Lock()

    def paused(*args: Any) -> None:
        if first.acquire(blocking=False):
            inserted.set()
            assert release.wait(60)
        announce(*args)

    monkeypatch.setattr(submissions_module, "_announce", paused)
    yield inserted, release
    release.set()


def wait_until_blocked(database: Database, entered: threading.Event) -> None:
    """Until the second writer waits on the first: on PostgreSQL, for the
    row lock of the unique index; on SQLite, at the write lock."""
    assert entered.wait(60)
    if database.dialect != "postgresql":
        return
    for _ in range(6000):
        with database.reading() as session:
            waiting = session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database() AND query LIKE 'INSERT INTO submissions%'"
                )
            )
        if waiting:
            return
        threading.Event().wait(0.01)
    raise AssertionError("the second writer never waited for the first")


def test_two_racing_retries_write_once_and_answer_alike(
    world: Database,
    matcher: Matcher,
    submissions: Submissions,
    paused_writes: tuple[threading.Event, ...],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inserted, release = paused_writes
    results: dict[str, Submitted] = {}
    query = [("pdq", PHOTO_HASHES["pdq"])]

    def submit(name: str) -> None:
        results[name] = submissions.submit_hashes(matcher, References("raced"), query)

    # The second writer's turn to write begins (and blocks) while the first holds it.
    entered = threading.Event()
    transaction = world.transaction

    def entering() -> Any:
        if threading.current_thread().name == "second":
            entered.set()
        return transaction()

    monkeypatch.setattr(world, "transaction", entering)
    lost_the_index: list[str] = []
    live = submissions._live

    def reread(key: str) -> dict[str, Any] | None:
        lost_the_index.append(key)
        return live(key)

    monkeypatch.setattr(submissions, "_live", reread)
    first = threading.Thread(target=submit, args=("first",), name="first")
    first.start()
    assert inserted.wait(60)
    second = threading.Thread(target=submit, args=("second",), name="second")
    second.start()
    wait_until_blocked(world, entered)
    release.set()
    first.join(60)
    second.join(60)
    assert results["second"] == Submitted(results["first"].answer, replayed=True)
    assert not results["first"].replayed
    assert count(world, Submission) == 1
    assert count(world, ReviewItem) == count(world, ReportRequest) == 1
    assert event_types(world) == ["submission.matched", "submission.verdict"]
    # PostgreSQL: the second read no earlier submission, and the unique index
    # refused its insert.  SQLite: it began after the first committed.
    assert lost_the_index == (["ref:raced"] if world.dialect == "postgresql" else [])


def test_many_racing_submissions_write_once_per_content_ref(
    world: Database, matcher: Matcher, submissions: Submissions
) -> None:
    refs = ["r0", "r1", "r2"]
    threads = 9
    barrier = threading.Barrier(threads)
    answers: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()

    def submit(index: int) -> None:
        ref = refs[index % len(refs)]
        barrier.wait(60)
        done = submissions.submit_hashes(matcher, References(ref), [("pdq", PHOTO_HASHES["pdq"])])
        with lock:
            answers.append((ref, done.answer))

    workers = [threading.Thread(target=submit, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert len(answers) == threads
    by_ref: dict[str, list[dict[str, Any]]] = {}
    for ref, answer in answers:
        by_ref.setdefault(ref, []).append(answer)
    for given in by_ref.values():
        assert all(answer == given[0] for answer in given)
    assert count(world, Submission) == len(refs)
    assert count(world, ReviewItem) == count(world, ReportRequest) == len(refs)
    assert count(world, Event) == 2 * len(refs)
