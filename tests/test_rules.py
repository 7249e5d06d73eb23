"""Rules as data: what each condition key admits, how actions and the verdict
are chosen, and which rules are refused before they are stored."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from hashmatch.actions.rules import (
    VERDICTS,
    Decision,
    RuleSpec,
    content_type_of,
    evaluate,
    parse_rule,
)
from hashmatch.errors import RuleError

KINDS = {"known": "match", "other": "match", "safe": "allowlist"}


def match(**fields: Any) -> dict[str, Any]:
    """One Match.to_json() dict, in bank "known" unless told otherwise."""
    return {
        "bank": "known",
        "content_id": 1,
        "signal_type": "pdq",
        "distance": 10,
        "transform": "original",
        "labels": [],
        "content_labels": [],
        "external_id": None,
        "source": None,
        "source_metadata": {},
        "suppressed": False,
        **fields,
    }


def rule(name: str = "r", then: list[dict[str, Any]] | None = None, **fields: Any) -> RuleSpec:
    return RuleSpec.model_validate({"name": name, "then": then or [{"action": "review"}], **fields})


def decide(
    rules: list[RuleSpec], matches: list[dict[str, Any]], content_type: str = "photo"
) -> Decision:
    return evaluate(rules, matches, content_type=content_type, bank_kinds=KINDS)


def fires(when: dict[str, Any], *matches: dict[str, Any], content_type: str = "photo") -> bool:
    return bool(decide([rule(when=when)], list(matches), content_type).fired_rules)


CONTRACT = {
    "name": "block-known",
    "enabled": True,
    "priority": 0,
    "when": {
        "banks": ["known"],
        "labels": ["A1"],
        "signal_types": ["pdq"],
        "max_distance": 20,
        "content_types": ["photo"],
    },
    "then": [
        {"action": "block"},
        {"action": "review", "queue": "default"},
        {"action": "webhook", "webhook": "ops"},
        {"action": "report"},
    ],
}


def test_the_documented_shape_is_read_and_written_back() -> None:
    spec = RuleSpec.model_validate(CONTRACT)
    written = spec.to_json()
    assert written["when"] == CONTRACT["when"]
    assert [action["action"] for action in written["then"]] == [
        "block",
        "review",
        "webhook",
        "report",
    ]
    assert written["then"][1] == {"action": "review", "queue": "default", "priority": 0}
    assert RuleSpec.model_validate(written) == spec


def test_a_rule_without_conditions_fires_on_any_match_but_not_on_none() -> None:
    assert fires({}, match())
    assert not fires({})


@pytest.mark.parametrize(
    ("when", "yes", "no"),
    [
        ({"banks": ["known"]}, match(), match(bank="other")),
        ({"bank_kinds": ["allowlist"]}, match(bank="safe"), match()),
        ({"bank_kinds": ["match"]}, match(), match(bank="deleted-since")),
        ({"signal_types": ["md5"]}, match(signal_type="md5"), match()),
        ({"max_distance": 10}, match(distance=10), match(distance=11)),
        ({"max_distance": 0}, match(distance=0), match(distance=1)),
        ({"labels": ["A1", "B1"]}, match(labels=["B1"]), match(labels=["A2"])),
        ({"labels": ["A1"]}, match(content_labels=["A1"]), match(content_labels=["a2"])),
        (
            {"labels_all": ["A1", "x"]},
            match(labels=["A1"], content_labels=["x"]),
            match(labels=["A1"]),
        ),
        ({"include_suppressed": True}, match(suppressed=True), {}),
    ],
)
def test_each_condition_key(when: dict[str, Any], yes: dict[str, Any], no: dict[str, Any]) -> None:
    assert fires(when, yes)
    if no:
        assert not fires(when, no)


def test_labels_are_compared_as_banks_write_them() -> None:
    assert rule(when={"labels": ["a1"]}).when.labels == ["A1"]
    assert fires({"labels": ["a1"]}, match(labels=["A1"]))


def test_content_type_is_the_submissions() -> None:
    assert fires({"content_types": ["photo", "video"]}, match(), content_type="video")
    assert not fires({"content_types": ["photo"]}, match(), content_type="file")


def test_a_match_an_allowlist_suppressed_does_not_count_by_default() -> None:
    assert not fires({}, match(suppressed=True, suppressed_by=["safe"]))
    assert fires({"include_suppressed": True}, match(suppressed=True, suppressed_by=["safe"]))


def test_min_matches_counts_only_matches_that_satisfy_every_key() -> None:
    when = {"banks": ["known"], "max_distance": 5, "min_matches": 2}
    close, far = match(distance=1), match(distance=30)
    assert not fires(when, close, far, far)
    assert fires(when, close, match(content_id=2, distance=5))
    assert not fires(when, close, match(content_id=2, distance=1, suppressed=True))


def test_every_key_must_hold_for_the_same_match() -> None:
    when = {"banks": ["known"], "signal_types": ["md5"]}
    assert not fires(when, match(signal_type="pdq"), match(bank="other", signal_type="md5"))


def test_the_strongest_verdict_wins_whatever_the_order() -> None:
    review = rule("a-review", [{"action": "review"}], priority=-5)
    block = rule("b-block", [{"action": "block"}], priority=5)
    notify = rule("c-report", [{"action": "report"}])
    assert decide([block, review, notify], [match()]).verdict == "block"
    assert decide([notify, review], [match()]).verdict == "review"
    assert decide([notify], [match()]).verdict == "allow"
    assert decide([block, review], []).verdict == "allow"


def test_rules_run_by_priority_then_name_and_shared_actions_are_taken_once() -> None:
    first = rule("zeta", [{"action": "review", "queue": "urgent", "priority": 1}], priority=-1)
    second = rule(
        "alpha",
        [
            {"action": "review", "queue": "urgent", "priority": 9},
            {"action": "review", "queue": "default"},
            {"action": "webhook", "webhook": "ops"},
            {"action": "report"},
        ],
    )
    third = rule(
        "beta",
        [
            {"action": "webhook", "webhook": "ops"},
            {"action": "webhook", "webhook": "legal"},
            {"action": "report"},
        ],
    )
    decision = decide([third, second, first], [match()])
    assert decision.fired_rules == ("zeta", "alpha", "beta")
    assert [action.to_json() for action in decision.actions] == [
        {"rule": "zeta", "action": "review", "queue": "urgent", "priority": 1},
        {"rule": "alpha", "action": "review", "queue": "default", "priority": 0},
        {"rule": "alpha", "action": "webhook", "webhook": "ops"},
        {"rule": "alpha", "action": "report"},
        {"rule": "beta", "action": "webhook", "webhook": "legal"},
    ]
    assert decision.to_json()["fired_rules"] == ["zeta", "alpha", "beta"]


def test_disabled_rules_never_fire() -> None:
    off = rule("off", [{"action": "block"}], enabled=False)
    on = rule("on", [{"action": "review"}])
    decision = decide([off, on], [match()])
    assert decision.fired_rules == ("on",)
    assert decision.verdict == "review"


ACTIONS = st.sampled_from(
    [
        {"action": "block"},
        {"action": "review", "queue": "default"},
        {"action": "review", "queue": "urgent"},
        {"action": "webhook", "webhook": "ops"},
        {"action": "report"},
    ]
)
RULES = st.lists(
    st.fixed_dictionaries(
        {
            "enabled": st.booleans(),
            "priority": st.integers(-3, 3),
            "when": st.fixed_dictionaries(
                {},
                optional={
                    "banks": st.lists(st.sampled_from(["known", "other"]), min_size=1),
                    "max_distance": st.integers(0, 40),
                    "min_matches": st.integers(1, 3),
                    "include_suppressed": st.booleans(),
                },
            ),
            "then": st.lists(ACTIONS, min_size=1, max_size=4),
        }
    ),
    max_size=6,
)
MATCHES = st.lists(
    st.builds(
        match,
        bank=st.sampled_from(["known", "other", "safe"]),
        distance=st.integers(0, 40),
        suppressed=st.booleans(),
    ),
    max_size=5,
)


@given(RULES, MATCHES)
def test_the_verdict_is_the_strongest_of_the_fired_rules_alone(
    given_rules: list[dict[str, Any]], matches: list[dict[str, Any]]
) -> None:
    rules = [RuleSpec.model_validate({"name": f"r{i}", **r}) for i, r in enumerate(given_rules)]
    decision = decide(rules, matches)
    alone = [decide([spec], matches) for spec in rules]
    assert decision.fired_rules == tuple(
        spec.name
        for spec in sorted(rules, key=lambda spec: (spec.priority, spec.name))
        if decide([spec], matches).fired_rules
    )
    strongest = max(
        (d.verdict for d in alone if d.fired_rules), key=VERDICTS.index, default="allow"
    )
    assert decision.verdict == strongest
    keys = [fired.action.key for fired in decision.actions]
    assert len(keys) == len(set(keys))
    assert {fired.rule for fired in decision.actions} <= set(decision.fired_rules)


@pytest.mark.parametrize(
    ("given_rule", "complaint"),
    [
        ({"name": "x", "then": []}, "then: List should have at least 1 item"),
        ({"name": "x"}, "then: Field required"),
        ({"name": "x", "then": [{"action": "block"}], "extra": 1}, "extra: Extra inputs"),
        ({"name": "x", "when": {"bank": ["known"]}, "then": [{"action": "block"}]}, "when.bank"),
        ({"name": "x", "then": [{"action": "block", "colour": "red"}]}, "then.0.colour"),
        ({"name": "x", "then": [{"action": "delete"}]}, "then.0.action"),
        ({"name": "x", "then": [{"action": "webhook"}]}, "names its webhook"),
        ({"name": "x", "then": [{"action": "block", "webhook": "ops"}]}, "only a webhook"),
        ({"name": "x", "then": [{"action": "report", "queue": "q"}]}, "only a review action"),
        ({"name": "x", "then": [{"action": "review", "queue": ""}]}, "then.0.queue"),
        ({"name": "-x", "then": [{"action": "block"}]}, "invalid rule name"),
        ({"name": "x\x00", "then": [{"action": "block"}]}, "invalid rule name"),
        ({"name": "x", "description": "a\x00", "then": [{"action": "block"}]}, "NUL"),
        ({"name": "x", "priority": "1", "then": [{"action": "block"}]}, "priority"),
        ({"name": "x", "enabled": "yes", "then": [{"action": "block"}]}, "enabled"),
        ({"name": "x", "priority": 2**40, "then": [{"action": "block"}]}, "priority"),
        ({"name": "x", "when": {"max_distance": -1}, "then": [{"action": "block"}]}, "max_dist"),
        ({"name": "x", "when": {"min_matches": 0}, "then": [{"action": "block"}]}, "min_matches"),
        ({"name": "x", "when": {"banks": []}, "then": [{"action": "block"}]}, "when.banks"),
        ({"name": "x", "when": {"banks": ["a\nb"]}, "then": [{"action": "block"}]}, "control"),
        ({"name": "x", "when": {"labels": ["a,b"]}, "then": [{"action": "block"}]}, "label"),
        (
            {"name": "x", "when": {"content_types": ["hashes"]}, "then": [{"action": "block"}]},
            "when.content_types.0",
        ),
        ({"name": "x", "when": {"banks": ["b"] * 1001}, "then": [{"action": "block"}]}, "1000"),
        ({"name": "x", "then": [{"action": "block"}] * 51}, "then: List should have at most"),
        ([], "Input should be a valid dictionary"),
    ],
)
def test_a_malformed_rule_is_refused_naming_the_field(given_rule: Any, complaint: str) -> None:
    with pytest.raises(RuleError, match="invalid rule") as refused:
        parse_rule(given_rule)
    assert complaint in str(refused.value)
    with pytest.raises(ValidationError):
        RuleSpec.model_validate(given_rule)


def test_content_type_of_hashes_follows_what_the_signal_types_hash() -> None:
    assert content_type_of(["md5", "pdq"]) == "photo"
    assert content_type_of(["pdq", "vpdq"]) == "video"
    assert content_type_of(["sha256"]) == "file"
