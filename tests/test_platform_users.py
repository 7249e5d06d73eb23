"""A platform user's history (every kind, keyset pages) and its erasure
(preserved reports kept and named, audited, idempotent, racing new
submissions), and submissions' retention; on both engines."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from hashmatch import audit
from hashmatch.actions.upkeep import run_upkeep
from hashmatch.errors import PlatformUserError, UnknownPlatformUserError
from hashmatch.platform_users import KINDS, erase, erasure, user_history
from hashmatch.platform_users.erasure import user_digest
from hashmatch.platform_users.history import Key
from hashmatch.review import Verdict
from hashmatch.review import decisions as decisions_module
from hashmatch.store import Database
from hashmatch.store.models import AuditEntry, utcnow
from hashmatch.store.reporting_models import CybertipReport
from hashmatch.store.statement_models import Statement
from hashmatch.store.workflow import Event, KeptMedia, ReviewItem, Submission
from tests.interleaving import PATIENCE, PausedInside, SecondWriter, run_together, started
from tests.platform_users_world import ALICE, UserWorld, user_settings


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[UserWorld]:
    database = Database.open(database_url)
    yield UserWorld.make(database, user_settings(database_url, tmp_path))
    database.close()


def _all(world: UserWorld, user: str, **options: Any) -> list[dict[str, Any]]:
    return [e.to_json() for e in user_history(world.database, user, limit=500, **options).entries]


def _audit(database: Database, action: str) -> list[AuditEntry]:
    with database.reading() as session:
        return audit.find(session, action=action, limit=100)


def _count(database: Database, query: Any) -> int:
    with database.reading() as session:
        return int(session.scalar(query) or 0)


# -- history ------------------------------------------------------------------------


def test_the_history_holds_every_kind_newest_first(world: UserWorld) -> None:
    made = world.busy_user("user-7")
    world.report("user-7", [made.matched[0]], status="finished")
    world.busy_user("someone-else", matched=1, unmatched=0)
    page = user_history(world.database, "user-7")
    assert page.counts == {
        "submission": 3,
        "match": 2,
        "review": 1,
        "report": 1,
        "appeal": 1,
        "statement": 1,
    }
    assert [e.kind for e in page.entries] == [
        "report",
        "appeal",
        "statement",
        "review",
        "submission",
        "submission",
        "match",
        "submission",
        "match",
    ]
    keys = [e.key for e in page.entries]
    assert keys == sorted(keys, reverse=True)
    assert page.next_cursor is None
    by_kind = {e.kind: e for e in page.entries}
    assert by_kind["review"].details["decision"] == "confirm"
    assert by_kind["review"].ids["review_item_id"] == made.items[0]
    assert by_kind["appeal"].ids["appeal_id"] == made.appeals[0]
    assert by_kind["report"].details["ncmec_report_id"] == "911"
    assert by_kind["match"].details["bank"] == "known"
    assert by_kind["match"].details["labels"] == ["A1"]
    assert isinstance(by_kind["match"].details["distance"], int)
    unmatched = page.entries[4]
    assert unmatched.ids == {"submission_id": made.unmatched[0]}
    assert unmatched.details["verdict"] == "allow"
    assert unmatched.details["match_count"] == 0
    assert "0 matches" in unmatched.summary
    mine = {*made.matched, *made.unmatched}
    assert all(e.ids["submission_id"] in mine for e in page.entries if e.kind != "report")


def test_pages_follow_each_other_without_gaps_or_repeats(world: UserWorld) -> None:
    made = world.busy_user("user-7", matched=3, unmatched=2)
    for limit in (1, 2, 3, 4):
        whole = _all(world, "user-7")
        seen: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = user_history(world.database, "user-7", limit=limit, cursor=cursor)
            seen.extend(e.to_json() for e in page.entries)
            assert len(page.entries) <= limit
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
            if len(seen) == 3:
                world.upload("user-7", matching=False)  # newer: never in a later page
        assert seen == whole, limit
    assert len(made.matched) == 3


def test_a_kind_alone(world: UserWorld) -> None:
    world.busy_user("user-7")
    matches = _all(world, "user-7", kinds=["match"])
    assert [e["kind"] for e in matches] == ["match", "match"]
    page = user_history(world.database, "user-7", limit=1, kinds=["match"])
    assert page.counts["submission"] == 3  # the counts are the whole history's
    rest = user_history(world.database, "user-7", limit=5, kinds=["match"], cursor=page.next_cursor)
    assert [e.to_json() for e in page.entries + rest.entries] == matches


def test_bad_requests_are_refused(world: UserWorld) -> None:
    world.upload("user-7", matching=False)
    for cursor in ("nonsense", "e30", Key.decode(_any_cursor(world)).encode()[:-3] + "!!!"):
        with pytest.raises(PlatformUserError, match="cursor"):
            user_history(world.database, "user-7", cursor=cursor)
    with pytest.raises(PlatformUserError, match="kind"):
        user_history(world.database, "user-7", kinds=["opinion"])
    with pytest.raises(PlatformUserError, match="limit"):
        user_history(world.database, "user-7", limit=0)
    with pytest.raises(UnknownPlatformUserError, match="nobody"):
        user_history(world.database, "nobody")


def _any_cursor(world: UserWorld) -> str:
    world.upload("user-7", matching=False)
    cursor = user_history(world.database, "user-7", limit=1).next_cursor
    assert cursor is not None
    return cursor


# -- erasure ------------------------------------------------------------------------


def test_erasure_deletes_everything_and_is_audited_without_the_data(world: UserWorld) -> None:
    made = world.busy_user("user-7")
    draft = world.report("user-7", [made.matched[1]], status="draft")
    other = world.busy_user("user-8", matched=1, unmatched=1)
    before = _all(world, "user-8")
    done = erase(world.database, "user-7")
    assert done.kept == []
    assert done.deleted == {
        "reports": 1,
        "matches": 2,
        "statements": 1,
        "outbox_events": done.deleted["outbox_events"],
        "appeals": 1,
        "review_decisions": 1,
        "review_items": 2,
        "report_requests": done.deleted["report_requests"],
        "kept_media": done.deleted["kept_media"],
        "submissions": 3,
    }
    assert done.deleted["outbox_events"] >= 1
    with pytest.raises(UnknownPlatformUserError):
        user_history(world.database, "user-7")
    assert _all(world, "user-8") == before
    assert _count(world.database, select(func.count()).select_from(CybertipReport)) == 0
    gone = made.matched + made.unmatched
    for table, column in ((Event, Event.submission_id), (Statement, Statement.submission_id)):
        assert _count(world.database, select(func.count()).where(column.in_(gone))) == 0, table
    assert _count(world.database, select(func.count()).select_from(KeptMedia)) >= 1  # user-8's
    [entry] = _audit(world.database, "platform_user.erase")
    assert entry.target == f"platform_user:sha256:{user_digest('user-7')}"
    assert entry.after is not None
    assert entry.after["deleted"]["submissions"] == 3
    written = json.dumps([entry.target, entry.before, entry.after])
    assert "user-7" not in written
    assert "post" not in written
    assert draft
    assert other.matched


def test_erasing_again_deletes_nothing_more(world: UserWorld) -> None:
    world.busy_user("user-7", matched=1)
    assert erase(world.database, "user-7").found
    again = erase(world.database, "user-7")
    assert not again.found
    assert set(again.deleted.values()) == {0}
    assert len(_audit(world.database, "platform_user.erase")) == 1


def test_erasure_keeps_and_names_what_a_preserved_report_holds(world: UserWorld) -> None:
    made = world.busy_user("user-7", matched=3)
    finished = world.report("user-7", [made.matched[0]], status="finished", hold=True)
    failed = world.report("user-7", [made.matched[1]], status="failed")
    submitted = world.report("user-7", [made.matched[2]], status="submitted")
    done = erase(world.database, "user-7")
    kept = {(k["kind"], k["id"]): k for k in done.kept}
    [evidence] = [k for k in done.kept if k["kind"] == "evidence"]
    assert set(kept) == {
        ("report", finished),
        ("report", submitted),
        ("evidence", evidence["id"]),
        ("submission", made.matched[0]),
        ("submission", made.matched[2]),
    }
    assert evidence["held"] is True
    assert "legal hold" in evidence["reason"]
    assert evidence["report_id"] == finished
    assert "finished" in kept[("report", finished)]["reason"]
    assert kept[("submission", made.matched[0])]["report_id"] == finished
    assert done.deleted["reports"] == 1  # the failed one
    assert done.deleted["submissions"] == 2  # the failed report's, and the unmatched one
    left = user_history(world.database, "user-7", limit=500)
    assert left.counts["report"] == 2
    assert left.counts["submission"] == 2
    assert {e.ids.get("report_id") for e in left.entries if e.kind == "report"} == {
        finished,
        submitted,
    }
    assert failed not in {e.ids.get("report_id") for e in left.entries}
    # The kept submissions keep their review items and media.
    assert (
        _count(
            world.database,
            select(func.count()).where(
                ReviewItem.submission_id.in_([made.matched[0], made.matched[2]])
            ),
        )
        == 2
    )
    again = erase(world.database, "user-7")
    assert again.kept == done.kept
    assert set(again.deleted.values()) == {0}


def test_a_submission_during_an_erasure_survives_it(
    world: UserWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The erasure is paused after it found the user's submissions; a new
    one (SQLite: waiting for the erasure's write lock; PostgreSQL: committed
    meanwhile) is not erased, and nothing of the old ones is left."""
    old = [world.upload("user-7", matching=False) for _ in range(2)]
    paused = PausedInside(monkeypatch, erasure, "collect")
    watcher = SecondWriter(world.database, monkeypatch)
    results: dict[str, Any] = {}
    one = started(lambda: erase(world.database, "user-7"), "first", results)
    assert paused.reached.wait(PATIENCE)
    two = started(lambda: world.upload("user-7", matching=False), "second", results)
    if world.database.dialect == "sqlite":
        watcher.wait_until_blocked(two)
    else:
        two.join(PATIENCE)  # nothing the erasure locked is in its way
        assert not two.is_alive()
    paused.release()
    one.join(PATIENCE)
    two.join(PATIENCE)
    done, new = results["first"], results["second"]
    assert not isinstance(done, Exception)
    assert not isinstance(new, Exception)
    assert done.deleted["submissions"] == 2
    left = user_history(world.database, "user-7", limit=500)
    assert [e.ids["submission_id"] for e in left.entries] == [new]
    # By the platform's refs: on SQLite the new row may take an erased id (see below).
    assert [e.details["content_ref"] for e in left.entries] == ["user-7-post-3"]
    assert len(old) == 2


def test_an_erased_submission_id_is_never_handed_out_again(world: UserWorld) -> None:
    erased = world.upload("user-7", matching=False)
    erase(world.database, "user-7")
    assert world.upload("user-8", matching=False) != erased


def test_an_erasure_waits_for_a_review_decision_under_way(
    world: UserWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A decision holds its item's lock and then writes rows that point at
    the submission; the erasure waits for it (never a deadlock), then erases
    the decision too."""
    made = world.busy_user("user-7", matched=2, unmatched=0)
    open_item = made.items[1]
    paused = PausedInside(monkeypatch, decisions_module, "_history")
    watcher = SecondWriter(world.database, monkeypatch)
    results: dict[str, Any] = {}
    verdict = Verdict("confirm", classification="A2")
    one = started(
        lambda: world.review.decisions.decide(open_item, ALICE, verdict), "first", results
    )
    assert paused.reached.wait(PATIENCE)
    two = started(lambda: erase(world.database, "user-7"), "second", results)
    watcher.wait_until_blocked(two)
    paused.release()
    one.join(PATIENCE)
    two.join(PATIENCE)
    assert results["first"]["decision"]["decision"] == "confirm"
    done = results["second"]
    assert not isinstance(done, Exception), done
    assert done.deleted["review_decisions"] == 2
    assert done.deleted["submissions"] == 2
    with pytest.raises(UnknownPlatformUserError):
        user_history(world.database, "user-7")


def test_erasures_racing_uploads_leave_nothing_behind(world: UserWorld) -> None:
    """Bounded stress: uploads by one user on two threads while a third
    erases them over and over; every upload is whole or gone."""
    uploaded: list[int] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        for _ in range(6):
            if name == "eraser":
                erase(world.database, "user-7")
            else:
                submission = world.upload("user-7", matching=False)
                with lock:
                    uploaded.append(submission)

    run_together(work, ["eraser", "uploader-1", "uploader-2"])
    with world.database.reading() as session:
        alive = set(session.scalars(select(Submission.id).where(Submission.id.in_(uploaded))))
        # Each surviving upload still has its verdict's event; none of the erased left one.
        with_events = set(
            session.scalars(select(Event.submission_id).where(Event.submission_id.is_not(None)))
        )
        orphans = session.scalar(
            select(func.count()).select_from(Event).where(Event.submission_id.is_(None))
        )
    assert len(uploaded) == 12
    assert with_events <= alive
    assert orphans == 0
    erase(world.database, "user-7")
    with pytest.raises(UnknownPlatformUserError):
        user_history(world.database, "user-7")


# -- retention ----------------------------------------------------------------------


def _age(database: Database, submission_ids: list[int], days: int) -> None:
    with database.transaction() as session:
        session.execute(
            update(Submission)
            .where(Submission.id.in_(submission_ids))
            .values(created_at=utcnow() - timedelta(days=days))
        )


def test_retention_purges_old_submissions_nothing_needs(
    world: UserWorld, database_url: str, tmp_path: Path
) -> None:
    made = world.busy_user("user-7", matched=3, unmatched=2)
    held = world.report("user-7", [made.matched[2]], status="finished")
    recent = made.unmatched[1]
    old = [*made.matched, made.unmatched[0]]
    _age(world.database, old, days=40)
    assert run_upkeep(world.database, world.review_world.settings)["submissions_purged"] == 0
    settings = user_settings(database_url, tmp_path, submission_retention_days=30)
    assert run_upkeep(world.database, settings)["submissions_purged"] == 1
    with world.database.reading() as session:
        alive = set(session.scalars(select(Submission.id)))
    # Left: an item still open (matched[1]), the reported one, the recent one;
    # the confirmed one waits on its open appeal.
    assert alive == {made.matched[0], made.matched[1], held and made.matched[2], recent}
    [entry] = _audit(world.database, "submission.retention_purge")
    assert entry.after is not None
    assert entry.after["deleted"]["submissions"] == 1
    assert (
        _count(
            world.database, select(func.count()).where(Statement.submission_id == made.unmatched[0])
        )
        == 0
    )
    assert "user-7" not in json.dumps(entry.after)


def test_cursor_round_trip() -> None:
    key = Key(utcnow(), KINDS.index("match"), 12, -3)
    assert Key.decode(key.encode()) == key
