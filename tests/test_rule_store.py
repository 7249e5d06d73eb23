"""Stored rules on both engines: changes, their checks and audit entries,
dry runs, and changes made at the same time."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from hashmatch.actions import rule_store
from hashmatch.actions.rule_store import Rules
from hashmatch.actions.rules import RuleSpec
from hashmatch.audit import Actor, acting_as, verify
from hashmatch.banks import Banks
from hashmatch.errors import (
    HashmatchError,
    RuleError,
    RuleExistsError,
    UnknownRuleError,
    UnknownSubmissionError,
)
from hashmatch.hashlists import Entry
from hashmatch.matching import Matcher
from hashmatch.store import Database
from hashmatch.store.models import AuditEntry
from hashmatch.store.workflow import Submission, Webhook

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
DEFAULT = "review-any-match"


def spec(name: str = "block-known", **fields: Any) -> RuleSpec:
    return RuleSpec.model_validate({"name": name, "then": [{"action": "block"}], **fields})


def add_webhook(database: Database, name: str) -> None:
    with database.transaction() as session:
        session.add(Webhook(name=name, url="https://hooks.example/", events=[], secret="s" * 32))


def audit(database: Database) -> list[AuditEntry]:
    """The audit entries of rule changes, oldest first."""
    with database.reading() as session:
        query = select(AuditEntry).where(AuditEntry.action.startswith("rule."))
        return list(session.scalars(query.order_by(AuditEntry.seq)))


def state(rules: Rules, name: str) -> dict[str, Any]:
    """A stored rule as its audit entries record it (no timestamps)."""
    return rules.get(name).spec.to_json()


def test_a_fresh_database_has_the_default_rule_and_it_can_be_turned_off(
    database: Database,
) -> None:
    rules = Rules(database)
    (default,) = rules.all()
    assert default.to_json()["when"] == {"bank_kinds": ["match"]}
    assert default.spec.then[0].to_json() == {"action": "review", "queue": "default", "priority": 0}
    assert default.spec.priority == 100
    assert rules.set_enabled(DEFAULT, False).spec.enabled is False
    assert rules.enabled() == []
    assert rules.set_enabled(DEFAULT, True).spec.enabled is True
    assert [r.name for r in rules.enabled()] == [DEFAULT]


def test_create_show_update_rename_and_delete(database: Database) -> None:
    Banks(database).create("known")
    add_webhook(database, "ops")
    rules = Rules(database)
    created = rules.create(
        spec(when={"banks": ["known"]}, then=[{"action": "webhook", "webhook": "ops"}])
    )
    shown = rules.get("block-known").to_json()
    assert shown == created.to_json()
    assert shown["then"] == [{"action": "webhook", "webhook": "ops"}]
    assert shown["created_at"] == shown["updated_at"]
    assert [r.name for r in rules.all()] == ["block-known", DEFAULT]  # priority 0 before 100

    with pytest.raises(RuleExistsError, match="block-known"):
        rules.create(spec())
    with pytest.raises(RuleExistsError, match=DEFAULT):
        rules.update("block-known", spec(DEFAULT))

    renamed = rules.update("block-known", spec("block-all", priority=200))
    assert renamed.spec == spec("block-all", priority=200)
    assert renamed.created_at == created.created_at
    assert renamed.updated_at > created.updated_at
    assert [r.name for r in rules.all()] == [DEFAULT, "block-all"]
    with pytest.raises(UnknownRuleError, match="block-known"):
        rules.get("block-known")

    rules.delete("block-all")
    with pytest.raises(UnknownRuleError):
        rules.delete("block-all")
    for change in (
        lambda: rules.update("block-all", spec("block-all")),
        lambda: rules.set_enabled("block-all", False),
    ):
        with pytest.raises(UnknownRuleError, match="no rule named 'block-all'"):
            change()


def test_a_rule_naming_a_missing_bank_or_webhook_is_refused(database: Database) -> None:
    Banks(database).create("known")
    add_webhook(database, "ops")
    rules = Rules(database)
    with pytest.raises(RuleError, match=r"rule 'r' names banks that do not exist: gone, lost$"):
        rules.create(spec("r", when={"banks": ["known", "lost", "gone"]}))
    with pytest.raises(RuleError, match=r"rule 'r' names webhooks that do not exist: legal$"):
        rules.create(
            spec(
                "r",
                then=[
                    {"action": "webhook", "webhook": "ops"},
                    {"action": "webhook", "webhook": "legal"},
                ],
            )
        )
    with pytest.raises(RuleError, match="names banks that do not exist: lost"):
        rules.update(DEFAULT, spec(DEFAULT, when={"banks": ["lost"]}))
    assert [r.name for r in rules.all()] == [DEFAULT]
    assert state(rules, DEFAULT)["when"] == {"bank_kinds": ["match"]}
    assert audit(database) == []


def test_every_change_is_audited_with_before_and_after(database: Database) -> None:
    rules = Rules(database)
    with acting_as(Actor("cli:tester")):
        rules.create(spec("r"))
        first = state(rules, "r")
        rules.update("r", spec("r", description="blocks"))
        second = state(rules, "r")
        rules.set_enabled("r", False)
        rules.set_enabled("r", False)  # already off: nothing changes, nothing recorded
        third = state(rules, "r")
        rules.set_enabled("r", True)
        rules.delete("r")
    entries = audit(database)
    assert [(e.action, e.target, e.actor) for e in entries] == [
        ("rule.create", "rule:r", "cli:tester"),
        ("rule.update", "rule:r", "cli:tester"),
        ("rule.disable", "rule:r", "cli:tester"),
        ("rule.enable", "rule:r", "cli:tester"),
        ("rule.delete", "rule:r", "cli:tester"),
    ]
    assert [(e.before, e.after) for e in entries] == [
        (None, first),
        (first, second),
        (second, third),
        (third, second),
        (second, None),
    ]
    assert third["enabled"] is False
    with database.reading() as session:
        assert verify(session).ok


def test_a_failed_change_leaves_no_audit_entry(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The entry is written in the change's transaction: neither survives alone."""
    rules = Rules(database)

    def failing(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(rule_store, "record", failing)
    with pytest.raises(RuntimeError):
        rules.create(spec("r"))
    with pytest.raises(RuntimeError):
        rules.set_enabled(DEFAULT, False)
    assert [r.name for r in rules.all()] == [DEFAULT]
    assert rules.get(DEFAULT).spec.enabled is True


# -- dry runs ------------------------------------------------------------------


def add_submission(database: Database, matches: list[dict[str, Any]], content_type: str) -> int:
    with database.transaction() as session:
        submission = Submission(
            content_ref="upload-1",
            content_type=content_type,
            signals={"pdq": [PDQ]},
            matches=matches,
            verdict="allow",
            actor="key:test",
        )
        session.add(submission)
        session.flush()
        return submission.id


def test_a_dry_run_on_hashes_uses_the_enabled_rules_or_the_rule_given(
    database: Database,
) -> None:
    banks = Banks(database)
    banks.create("known", labels=["A1"])
    banks.create("safe", kind="allowlist")
    banks.add("known", Entry({"pdq": PDQ}))
    rules = Rules(database)
    matcher = Matcher(database)

    tried = rules.test_hashes(matcher, [("pdq", PDQ.upper())])
    assert tried["verdict"] == "review"
    assert tried["fired_rules"] == [DEFAULT]
    assert tried["actions"] == [
        {"rule": DEFAULT, "action": "review", "queue": "default", "priority": 0}
    ]
    assert tried["content_type"] == "photo"
    assert [(m["bank"], m["distance"]) for m in tried["matches"]] == [("known", 0)]

    unstored = spec("block-a1", when={"labels": ["A1"], "content_types": ["photo"]})
    blocked = rules.test_hashes(matcher, [("pdq", PDQ)], unstored)
    assert (blocked["verdict"], blocked["fired_rules"]) == ("block", ["block-a1"])
    assert [r.name for r in rules.all()] == [DEFAULT]  # tried, not stored
    with pytest.raises(RuleError, match="names banks that do not exist: lost"):
        rules.test_hashes(matcher, [("pdq", PDQ)], spec("r", when={"banks": ["lost"]}))

    nothing = rules.test_hashes(matcher, [("md5", "d41d8cd98f00b204e9800998ecf8427e")])
    assert (nothing["verdict"], nothing["fired_rules"], nothing["matches"]) == ("allow", [], [])
    assert nothing["content_type"] == "file"


def test_a_dry_run_on_a_stored_submission_reads_its_matches(database: Database) -> None:
    Banks(database).create("known")
    rules = Rules(database)
    matches = [
        {"bank": "known", "signal_type": "pdq", "distance": 3, "labels": [], "suppressed": False}
    ]
    photo = add_submission(database, matches, "hashes")
    tried = rules.test_submission(photo, spec("photos", when={"content_types": ["photo"]}))
    assert (tried["verdict"], tried["content_type"], tried["matches"]) == (
        "block",
        "photo",
        matches,
    )
    video_only = spec("videos", when={"content_types": ["video"]})
    assert rules.test_submission(photo, video_only)["verdict"] == "allow"
    assert rules.test_submission(photo)["verdict"] == "review"
    with pytest.raises(UnknownSubmissionError):
        rules.test_submission(photo + 1)


# -- changes at the same time ---------------------------------------------------


def paused_writer(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """Make the first change to reach its audit entry wait there, inside its
    transaction (its rule row locked), until released."""
    inside, release = threading.Event(), threading.Event()
    real = rule_store.record
    first = threading.Lock()

    def record(*args: Any, **kwargs: Any) -> Any:
        if first.acquire(blocking=False):
            inside.set()
            assert release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(rule_store, "record", record)
    return inside, release


def in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(work())
        except HashmatchError as error:
            outcome.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_two_updates_of_one_rule_take_turns(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second writer waits for the first to commit; its audit entry's
    ``before`` is what the first left, and its rule is what remains."""
    rules = Rules(database)
    inside, release = paused_writer(monkeypatch)
    first, first_done = in_thread(lambda: rules.update(DEFAULT, spec(DEFAULT, priority=1)))
    assert inside.wait(30)
    second, second_done = in_thread(lambda: rules.update(DEFAULT, spec(DEFAULT, priority=2)))
    second.join(0.5)
    assert second.is_alive()  # waiting for the first writer's transaction
    assert rules.get(DEFAULT).spec.priority == 100  # nothing committed yet
    release.set()
    first.join(30)
    second.join(30)
    assert not isinstance(first_done[0], Exception)
    assert not isinstance(second_done[0], Exception)
    one, two = audit(database)
    assert one.after == one.after | {"priority": 1}
    assert two.before == one.after
    assert two.after == state(rules, DEFAULT)
    assert state(rules, DEFAULT)["priority"] == 2


def test_two_creates_of_one_name_make_one_rule(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = Rules(database)
    inside, release = paused_writer(monkeypatch)
    first, first_done = in_thread(lambda: rules.create(spec("twin", priority=1)))
    assert inside.wait(30)
    second, second_done = in_thread(lambda: rules.create(spec("twin", priority=2)))
    second.join(0.5)
    # PostgreSQL: its check saw no "twin" yet, and its insert waits on the first's row.
    assert second.is_alive()
    release.set()
    first.join(30)
    second.join(30)
    assert first_done[0].spec.priority == 1
    assert isinstance(second_done[0], RuleExistsError)
    assert "twin" in str(second_done[0])
    assert rules.get("twin").spec.priority == 1
    assert [e.action for e in audit(database)] == ["rule.create"]


def test_many_writers_leave_a_consistent_history(database: Database) -> None:
    """Writers changing a few rules at once: every audit entry's ``before`` is
    the ``after`` of the entry before it for that rule, and the last ``after``
    is the rule as it is."""
    rules = Rules(database)
    names = [DEFAULT, "a", "b"]
    for name in names[1:]:
        rules.create(spec(name))

    def writer(seed: int) -> None:  # an exception fails the test (pytest's thread hook)
        rng = random.Random(seed)
        for _ in range(8):
            name = rng.choice(names)
            if rng.random() < 0.5:
                rules.set_enabled(name, rng.random() < 0.5)
            else:
                current = rules.get(name).spec
                rules.update(name, current.model_copy(update={"priority": rng.randint(0, 99)}))

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    entries = [e for e in audit(database) if e.action != "rule.create"]
    for name in names:
        history = [e for e in entries if e.target == f"rule:{name}"]
        for earlier, later in itertools.pairwise(history):
            assert later.before == earlier.after
        if history:
            assert history[-1].after == state(rules, name)
    with database.reading() as session:
        check = verify(session)
    assert check.ok, check.problems
