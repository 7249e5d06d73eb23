"""Rules: what a submission's matches lead to, as a verdict and actions.

    rule = RuleSpec.model_validate(
        {"name": "block-known", "when": {"banks": ["known"]}, "then": [{"action": "block"}]}
    )
    decision = evaluate([rule], matches, content_type="photo", bank_kinds={"known": "match"})
    decision.verdict  # "block"

A rule fires when enough of the matches (``Match.to_json()`` dicts) satisfy
every key of its ``when``, and the user's counts satisfy each of its
``user_history`` conditions; a key left out allows anything.  ``evaluate``
reads nothing: the caller passes the user's counts (``UserCounts``) for the
windows the rules ask about (``history_windows``).  The verdict is
the strongest that a fired action asks for (block > review > allow), so it
does not depend on the order of the rules; the order (priority, then name)
only decides which rule's action is kept when two ask for the same thing.
The JSON shape is a contract (docs/rules.md): fields may be added, never
renamed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from hashmatch.banks.checks import check_labels, check_name
from hashmatch.errors import BankError, RuleError
from hashmatch.fieldlimits import DESCRIPTION_CHARS, check_text
from hashmatch.signals import get_signal_type
from hashmatch.signals.base import ImageSignalType, VideoSignalType

#: From weakest to strongest.
VERDICTS = ("allow", "review", "block")
#: Items in one list of a condition (banks, labels, ...).
MAX_ITEMS = 1000
#: Actions in one rule.
MAX_ACTIONS = 50
#: What the database's integer columns hold (rule and review priorities, distances).
_INT32 = 2**31 - 1
#: What a ``user_history`` condition can count of the user's earlier records
#: (docs/rules.md says what each is).
HistoryKind = Literal[
    "submissions",
    "matches",
    "block_verdicts",
    "confirmed_decisions",
    "reports",
    "upheld_appeals",
]
HISTORY_KINDS: tuple[str, ...] = get_args(HistoryKind)
#: The longest window a history condition looks back over (ten years).
MAX_WINDOW_DAYS = 3650
#: History conditions in one rule.
MAX_HISTORY_CONDITIONS = 20

#: (what is counted, window in days): one of the user's counts.
HistoryWindow = tuple[str, int]
#: The user's counts by window; a window left out counts 0.
UserCounts = Mapping[HistoryWindow, int]

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)


def _check_rule_name(name: str) -> str:
    try:
        return check_name(name)
    except BankError:
        raise ValueError(
            f"invalid rule name {name!r}: 1-100 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        ) from None


def _check_label_list(labels: list[str]) -> list[str]:
    """Labels as banks store them (classification codes in capitals), so
    that ``a1`` in a rule means the ``A1`` a bank has."""
    try:
        return check_labels(labels)
    except BankError as error:
        raise ValueError(str(error)) from None


def _one_line(field: str, max_chars: int) -> Callable[[str], str]:
    return partial(check_text, field, max_chars=max_chars, one_line=True)


BankNames = Annotated[
    list[Annotated[str, AfterValidator(_one_line("banks", 100))]],
    Field(min_length=1, max_length=MAX_ITEMS),
]
SignalTypes = Annotated[
    list[Annotated[str, AfterValidator(_one_line("signal_types", 32))]],
    Field(min_length=1, max_length=MAX_ITEMS),
]
Labels = Annotated[
    list[str], Field(min_length=1, max_length=MAX_ITEMS), AfterValidator(_check_label_list)
]
WebhookName = Annotated[str, AfterValidator(_one_line("webhook", 100))]
Priority = Annotated[int, Field(ge=-_INT32, le=_INT32)]


class HistoryCondition(BaseModel):
    """At least ``at_least`` of the user's earlier records of one kind in
    the last ``within_days`` days."""

    model_config = _STRICT

    count: HistoryKind = Field(
        ..., description="What is counted: " + ", ".join(HISTORY_KINDS) + "."
    )
    within_days: int = Field(..., ge=1, le=MAX_WINDOW_DAYS, description="The window, in days.")
    at_least: int = Field(..., ge=1, le=_INT32, description="The fewest that satisfy it.")

    @property
    def window(self) -> HistoryWindow:
        return self.count, self.within_days

    def holds(self, counts: UserCounts) -> bool:
        return counts.get(self.window, 0) >= self.at_least


class RuleCondition(BaseModel):
    """Which matches count; every key is optional (absent: any)."""

    model_config = _STRICT

    banks: BankNames | None = Field(None, description="Matches in one of these banks.")
    bank_kinds: list[Literal["match", "allowlist"]] | None = Field(
        None, min_length=1, description="Matches in a bank of one of these kinds."
    )
    labels: Labels | None = Field(
        None, description="Matches with any of these labels (the bank's or the content's)."
    )
    labels_all: Labels | None = Field(
        None, description="Matches with all of these labels (the bank's or the content's)."
    )
    signal_types: SignalTypes | None = Field(None, description="Matches of these signal types.")
    max_distance: int | None = Field(
        None, ge=0, le=_INT32, description="Matches at most this distance away."
    )
    content_types: list[Literal["photo", "video", "file"]] | None = Field(
        None, min_length=1, description="Submissions of these content types."
    )
    min_matches: int | None = Field(
        None, ge=1, le=_INT32, description="Fire only with at least this many matches (else 1)."
    )
    include_suppressed: bool = Field(
        False, description="Count matches that an allowlist suppressed (by default they do not)."
    )
    user_history: (
        Annotated[list[HistoryCondition], Field(min_length=1, max_length=MAX_HISTORY_CONDITIONS)]
        | None
    ) = Field(
        None,
        description="Fire only when the submission's user has at least this many earlier "
        "records of each kind in the window (not per match).",
    )

    def counts(self, match: Mapping[str, Any], content_type: str, bank_kind: str | None) -> bool:
        """Whether one match satisfies every key."""
        if match.get("suppressed") and not self.include_suppressed:
            return False
        if self.content_types is not None and content_type not in self.content_types:
            return False
        if self.banks is not None and match.get("bank") not in self.banks:
            return False
        if self.bank_kinds is not None and bank_kind not in self.bank_kinds:
            return False
        if self.signal_types is not None and match.get("signal_type") not in self.signal_types:
            return False
        if self.max_distance is not None and match.get("distance", 0) > self.max_distance:
            return False
        labels = {*match.get("labels", ()), *match.get("content_labels", ())}
        if self.labels is not None and labels.isdisjoint(self.labels):
            return False
        return self.labels_all is None or labels.issuperset(self.labels_all)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(exclude_defaults=True)


def history_windows(rules: Iterable[RuleSpec]) -> set[HistoryWindow]:
    """The user's counts that the enabled ``rules`` look at."""
    return {
        condition.window
        for rule in rules
        if rule.enabled
        for condition in rule.when.user_history or ()
    }


class FollowUp(BaseModel):
    """What a review decision sets going: a report request, or an event to a webhook."""

    model_config = _STRICT

    action: Literal["report", "webhook"]
    webhook: WebhookName | None = Field(None, description="webhook: the webhook's name.")

    @model_validator(mode="after")
    def _webhook_named(self) -> Self:
        if (self.action == "webhook") != (self.webhook is not None):
            raise ValueError("a webhook follow-up, and only that, names its webhook")
        return self

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


FollowUps = Annotated[list[FollowUp], Field(min_length=1, max_length=MAX_ACTIONS)]


class RuleAction(BaseModel):
    """One thing a fired rule does."""

    model_config = _STRICT

    action: Literal["block", "review", "webhook", "report"]
    queue: Annotated[str, Field(min_length=1), AfterValidator(_one_line("queue", 100))] = Field(
        "default", description="review: the queue."
    )
    priority: Priority = Field(0, description="review: lower is looked at first.")
    webhook: WebhookName | None = Field(None, description="webhook: the webhook's name.")
    on_confirm: FollowUps | None = Field(
        None, description="review: what a reviewer's confirmation sets going."
    )
    on_false_positive: FollowUps | None = Field(
        None, description="review: what a reviewer's false positive sets going."
    )

    @model_validator(mode="after")
    def _fields_fit_action(self) -> Self:
        if self.action == "webhook" and self.webhook is None:
            raise ValueError("a webhook action names its webhook: {'webhook': '<name>'}")
        if self.action != "webhook" and self.webhook is not None:
            raise ValueError(f"only a webhook action names a webhook, not {self.action!r}")
        stray = {"queue", "priority", "on_confirm", "on_false_positive"} & self.model_fields_set
        if self.action != "review" and stray:
            raise ValueError(f"only a review action has {' and '.join(sorted(stray))}")
        return self

    @property
    def key(self) -> tuple[str, str | None]:
        """What the action asks for: two actions with one key are taken once."""
        target = self.queue if self.action == "review" else self.webhook
        return self.action, target

    def follow_ups(self) -> dict[str, list[dict[str, Any]]]:
        """A review action's follow-ups by decision (``on_confirm`` -> ``confirm``'s)."""
        named = {"confirm": self.on_confirm, "false_positive": self.on_false_positive}
        return {
            key: [follow_up.to_json() for follow_up in value]
            for key, value in named.items()
            if value is not None
        }

    def to_json(self) -> dict[str, Any]:
        if self.action == "review":
            return {
                "action": "review",
                "queue": self.queue,
                "priority": self.priority,
                **{f"on_{decision}": then for decision, then in self.follow_ups().items()},
            }
        if self.action == "webhook":
            return {"action": "webhook", "webhook": self.webhook}
        return {"action": self.action}


class RuleSpec(BaseModel):
    """A rule as a client writes it (docs/rules.md)."""

    model_config = _STRICT

    name: Annotated[str, AfterValidator(_check_rule_name)]
    enabled: bool = True
    priority: Priority = Field(0, description="Lower runs first; ties by name.")
    description: Annotated[
        str,
        Field(max_length=DESCRIPTION_CHARS),
        AfterValidator(partial(check_text, "description", max_chars=DESCRIPTION_CHARS)),
    ] = ""
    when: RuleCondition = Field(default_factory=lambda: RuleCondition.model_validate({}))
    then: list[RuleAction] = Field(..., min_length=1, max_length=MAX_ACTIONS)

    def to_json(self) -> dict[str, Any]:
        """The contract shape, with the description."""
        return {
            "name": self.name,
            "enabled": self.enabled,
            "priority": self.priority,
            "description": self.description,
            "when": self.when.to_json(),
            "then": [action.to_json() for action in self.then],
        }


def webhooks_named(spec: RuleSpec) -> set[str]:
    """Every webhook a rule's actions and their review follow-ups name."""
    names: set[str] = set()
    for action in spec.then:
        follow_ups = [*(action.on_confirm or ()), *(action.on_false_positive or ())]
        names.update(item.webhook for item in [action, *follow_ups] if item.webhook)
    return names


def parse_rule(data: Any) -> RuleSpec:
    """A rule from its JSON form (parsed), or RuleError naming each field at fault."""
    try:
        return RuleSpec.model_validate(data)
    except ValidationError as error:
        raise RuleError(f"invalid rule: {validation_message(error)}") from None


def validation_message(error: ValidationError) -> str:
    """Pydantic's problems as one line: ``when.labels: invalid label ...; ...``."""
    problems = []
    for problem in error.errors(include_url=False):
        where = ".".join(str(part) for part in problem["loc"]) or "rule"
        message = problem["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}")
    return "; ".join(problems)


def content_type_of(signal_types: Iterable[str]) -> str:
    """The content type of a submission given as hashes, as its signal types
    tell: "video" for a video hash, else "photo" for an image hash, else "file"."""
    kinds = [get_signal_type(name) for name in signal_types]
    if any(isinstance(kind, VideoSignalType) for kind in kinds):
        return "video"
    if any(isinstance(kind, ImageSignalType) for kind in kinds):
        return "photo"
    return "file"


def rule_order(rule: RuleSpec) -> tuple[int, str]:
    return rule.priority, rule.name


@dataclass(frozen=True)
class FiredAction:
    rule: str
    action: RuleAction

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, **self.action.to_json()}


@dataclass(frozen=True)
class Decision:
    """The verdict, the rules that fired (in order) and the actions to take:
    each rule's in its ``then`` order, an action asked for twice (the same
    queue, webhook, report or block) kept from the first rule only."""

    verdict: str
    fired_rules: tuple[str, ...]
    actions: tuple[FiredAction, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "fired_rules": list(self.fired_rules),
            "actions": [action.to_json() for action in self.actions],
        }


def _fires(
    rule: RuleSpec,
    matches: Sequence[Mapping[str, Any]],
    content_type: str,
    bank_kind: Callable[[str], str | None],
    user_counts: UserCounts,
) -> bool:
    """Whether an enabled rule's history conditions hold and it has enough
    matches that satisfy its condition."""
    if not rule.enabled:
        return False
    if not all(condition.holds(user_counts) for condition in rule.when.user_history or ()):
        return False
    needed = rule.when.min_matches or 1
    counted = 0
    for match in matches:
        if rule.when.counts(match, content_type, bank_kind(str(match.get("bank")))):
            counted += 1
            if counted >= needed:
                return True
    return False


def evaluate(
    rules: Sequence[RuleSpec],
    matches: Sequence[Mapping[str, Any]],
    *,
    content_type: str,
    bank_kinds: Mapping[str, str],
    user_counts: UserCounts | None = None,
) -> Decision:
    """The decision of ``rules`` over ``matches`` (``Match.to_json()`` dicts)
    of a submission of ``content_type``; ``bank_kinds``: bank name -> kind
    (a bank it lacks, one deleted since, has no kind); ``user_counts``: the
    user's earlier records per window (None, or a window left out: 0)."""
    counts: UserCounts = user_counts or {}
    fired: list[str] = []
    actions: list[FiredAction] = []
    taken: set[tuple[str, str | None]] = set()
    for rule in sorted(rules, key=rule_order):
        if not _fires(rule, matches, content_type, bank_kinds.get, counts):
            continue
        fired.append(rule.name)
        for action in rule.then:
            if action.key not in taken:
                taken.add(action.key)
                actions.append(FiredAction(rule.name, action))
    # The block and review actions are named for the verdicts they ask for.
    asked = {fired_action.action.action for fired_action in actions}
    verdict = max(asked & set(VERDICTS), key=VERDICTS.index, default="allow")
    return Decision(verdict, tuple(fired), tuple(actions))
