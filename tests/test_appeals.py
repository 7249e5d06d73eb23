"""Appeals (review/appeals.py) on both engines: what can be appealed, who
is handed an appeal, what an overturn reverses, and two deciders at once."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from hashmatch.actions.submissions import References
from hashmatch.audit import Actor, acting_as
from hashmatch.errors import (
    AppealConflictError,
    AppealError,
    InvalidFieldError,
    ReviewAccessError,
    ReviewError,
    UnknownAppealError,
    UnknownReviewItemError,
    UnknownSubmissionError,
)
from hashmatch.review import Review, Reviewer, Verdict
from hashmatch.review import appeals as appeals_module
from hashmatch.review.appeals import AppealTarget
from hashmatch.store import Bank, Content, Database
from hashmatch.store.account_models import User
from hashmatch.store.models import AuditEntry, utcnow
from hashmatch.store.reporting_models import CybertipFile, CybertipReport
from hashmatch.store.review_models import Appeal, Opinion
from hashmatch.store.workflow import Event, ReportRequest, Submission
from tests.interleaving import PATIENCE, PausedInside, SecondWriter, started
from tests.review_world import ReviewWorld
from tests.test_review import ALICE, BOB, CAROL, CONFIRM, count, open_world

TEXT = "This is a photo of my own beach holiday."


@pytest.fixture
def opened(database: Database, database_url: str, tmp_path: Path) -> tuple[ReviewWorld, Review]:
    return open_world(database, database_url, tmp_path)


def add_users(database: Database, *names: str) -> None:
    """Web users who may review (the people an appeal may be handed to)."""
    with database.transaction() as session:
        session.add_all(User(name=name, role="reviewer", password_hash="-") for name in names)


def confirmed(world: ReviewWorld, review: Review, count_: int = 1) -> list[int]:
    """``count_`` review items, each confirmed by Alice (a report requested)."""
    item_ids = world.queue_photos(count_)
    for item_id in item_ids:
        review.decisions.decide(item_id, ALICE, CONFIRM)
    return item_ids


def appeal_of(review: Review, item_id: int, text: str = TEXT) -> dict[str, Any]:
    with acting_as(Actor("key:platform")):
        return review.appeals.create(AppealTarget(review_item_id=item_id), text=text)


def events(database: Database, kind: str) -> list[dict[str, Any]]:
    with database.reading() as session:
        bodies = session.scalars(select(Event.body).where(Event.type == kind).order_by(Event.id))
        return [json.loads(body)["data"] for body in bodies]


def audit_actions(database: Database, target_prefix: str) -> list[str]:
    with database.reading() as session:
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.target.startswith(target_prefix))
                .order_by(AuditEntry.seq)
            )
        )


def allowlisted(session: Any) -> int | None:
    return session.scalar(
        select(Content.id).join(Bank, Bank.id == Content.bank_id).where(Bank.name == "ours-ok")
    )


# -- taking an appeal -------------------------------------------------------------------


def test_an_appeal_of_a_confirmation_names_its_decision_and_is_due_later(
    opened: tuple[ReviewWorld, Review], database: Database
) -> None:
    world, review = opened
    (item_id,) = confirmed(world, review)
    received = utcnow() - timedelta(hours=1)
    with acting_as(Actor("key:platform")):
        appeal = review.appeals.create(
            AppealTarget(review_item_id=item_id), text=TEXT, received_at=received
        )
    assert appeal["status"] == "open"
    assert appeal["review_item_id"] == item_id
    assert appeal["original_decider"] == ALICE.name
    assert appeal["text"] == TEXT
    assert appeal["appealed"]["decision"]["decision"] == "confirm"
    assert appeal["appealed"]["submission"]["matches"]
    due = received + timedelta(hours=world.settings.appeal_due_hours)
    assert appeal["due_at"] == due.isoformat()
    assert not appeal["overdue"]
    assert audit_actions(database, "appeal:") == ["appeal.create"]


def test_an_appeal_of_the_verdict_finds_the_confirmation_behind_it(
    opened: tuple[ReviewWorld, Review],
) -> None:
    world, review = opened
    (item_id,) = confirmed(world, review)
    submission_id = review.items.get(item_id)["submission"]["submission_id"]
    with acting_as(Actor("key:platform")):
        by_ref = review.appeals.create(AppealTarget(content_ref="upload-0"))
    assert by_ref["submission_id"] == submission_id
    assert by_ref["review_item_id"] == item_id


def test_what_cannot_be_appealed(opened: tuple[ReviewWorld, Review]) -> None:
    world, review = opened
    first, second, third = world.queue_photos(3)
    review.decisions.decide(first, ALICE, Verdict("false_positive"))
    with acting_as(Actor("key:platform")):
        allowed = world.submissions.submit_hashes(
            world.matcher, References("unmatched"), [("md5", "0" * 32)]
        ).answer
        create = review.appeals.create
        with pytest.raises(UnknownSubmissionError):
            create(AppealTarget(submission_id=10**6))
        with pytest.raises(UnknownReviewItemError):
            create(AppealTarget(review_item_id=10**6))
        with pytest.raises(AppealError, match="no submission has content_ref"):
            create(AppealTarget(content_ref="never-sent"))
        with pytest.raises(AppealError, match="restricted nothing"):
            create(AppealTarget(submission_id=allowed["submission_id"]))
        with pytest.raises(AppealError, match="false_positive: it restricted nothing"):
            create(AppealTarget(review_item_id=first))
        with pytest.raises(AppealError, match="still open"):
            create(AppealTarget(review_item_id=second))
        with pytest.raises(AppealError, match="exactly one"):
            create(AppealTarget(submission_id=1, review_item_id=third))
        with pytest.raises(InvalidFieldError, match="at most 5000"):
            create(AppealTarget(review_item_id=third), text="x" * 5001)
        with pytest.raises(InvalidFieldError, match="NUL"):
            create(AppealTarget(review_item_id=third), text="a\x00b")
    review.decisions.decide(third, ALICE, CONFIRM)
    appeal_of(review, third)
    with pytest.raises(AppealConflictError, match="is open already"):
        appeal_of(review, third)


# -- who is handed an appeal --------------------------------------------------------------


def test_the_claim_skips_the_reviewer_who_decided_when_anyone_else_can_take_it(
    opened: tuple[ReviewWorld, Review], database: Database
) -> None:
    world, review = opened
    (item_id,) = confirmed(world, review)
    appeal = appeal_of(review, item_id)
    # No one else may review: the decider is handed it rather than no one.
    assert review.appeals.claim_next(ALICE)["id"] == appeal["id"]  # type: ignore[index]
    with database.transaction() as session:
        session.execute(update(Appeal).values(claimed_by=None, claimed_until=None))
    add_users(database, "alice", "bob")
    assert review.appeals.claim_next(ALICE) is None
    with pytest.raises(ReviewAccessError, match="someone else decides it"):
        review.appeals.decide(appeal["id"], ALICE, "uphold")
    claimed = review.appeals.claim_next(BOB)
    assert claimed is not None
    assert claimed["claimed_by"] == BOB.name
    with pytest.raises(AppealConflictError, match="claimed by user:bob"):
        review.appeals.decide(appeal["id"], CAROL, "uphold")


def test_overdue_appeals_are_listed_and_counted(
    opened: tuple[ReviewWorld, Review], database: Database
) -> None:
    world, review = opened
    late, timely = confirmed(world, review, 2)
    late_id = appeal_of(review, late)["id"]
    appeal_of(review, timely)
    with database.transaction() as session:
        session.execute(
            update(Appeal)
            .where(Appeal.id == late_id)
            .values(due_at=utcnow() - timedelta(minutes=1))
        )
    assert [a["id"] for a in review.appeals.list(overdue=True)] == [late_id]
    assert review.appeals.counts() == {"open": 2, "overdue": 1}
    review.appeals.decide(late_id, BOB, "uphold")
    assert review.appeals.list(overdue=True) == []
    assert [a["id"] for a in review.appeals.list(status="decided")] == [late_id]
    with pytest.raises(AppealError, match="status must be"):
        review.appeals.list(status="closed")
    with pytest.raises(UnknownAppealError):
        review.appeals.get(10**6)


# -- deciding ----------------------------------------------------------------------------------


def test_an_upheld_appeal_changes_nothing_but_itself(
    opened: tuple[ReviewWorld, Review], database: Database
) -> None:
    world, review = opened
    (item_id,) = confirmed(world, review)
    appeal = appeal_of(review, item_id)
    decided = review.appeals.decide(appeal["id"], BOB, "uphold", note="clearly matches")
    assert (decided["status"], decided["decision"], decided["decided_by"]) == (
        "decided",
        "uphold",
        BOB.name,
    )
    assert decided["outcome"] == {}
    with database.reading() as session:
        assert session.get(Submission, appeal["submission_id"]).verdict == "review"  # type: ignore[union-attr]
    [event] = events(database, "appeal.decided")
    assert event["decision"] == "uphold"
    assert event["appeal_id"] == appeal["id"]
    assert TEXT not in json.dumps(event)
    assert audit_actions(database, "appeal:") == ["appeal.create", "appeal.decide"]
    with pytest.raises(AppealConflictError, match="decided already"):
        review.appeals.decide(appeal["id"], CAROL, "overturn")
    appeal_of(review, item_id)  # after an uphold, the user may appeal again


def test_an_overturn_reverses_what_can_be_reversed(
    opened: tuple[ReviewWorld, Review], database: Database
) -> None:
    world, review = opened
    world.fetched_from_an_exchange()
    (item_id,) = confirmed(world, review)
    submission_id = review.items.get(item_id)["submission"]["submission_id"]
    with database.transaction() as session:  # the sender told the exchange already
        session.execute(update(Opinion).values(status="sent", sent_at=utcnow()))
    appeal = appeal_of(review, item_id)
    decided = review.appeals.decide(
        appeal["id"], BOB, "overturn", note="a beach", allowlist_bank="ours-ok"
    )
    outcome = decided["outcome"]
    assert outcome["previous_verdict"] == "review"
    assert outcome["opinions"] == {"withdrawn": 0, "corrected": 1}
    assert outcome["report_requests_withdrawn"] == 1
    assert outcome["allowlist"]["banks"] == ["ours-ok"]
    assert outcome["allowlist"]["added_to"] == "ours-ok"
    assert set(outcome["allowlist"]["signals"]) >= {"pdq", "md5"}
    assert outcome["report"] is None
    with database.reading() as session:
        assert session.get(Submission, submission_id).verdict == "allow"  # type: ignore[union-attr]
        opinions = session.execute(select(Opinion.opinion, Opinion.status)).all()
        assert sorted(map(tuple, opinions)) == [("negative", "pending"), ("positive", "sent")]
        assert session.scalar(select(ReportRequest.status)) == "withdrawn"
        assert allowlisted(session)
    [event] = events(database, "appeal.decided")
    assert (event["decision"], event["verdict"], event["submission_id"]) == (
        "overturn",
        "allow",
        submission_id,
    )
    with pytest.raises(AppealError, match="overturned this decision already"):
        appeal_of(review, item_id)


def test_an_overturn_withdraws_pending_opinions_and_only_offers_the_allowlist(
    opened: tuple[ReviewWorld, Review], database: Database
) -> None:
    world, review = opened
    world.fetched_from_an_exchange()
    (item_id,) = confirmed(world, review)
    appeal = appeal_of(review, item_id)
    outcome = review.appeals.decide(appeal["id"], BOB, "overturn")["outcome"]
    assert outcome["opinions"] == {"withdrawn": 1, "corrected": 0}
    assert outcome["allowlist"]["added_to"] is None
    assert outcome["allowlist"]["content_id"] is None
    with database.reading() as session:
        assert session.scalar(select(Opinion.status)) == "withdrawn"
        assert allowlisted(session) is None


def test_a_bad_decision_changes_nothing(
    opened: tuple[ReviewWorld, Review], database: Database
) -> None:
    world, review = opened
    (item_id,) = confirmed(world, review)
    appeal = appeal_of(review, item_id)
    with pytest.raises(AppealError, match="uphold, overturn"):
        review.appeals.decide(appeal["id"], BOB, "maybe")
    with pytest.raises(AppealError, match="only an overturn"):
        review.appeals.decide(appeal["id"], BOB, "uphold", allowlist_bank="ours-ok")
    with pytest.raises(ReviewError, match="is not an allowlist"):
        review.appeals.decide(appeal["id"], BOB, "overturn", allowlist_bank="known")
    assert review.appeals.get(appeal["id"])["status"] == "open"
    with database.reading() as session:
        assert session.scalar(select(Submission.verdict)) == "review"
    assert events(database, "appeal.decided") == []


def test_an_overturn_of_a_reported_decision_tells_an_admin_and_keeps_the_report(
    opened: tuple[ReviewWorld, Review], database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    world, review = opened
    (item_id,) = confirmed(world, review)
    submission_id = review.items.get(item_id)["submission"]["submission_id"]
    with database.transaction() as session:
        report = CybertipReport(
            status="finished", environment="test", ncmec_report_id="4242", created_by="test"
        )
        session.add(report)
        session.flush()
        session.add(
            CybertipFile(
                report_id=report.id,
                item_key=f"review:{item_id}",
                review_item_id=item_id,
                submission_id=submission_id,
                filename="upload-0.jpg",
                size=1,
                md5="0" * 32,
                sha256="0" * 64,
            )
        )
        report_id = report.id
    appeal = appeal_of(review, item_id)
    with caplog.at_level("WARNING", logger="hashmatch.review.appeals"):
        notice = review.appeals.decide(appeal["id"], BOB, "overturn")["outcome"]["report"]
    assert notice["report_id"] == report_id
    assert notice["ncmec_report_id"] == "4242"
    assert "never retracts a finished report" in notice["what_to_do"]
    assert f"report {report_id}" in caplog.text
    assert audit_actions(database, "cybertip_report:") == ["appeal.report_notice"]
    with database.reading() as session:
        assert session.get(CybertipReport, report_id).status == "finished"  # type: ignore[union-attr]


# -- two deciders at once -------------------------------------------------------------------


def test_two_decisions_on_one_appeal_at_once_one_wins(
    opened: tuple[ReviewWorld, Review], database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first decider has locked the appeal and not committed; the second
    waits for it (the row lock, or SQLite's write lock), then finds it decided."""
    world, review = opened
    (item_id,) = confirmed(world, review)
    appeal_id = appeal_of(review, item_id)["id"]
    paused = PausedInside(monkeypatch, appeals_module, "_locked")
    watcher = SecondWriter(database, monkeypatch)
    results: dict[str, Any] = {}
    decide = review.appeals.decide
    one = started(lambda: decide(appeal_id, BOB, "overturn"), "first", results)
    assert paused.reached.wait(PATIENCE)
    two = started(lambda: decide(appeal_id, CAROL, "uphold"), "second", results)
    watcher.wait_until_blocked(two)
    paused.release()
    one.join(PATIENCE)
    two.join(PATIENCE)
    assert results["first"]["decision"] == "overturn"
    assert isinstance(results["second"], AppealConflictError)
    assert "decided already (overturn by user:bob)" in str(results["second"])
    assert len(events(database, "appeal.decided")) == 1
    assert count(database, Opinion, Opinion.opinion == "negative") == 0


def test_many_deciders_and_claimers_at_once(
    opened: tuple[ReviewWorld, Review], database: Database
) -> None:
    """A bounded stress: 4 appeals, 8 reviewers each claiming and deciding
    at once; every appeal is decided exactly once, with one event each."""
    world, review = opened
    appeal_ids = [appeal_of(review, item)["id"] for item in confirmed(world, review, 4)]
    people = [Reviewer(f"user:s{n}", role="reviewer") for n in range(8)]
    barrier = threading.Barrier(len(people))
    results: dict[str, Any] = {}

    def work(number: int) -> list[str]:
        barrier.wait(PATIENCE)
        outcomes = []
        for appeal_id in appeal_ids[number % 2 :: 2] + appeal_ids:
            try:
                review.appeals.claim_next(people[number])
                review.appeals.decide(appeal_id, people[number], ("uphold", "overturn")[number % 2])
                outcomes.append(f"won {appeal_id}")
            except AppealConflictError:
                outcomes.append("conflict")
        return outcomes

    threads = [started(partial(work, n), f"s{n}", results) for n in range(len(people))]
    for thread in threads:
        thread.join(PATIENCE)
    assert all(isinstance(result, list) for result in results.values()), results
    won = sorted(o for result in results.values() for o in result if o.startswith("won"))
    assert won == sorted(f"won {appeal_id}" for appeal_id in appeal_ids)
    assert sorted(e["appeal_id"] for e in events(database, "appeal.decided")) == appeal_ids
    assert count(database, Appeal, Appeal.status == "open") == 0


def test_an_appeal_of_a_verdict_no_one_reviewed_yet(
    opened: tuple[ReviewWorld, Review], database: Database
) -> None:
    """The rules held the upload for review and no one decided: the verdict
    itself is appealed, by no reviewer, and an overturn allows it."""
    world, review = opened
    (item_id,) = world.queue_photos(1)
    submission_id = review.items.get(item_id)["submission"]["submission_id"]
    with acting_as(Actor("key:platform")):
        appeal = review.appeals.create(AppealTarget(submission_id=submission_id))
    assert appeal["review_item_id"] is None
    assert appeal["original_decider"] is None
    assert appeal["appealed"] is None
    outcome = review.appeals.decide(appeal["id"], ALICE, "overturn")["outcome"]
    assert outcome["previous_verdict"] == "review"
    assert "opinions" not in outcome
    with database.reading() as session:
        assert session.get(Submission, submission_id).verdict == "allow"  # type: ignore[union-attr]


def test_two_appeals_of_one_decision_at_once_one_opens(
    opened: tuple[ReviewWorld, Review], database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first has locked the submission and checked there is no open
    appeal, and not committed; the second waits for it, then finds it open."""
    world, review = opened
    (item_id,) = confirmed(world, review)
    paused = PausedInside(monkeypatch, appeals_module, "_check_restricts")
    watcher = SecondWriter(database, monkeypatch)
    results: dict[str, Any] = {}
    one = started(lambda: appeal_of(review, item_id), "first", results)
    assert paused.reached.wait(PATIENCE)
    two = started(lambda: appeal_of(review, item_id), "second", results)
    watcher.wait_until_blocked(two)
    paused.release()
    one.join(PATIENCE)
    two.join(PATIENCE)
    assert results["first"]["status"] == "open"
    assert isinstance(results["second"], AppealConflictError)
    assert count(database, Appeal) == 1


def test_many_appeals_of_one_decision_at_once_one_opens(
    opened: tuple[ReviewWorld, Review], database: Database
) -> None:
    world, review = opened
    (item_id,) = confirmed(world, review)
    senders = 6
    barrier = threading.Barrier(senders)
    results: dict[str, Any] = {}

    def send() -> dict[str, Any]:
        barrier.wait(PATIENCE)
        return appeal_of(review, item_id)

    threads = [started(send, f"p{n}", results) for n in range(senders)]
    for thread in threads:
        thread.join(PATIENCE)
    opened_ = [r for r in results.values() if isinstance(r, dict)]
    refused = [r for r in results.values() if isinstance(r, AppealConflictError)]
    assert len(opened_) == 1
    assert len(refused) == senders - 1
    assert count(database, Appeal) == 1


def test_a_second_claimer_never_takes_the_appeal_the_first_is_claiming(
    opened: tuple[ReviewWorld, Review], database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: the second claimer passes the first's locked appeal by at
    once (SKIP LOCKED) and takes the next; SQLite: it waits for the first's
    commit, then takes the next."""
    world, review = opened
    first, second = (appeal_of(review, item)["id"] for item in confirmed(world, review, 2))
    paused = PausedInside(monkeypatch, appeals_module, "note_activity")
    watcher = SecondWriter(database, monkeypatch)
    results: dict[str, Any] = {}
    one = started(lambda: review.appeals.claim_next(BOB), "first", results)
    assert paused.reached.wait(PATIENCE)
    two = started(lambda: review.appeals.claim_next(CAROL), "second", results)
    if database.dialect == "postgresql":
        two.join(PATIENCE)
        assert not two.is_alive(), "the second claimer waited for the first"
    else:
        watcher.wait_until_blocked(two)
    paused.release()
    one.join(PATIENCE)
    two.join(PATIENCE)
    assert (results["first"]["id"], results["first"]["claimed_by"]) == (first, BOB.name)
    assert (results["second"]["id"], results["second"]["claimed_by"]) == (second, CAROL.name)
