"""The review queue's core on both engines: claims, access, due times, each
decision and what it sets going, reopening, reveals and wellness
(concurrency: tests/test_review_concurrency.py)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from hashmatch.actions.rule_store import Rules
from hashmatch.actions.rules import parse_rule
from hashmatch.audit import Actor, acting_as
from hashmatch.banks import Banks
from hashmatch.errors import (
    RevealCapError,
    ReviewAccessError,
    ReviewConflictError,
    ReviewError,
    RuleError,
    UnknownReviewItemError,
)
from hashmatch.matching import Matcher
from hashmatch.review import Review, Reviewer, Verdict
from hashmatch.review.wellness import PAUSE
from hashmatch.store import Database
from hashmatch.store.models import AuditEntry, as_utc, utcnow
from hashmatch.store.review_models import Opinion, RevealDay, ReviewerPreference, ReviewReveal
from hashmatch.store.workflow import (
    Delivery,
    Event,
    KeptMedia,
    ReportRequest,
    ReviewItem,
    Webhook,
)
from tests.review_world import PHOTO, REVIEW_KNOWN, ReviewWorld, review_settings

ALICE = Reviewer("user:alice", role="reviewer")
BOB = Reviewer("user:bob", role="reviewer")
CAROL = Reviewer("user:carol", role="reviewer")
ADMIN = Reviewer("user:root", role="admin", is_admin=True)
BOT = Reviewer("key:triage-bot")
CONFIRM = Verdict("confirm", classification="A2", annotations=("viral",))


def open_world(
    database: Database, database_url: str, tmp_path: Path, **values: Any
) -> tuple[ReviewWorld, Review]:
    """A review world (tests/review_world.py) with these settings, and a Review over it."""
    settings = review_settings(database_url, tmp_path, **values)
    return ReviewWorld.make(database, settings), Review(database, settings, Banks(database))


@pytest.fixture
def opened(database: Database, database_url: str, tmp_path: Path) -> tuple[ReviewWorld, Review]:
    return open_world(database, database_url, tmp_path)


@pytest.fixture
def world(opened: tuple[ReviewWorld, Review]) -> ReviewWorld:
    return opened[0]


@pytest.fixture
def review(opened: tuple[ReviewWorld, Review]) -> Review:
    return opened[1]


def audit_actions(database: Database, target: str | None = None) -> list[str]:
    query = select(AuditEntry.action).order_by(AuditEntry.seq)
    if target is not None:
        query = query.where(AuditEntry.target == target)
    with database.reading() as session:
        return list(session.scalars(query))


def count(database: Database, table: Any, *where: Any) -> int:
    with database.reading() as session:
        return int(session.scalar(select(func.count()).select_from(table).where(*where)) or 0)


def set_item(database: Database, item_id: int, **values: Any) -> None:
    with database.transaction() as session:
        session.execute(update(ReviewItem).where(ReviewItem.id == item_id).values(**values))


def submission_of(review: Review, item_id: int) -> int:
    return int(review.items.get(item_id)["submission"]["submission_id"])


def decided_events(database: Database) -> list[dict[str, Any]]:
    with database.reading() as session:
        bodies = session.scalars(
            select(Event.body).where(Event.type == "review.decided").order_by(Event.id)
        )
        return [json.loads(body)["data"] for body in bodies]


# -- claims ---------------------------------------------------------------------------------


def test_claims_go_by_priority_then_age(world: ReviewWorld, review: Review) -> None:
    first, second = world.queue_photos(2)
    with acting_as(Actor("key:platform")):
        late_urgent = review.items.create(submission_of(review, second), priority=-1)["id"]
        late_idle = review.items.create(submission_of(review, first), priority=5)["id"]
    people = [Reviewer(f"user:r{n}", role="reviewer") for n in range(5)]
    claimed = [review.items.claim_next(person, "default") for person in people]
    assert [item["id"] if item else None for item in claimed] == [
        late_urgent,
        first,
        second,
        late_idle,
        None,
    ]
    assert [item["claimed_by"] for item in claimed if item] == [p.name for p in people[:4]]
    assert review.items.claim_next(ALICE, "elsewhere") is None


def test_a_reviewer_who_holds_an_item_gets_it_again(world: ReviewWorld, review: Review) -> None:
    first, second = world.queue_photos(2)
    assert review.items.claim_next(ALICE, "default")["id"] == first  # type: ignore[index]
    assert review.items.claim_next(ALICE, "default")["id"] == first  # type: ignore[index]
    assert review.items.claim_next(BOB, "default")["id"] == second  # type: ignore[index]
    assert review.items.claim_next(CAROL, "default") is None
    review.items.release(first, BOB)  # not Bob's: nothing happens
    assert review.items.get(first)["claimed_by"] == ALICE.name
    review.items.release(first, ALICE)
    assert review.items.get(first)["claimed_by"] is None
    assert review.items.claim_next(CAROL, "default")["id"] == first  # type: ignore[index]


def test_a_claim_expires_and_the_item_is_anyones_again(world: ReviewWorld, review: Review) -> None:
    (item_id,) = world.queue_photos(1)
    claimed = review.items.claim_next(ALICE, "default")
    assert claimed is not None
    until = datetime.fromisoformat(claimed["claimed_until"])
    assert until - utcnow() <= timedelta(minutes=world.settings.review_claim_minutes)
    assert review.items.claim_next(BOB, "default") is None
    with pytest.raises(ReviewConflictError, match="claimed by user:alice"):
        review.decisions.decide(item_id, BOB, CONFIRM)
    with pytest.raises(ReviewConflictError, match="claimed by user:alice"):
        review.items.claim(item_id, BOB)
    set_item(world.database, item_id, claimed_until=utcnow() - timedelta(seconds=1))
    assert review.items.get(item_id)["claimed_by"] is None  # lapsed: shown as free
    assert review.items.claim_next(BOB, "default")["id"] == item_id  # type: ignore[index]
    with pytest.raises(ReviewConflictError, match="claimed by user:bob"):
        review.decisions.decide(item_id, ALICE, CONFIRM)
    assert review.decisions.decide(item_id, BOB, CONFIRM)["decision"]["decided_by"] == BOB.name


def test_a_skip_keeps_the_item_from_the_skipper_and_gives_it_to_someone_else(
    world: ReviewWorld,
    review: Review,
) -> None:
    (item_id,) = world.queue_photos(1)
    review.items.claim_next(ALICE, "default")
    skipped = review.decisions.decide(item_id, ALICE, Verdict("skip", note="not sure"))
    assert skipped["status"] == "open"
    assert skipped["claimed_by"] is None
    assert [(h["decision"], h["actor"]) for h in skipped["history"]] == [("skip", ALICE.name)]
    assert review.items.claim_next(ALICE, "default") is None
    assert review.items.claim_next(BOB, "default")["id"] == item_id  # type: ignore[index]
    assert "review.skip" in audit_actions(world.database, f"review_item:{item_id}")
    assert decided_events(world.database) == []  # a skip is no decision


def test_unknown_items_and_bad_queue_names(review: Review) -> None:
    for missing in (0, -1, 10**6, 2**70):
        with pytest.raises(UnknownReviewItemError):
            review.items.get(missing)
        with pytest.raises(UnknownReviewItemError):
            review.decisions.decide(missing, ALICE, CONFIRM)
    with pytest.raises(ReviewError, match="invalid queue name"):
        review.items.claim_next(ALICE, "no spaces")
    with pytest.raises(ReviewError, match="status must be one of"):
        review.items.list(status="gone")


# -- queues ----------------------------------------------------------------------------------


def test_a_queue_admits_only_those_its_access_list_names(
    world: ReviewWorld, review: Review
) -> None:
    first, second = world.queue_photos(2)
    review.queues.configure("default", access=["user:bob", "key:triage-bot", "role:curator"])
    assert audit_actions(world.database, "review_queue:default") == ["review_queue.configure"]
    with pytest.raises(ReviewAccessError, match="does not admit user:alice"):
        review.items.claim_next(ALICE, "default")
    with pytest.raises(ReviewAccessError):
        review.items.get(first, ALICE)
    with pytest.raises(ReviewAccessError):
        review.decisions.decide(first, ALICE, CONFIRM)
    with pytest.raises(ReviewAccessError):
        review.items.list(queue="default", reviewer=ALICE)
    assert review.items.list(reviewer=ALICE) == []
    assert review.queues.overview(ALICE) == []
    assert review.items.claim_next(BOB, "default")["id"] == first  # type: ignore[index]
    assert review.items.claim_next(BOT, "default")["id"] == second  # type: ignore[index]
    curator = Reviewer("user:cur", role="curator")
    assert review.items.claim_next(curator, "default") is None  # admitted, nothing left
    assert review.items.claim_next(ADMIN, "default") is None  # admins see every queue
    assert [q["name"] for q in review.queues.overview(BOB)] == ["default"]
    assert len(review.items.list(reviewer=ADMIN)) == 2
    review.queues.configure("default", access=["role:reviewer"])
    assert review.items.claim_next(ALICE, "default") is None  # admitted now
    review.queues.configure("default", access=[])  # an empty list admits everyone
    assert review.items.get(first, ALICE)["id"] == first
    for bad in (["role:nobody"], ["alice"], ["user:"], ["user:a b"]):
        with pytest.raises(ReviewError, match="access entry"):
            review.queues.configure("default", access=bad)
    with pytest.raises(ReviewError, match="sla_minutes"):
        review.queues.configure("default", sla_minutes=0)


def test_due_times_come_from_the_queues_sla_or_the_default(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    world, review = open_world(database, database_url, tmp_path, review_sla_minutes=90)

    def due_after(item_id: int) -> timedelta:
        item = review.items.get(item_id)
        return datetime.fromisoformat(item["due_at"]) - datetime.fromisoformat(item["created_at"])

    (by_rule,) = world.queue_photos(1)
    assert due_after(by_rule) == timedelta(minutes=90)
    review.queues.configure("default", sla_minutes=30)
    review.queues.configure("senior", sla_minutes=600)
    (by_rule_now,) = world.queue_photos(1, start=1)
    assert due_after(by_rule_now) == timedelta(minutes=30)
    submission = submission_of(review, by_rule)
    assert due_after(review.items.create(submission, queue="senior")["id"]) == timedelta(hours=10)
    assert due_after(review.items.create(submission, queue="other")["id"]) == timedelta(minutes=90)
    assert review.queues.get("other")["sla_minutes"] == 90
    set_item(database, by_rule, due_at=utcnow() - timedelta(minutes=1))
    assert review.items.get(by_rule)["overdue"] is True
    overview = {q["name"]: q for q in review.queues.overview()}
    assert (overview["default"]["open"], overview["default"]["overdue"]) == (2, 1)
    assert (overview["senior"]["open"], overview["other"]["open"]) == (1, 1)


def test_the_platform_queues_items_itself_audited(world: ReviewWorld, review: Review) -> None:
    (item_id,) = world.queue_photos(1)
    submission = submission_of(review, item_id)
    with acting_as(Actor("key:platform")):
        item = review.items.create(
            submission,
            queue="reports",
            priority=-2,
            reason="a user reported it",
            follow_ups={"confirm": [{"action": "report"}]},
        )
    assert (item["queue"], item["priority"], item["rule"]) == ("reports", -2, "key:platform")
    assert item["reason"] == "a user reported it"
    assert item["follow_ups"] == {"confirm": [{"action": "report"}]}
    assert audit_actions(world.database, f"review_item:{item['id']}") == ["review.queue"]
    for bad in (
        {"escalate": []},
        {"confirm": {"action": "report"}},
        {"confirm": [{"action": "webhook"}]},
        {"confirm": [{"action": "block"}]},
    ):
        with pytest.raises(ReviewError, match="follow_ups"):
            review.items.create(submission, follow_ups=bad)
    with pytest.raises(ReviewError, match="priority"):
        review.items.create(submission, priority=2**40)


# -- decisions ------------------------------------------------------------------------------


def test_a_confirmation_records_opinions_asks_for_a_report_and_tells_the_webhook(
    world: ReviewWorld,
    review: Review,
) -> None:
    database = world.database
    world.fetched_from_an_exchange()
    (item_id,) = world.queue_photos(1)
    review.items.claim_next(ALICE, "default")
    for verdict, complaint in (
        (Verdict("confirm"), "needs a classification"),
        (Verdict("confirm", classification="C3"), "needs a classification"),
        (Verdict("confirm", classification="A1", annotations=("odd",)), "unknown annotations odd"),
        (Verdict("false_positive", classification="A1"), "only a confirmation"),
        (Verdict("confirm", classification="A1", queue="x"), "only an escalation"),
        (Verdict("confirm", classification="A1", allowlist_bank="ours-ok"), "only a false"),
        (Verdict("escalate"), "names the queue"),
        (Verdict("maybe"), "decision must be one of"),
    ):
        with pytest.raises(ReviewError, match=complaint):
            review.decisions.decide(item_id, ALICE, verdict)
    done = review.decisions.decide(item_id, ALICE, CONFIRM)
    assert done["status"] == "closed"
    assert done["decision"]["decision"] == "confirm"
    assert (done["decision"]["classification"], done["decision"]["annotations"]) == (
        "A2",
        ["viral"],
    )
    assert done["submission"]["kept_media"] is not None  # the report needs it
    with database.reading() as session:
        opinions = session.execute(select(Opinion.opinion, Opinion.bank, Opinion.status)).all()
        assert list(session.scalars(select(Opinion.signal_types))) == [["pdq"]]
        reports = session.execute(
            select(ReportRequest.review_item_id, ReportRequest.status).where(
                ReportRequest.review_item_id.is_not(None)
            )
        ).all()
        hook = session.scalar(select(Webhook.id).where(Webhook.name == "hook"))
        event_id = session.scalar(select(Event.id).where(Event.type == "review.decided"))
        delivered_to = list(
            session.scalars(select(Delivery.webhook_id).where(Delivery.event_id == event_id))
        )
    assert opinions == [("positive", "known", "pending")]
    assert reports == [(item_id, "pending")]
    assert hook in delivered_to
    (event,) = decided_events(database)
    assert event["review_item_id"] == item_id
    assert (event["decision"], event["classification"], event["decided_by"]) == (
        "confirm",
        "A2",
        ALICE.name,
    )
    assert event["report_requested"] is True
    assert audit_actions(database, f"review_item:{item_id}") == ["review.decide"]
    with pytest.raises(ReviewConflictError, match="decided already"):
        review.decisions.decide(item_id, ALICE, Verdict("false_positive"))
    with pytest.raises(ReviewConflictError, match="decided already"):
        review.items.claim(item_id, ALICE)
    assert len(decided_events(database)) == 1


def test_a_false_positive_records_opinions_allowlists_and_purges_the_media(
    world: ReviewWorld,
    review: Review,
) -> None:
    database = world.database
    (item_id,) = world.queue_photos(1)
    review.items.claim_next(ALICE, "default")
    with pytest.raises(ReviewError, match="'known' is not an allowlist"):
        review.decisions.decide(item_id, ALICE, Verdict("false_positive", allowlist_bank="known"))
    with pytest.raises(ReviewError, match="'nope' does not exist"):
        review.decisions.decide(item_id, ALICE, Verdict("false_positive", allowlist_bank="nope"))
    assert review.items.get(item_id)["status"] == "open"  # refused whole
    assert count(database, Opinion) == 0
    done = review.decisions.decide(
        item_id, ALICE, Verdict("false_positive", allowlist_bank="ours-ok", note="a beach")
    )
    assert (done["status"], done["decision"]["note"]) == ("closed", "a beach")
    assert done["submission"]["kept_media"] is None
    assert count(database, KeptMedia) == 0
    with database.reading() as session:
        opinions = session.execute(select(Opinion.opinion, Opinion.bank)).all()
    assert opinions == [("negative", "known")]
    assert count(database, ReportRequest, ReportRequest.review_item_id.is_not(None)) == 0
    _, matches = Matcher(database).match_file(PHOTO)
    assert {m.bank for m in matches} == {"known"}
    assert all(m.suppressed and m.suppressed_by == ["ours-ok"] for m in matches)
    (event,) = decided_events(database)
    assert (event["decision"], event["report_requested"]) == ("false_positive", False)
    submission = done["submission"]["submission_id"]
    assert audit_actions(database, f"submission:{submission}") == ["media.purge"]
    assert audit_actions(database, f"review_item:{item_id}") == ["review.decide"]


def test_an_escalation_queues_the_item_again_in_another_queue(
    world: ReviewWorld, review: Review
) -> None:
    database = world.database
    (item_id,) = world.queue_photos(1)
    review.queues.configure("senior", sla_minutes=60)
    review.items.claim_next(ALICE, "default")
    with pytest.raises(ReviewError, match="in queue 'default' already"):
        review.decisions.decide(item_id, ALICE, Verdict("escalate", queue="default"))
    done = review.decisions.decide(
        item_id, ALICE, Verdict("escalate", queue="senior", priority=-3, note="hard")
    )
    new_id = done["decision"]["escalated_to"]
    assert done["status"] == "closed"
    escalated = review.items.get(new_id)
    assert (escalated["queue"], escalated["status"], escalated["priority"]) == (
        "senior",
        "open",
        -3,
    )
    assert escalated["escalated_from"] == item_id
    assert escalated["follow_ups"] == done["follow_ups"]
    assert escalated["submission"]["kept_media"] is not None  # the open item needs it
    assert count(database, Opinion) == 0
    (event,) = decided_events(database)
    assert (event["decision"], event["escalated_to"]) == ("escalate", new_id)
    assert review.items.claim_next(BOB, "senior")["id"] == new_id  # type: ignore[index]
    review.decisions.decide(new_id, BOB, CONFIRM)
    assert count(database, ReportRequest, ReportRequest.review_item_id == new_id) == 1


def test_an_admin_reopens_a_decision_withdrawing_what_is_pending(
    world: ReviewWorld, review: Review
) -> None:
    database = world.database
    world.fetched_from_an_exchange()
    (item_id,) = world.queue_photos(1)
    review.decisions.decide(item_id, ALICE, CONFIRM)
    with pytest.raises(ReviewAccessError, match="only an admin"):
        review.decisions.reopen(item_id, ALICE)
    reopened = review.decisions.reopen(item_id, ADMIN, note="wrong item")
    assert reopened["status"] == "open"
    assert reopened["decision"] is None
    assert [h["decision"] for h in reopened["history"]] == ["confirm", "reopen"]
    assert reopened["history"][-1]["details"] == {"opinions": 1, "report_requests": 1}
    with database.reading() as session:
        assert list(session.scalars(select(Opinion.status))) == ["withdrawn"]
        assert list(
            session.scalars(
                select(ReportRequest.status).where(ReportRequest.review_item_id == item_id)
            )
        ) == ["withdrawn"]
    assert audit_actions(database, f"review_item:{item_id}") == ["review.decide", "review.reopen"]
    with pytest.raises(ReviewConflictError, match="open already"):
        review.decisions.reopen(item_id, ADMIN)
    done = review.decisions.decide(item_id, BOB, Verdict("false_positive"))
    assert done["decision"]["decision"] == "false_positive"
    with database.reading() as session:
        assert sorted(session.scalars(select(Opinion.opinion + ":" + Opinion.status))) == [
            "negative:pending",
            "positive:withdrawn",
        ]
    assert len(decided_events(database)) == 2


# -- reveals ----------------------------------------------------------------------------------


def test_reveals_are_capped_per_day_and_the_count_starts_again_the_next_day(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    world, review = open_world(database, database_url, tmp_path, review_daily_reveal_cap=2)
    first, second = world.queue_photos(2)
    review.items.claim_next(ALICE, "default")
    with pytest.raises(ReviewError, match="a reveal is one of"):
        review.reveals.grant(ALICE, first, kind="everything", seconds=4)
    with pytest.raises(ReviewConflictError):  # someone else's item: refused, not counted
        review.reveals.grant(BOB, first, kind="preview", seconds=4)
    assert review.reveals.grant(ALICE, first, kind="preview", seconds=4) == 1
    assert review.reveals.grant(ALICE, first, kind="original", seconds=2.5) == 0
    with pytest.raises(RevealCapError, match="revealed 2 items today, the daily limit") as capped:
        review.reveals.grant(ALICE, first, kind="preview", seconds=4)
    assert "review_daily_reveal_cap" in str(capped.value)
    assert "resets at midnight UTC" in str(capped.value)
    assert review.reveals.left_today(ALICE.name) == 0
    with world.database.reading() as session:
        reveals_of_first = session.scalar(
            select(func.count()).select_from(ReviewReveal).where(ReviewReveal.item_id == first)
        )
    assert reveals_of_first == 2
    assert review.reveals.grant(BOB, second, kind="preview", seconds=4) == 1  # each their own
    assert review.items.get(second)["claimed_by"] == BOB.name  # a reveal claims
    yesterday = utcnow().date() - timedelta(days=1)
    with database.transaction() as session:
        session.execute(
            update(RevealDay).where(RevealDay.reviewer == ALICE.name).values(day=yesterday)
        )
    assert review.reveals.left_today(ALICE.name) == 2
    assert review.reveals.grant(ALICE, first, kind="preview", seconds=4) == 1
    per_day = [(d["day"], d["reviewer"], d["reveals"]) for d in review.reveals.per_day()]
    today = utcnow().date().isoformat()
    assert per_day == [
        (today, ALICE.name, 1),
        (today, BOB.name, 1),
        (yesterday.isoformat(), ALICE.name, 2),
    ]
    actions = audit_actions(database, f"review_item:{first}")
    assert actions.count("review.reveal") == 3


def test_a_decided_item_may_still_be_revealed_without_a_claim(
    world: ReviewWorld, review: Review
) -> None:
    (item_id,) = world.queue_photos(1)
    review.decisions.decide(item_id, ALICE, CONFIRM)
    left = review.reveals.grant(BOB, item_id, kind="preview", seconds=4)
    assert left == world.settings.review_daily_reveal_cap - 1
    assert review.items.get(item_id)["claimed_by"] is None


# -- wellness ----------------------------------------------------------------------------------


def test_wellness_choices_stay_within_the_admins_bounds(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    world, strict = open_world(database, database_url, tmp_path)
    default = strict.wellness.view_of(ALICE.name)
    assert (default.blur_px, default.grayscale, default.reveal_seconds) == (16, True, 4)
    with pytest.raises(ReviewError, match="blur must be from 8 to 64"):
        strict.wellness.choose(ALICE.name, blur_px=7)
    with pytest.raises(ReviewError, match="review_color_allowed"):
        strict.wellness.choose(ALICE.name, grayscale=False)
    with pytest.raises(ReviewError, match="from 1 to 10 seconds"):
        strict.wellness.choose(ALICE.name, reveal_seconds=11)
    assert count(database, ReviewerPreference) == 0  # nothing refused was kept
    loose_settings = world.settings.model_copy(
        update={"review_color_allowed": True, "review_blur_min_px": 2}
    )
    loose = Review(database, loose_settings, Banks(database))
    view = loose.wellness.choose(ALICE.name, blur_px=3, grayscale=False, reveal_seconds=9)
    assert (view.blur_px, view.grayscale, view.reveal_seconds) == (3, False, 9)
    assert "review.preferences" in audit_actions(database, ALICE.name)
    tightened_settings = world.settings.model_copy(
        update={"review_blur_min_px": 12, "review_reveal_max_seconds": 5}
    )
    tightened = Review(database, tightened_settings, Banks(database)).wellness.view_of(ALICE.name)
    assert (tightened.blur_px, tightened.grayscale, tightened.reveal_seconds) == (12, True, 5)


def test_a_long_stretch_in_the_queue_brings_a_break_reminder(
    world: ReviewWorld, review: Review
) -> None:
    database = world.database
    world.queue_photos(1)
    review.items.claim_next(ALICE, "default")
    assert review.wellness.view_of(ALICE.name).break_due is False
    started = utcnow() - timedelta(minutes=world.settings.review_break_minutes + 1)

    def set_stretch(**values: Any) -> None:
        with database.transaction() as session:
            session.execute(
                update(ReviewerPreference)
                .where(ReviewerPreference.reviewer == ALICE.name)
                .values(**values)
            )

    set_stretch(stretch_started_at=started)
    view = review.wellness.view_of(ALICE.name)
    assert view.break_due is True
    assert view.stretch_minutes >= world.settings.review_break_minutes
    review.items.claim_next(ALICE, "default")  # still working: the stretch goes on
    assert review.wellness.view_of(ALICE.name).break_due is True
    set_stretch(last_active_at=utcnow() - PAUSE)  # a pause ends the stretch
    assert review.wellness.view_of(ALICE.name).break_due is False
    review.items.claim_next(ALICE, "default")  # back at work: a new stretch
    with database.reading() as session:
        row = session.get(ReviewerPreference, ALICE.name)
        assert row is not None
        assert row.stretch_started_at is not None
        assert utcnow() - as_utc(row.stretch_started_at) < timedelta(minutes=1)
    set_stretch(stretch_started_at=started)
    review.wellness.take_break(ALICE.name)
    assert review.wellness.view_of(ALICE.name).stretch_minutes == 0


# -- rules' follow-ups --------------------------------------------------------------------------


def test_a_review_action_carries_its_follow_ups() -> None:
    spec = parse_rule(REVIEW_KNOWN)
    (action,) = spec.then
    assert action.follow_ups() == {
        "confirm": [{"action": "report"}, {"action": "webhook", "webhook": "hook"}],
        "false_positive": [{"action": "webhook", "webhook": "hook"}],
    }
    assert parse_rule(json.loads(json.dumps(spec.to_json()))) == spec
    plain = parse_rule({"name": "r", "then": [{"action": "review"}]})
    assert plain.then[0].follow_ups() == {}
    assert "on_confirm" not in plain.then[0].to_json()


@pytest.mark.parametrize(
    ("then", "complaint"),
    [
        ([{"action": "block", "on_confirm": [{"action": "report"}]}], "only a review action"),
        (
            [{"action": "report", "on_false_positive": [{"action": "report"}]}],
            "only a review action",
        ),
        ([{"action": "review", "on_confirm": []}], "on_confirm"),
        ([{"action": "review", "on_confirm": [{"action": "webhook"}]}], "names its webhook"),
        (
            [{"action": "review", "on_confirm": [{"action": "report", "webhook": "h"}]}],
            "names its webhook",
        ),
        ([{"action": "review", "on_confirm": [{"action": "block"}]}], "on_confirm"),
        ([{"action": "review", "on_escalate": [{"action": "report"}]}], "on_escalate"),
    ],
)
def test_malformed_follow_ups_are_refused(then: list[Any], complaint: str) -> None:
    with pytest.raises(RuleError, match="invalid rule") as refused:
        parse_rule({"name": "r", "then": then})
    assert complaint in str(refused.value)


def test_a_rule_whose_follow_ups_name_a_missing_webhook_is_refused(database: Database) -> None:
    Banks(database).create("known")
    with database.transaction() as session:
        session.add(Webhook(name="hook", url="http://127.0.0.1:9/", events=[], secret="s"))
    rule = {
        "name": "r",
        "when": {"banks": ["known"]},
        "then": [
            {
                "action": "review",
                "on_confirm": [{"action": "webhook", "webhook": "hook"}],
                "on_false_positive": [{"action": "webhook", "webhook": "legal"}],
            }
        ],
    }
    rules = Rules(database)
    with pytest.raises(RuleError, match=r"rule 'r' names webhooks that do not exist: legal$"):
        rules.create(parse_rule(rule))
    rule["then"][0]["on_false_positive"] = [{"action": "report"}]  # type: ignore[index]
    rules.create(parse_rule(rule))
    assert "r" in [r.name for r in rules.all()]


# -- migration -------------------------------------------------------------------------------


def test_the_review_migration_keeps_items_queued_before_it(
    world: ReviewWorld, review: Review
) -> None:
    database = world.database
    (item_id,) = world.queue_photos(1)
    review.decisions.decide(item_id, ALICE, Verdict("skip"))
    database.downgrade("0007")
    with database.engine.begin() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM review_items").scalar() == 1
    database.migrate("head")
    item = review.items.get(item_id)
    assert (item["status"], item["follow_ups"], item["due_at"], item["claimed_by"]) == (
        "open",
        {},
        None,
        None,
    )
    assert item["history"] == []
    assert review.items.claim_next(ALICE, "default")["id"] == item_id  # type: ignore[index]
    done = review.decisions.decide(item_id, ALICE, CONFIRM)
    assert done["decision"]["decision"] == "confirm"
    assert count(database, ReportRequest, ReportRequest.review_item_id == item_id) == 0
    database.downgrade("0007")
    database.migrate("head")
    assert review.items.get(item_id)["status"] == "closed"  # status predates 0008
    assert count(database, Opinion) == 0


def test_the_day_column_is_a_date(world: ReviewWorld, review: Review) -> None:
    """The cap's counter is keyed by the UTC date on both engines."""
    (item_id,) = world.queue_photos(1)
    review.reveals.grant(ALICE, item_id, kind="preview", seconds=1)
    with world.database.reading() as session:
        day = session.scalar(select(RevealDay.day))
    assert isinstance(day, date)
    assert day == utcnow().date()
