"""Rules under ``/v1/rules``: list, create, change, switch and delete them,
and try them on a stored submission or on hashes before they decide.

Every route needs the ``curate`` scope.  A rule is the JSON of docs/rules.md;
one that names a bank or webhook the database does not have is refused
(400, ``invalid_rule``), as is a key the shape does not have (422).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, Self

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from hashmatch.actions.rule_store import Rules
from hashmatch.actions.rules import RuleSpec
from hashmatch.actions.submissions import REF_CHARS
from hashmatch.api.auth import require
from hashmatch.api.errors import ApiError
from hashmatch.api.response_models import EXACT, Match
from hashmatch.api.responses import KEYED, error_responses
from hashmatch.api.routing import GuardedRoute
from hashmatch.api.service import Service
from hashmatch.api.v1 import HashQuery
from hashmatch.fieldlimits import MAX_ID, check_text

router = APIRouter(
    prefix="/v1",
    dependencies=[Depends(require("curate"))],
    tags=["rules"],
    route_class=GuardedRoute,
    responses=error_responses(*KEYED, 422),
)


@EXACT
class FollowUpAction(TypedDict):
    """What a review decision sets going: a report request, or an event to a webhook."""

    action: Literal["report", "webhook"]
    webhook: NotRequired[Annotated[str, Field(description="webhook: the webhook's name.")]]


@EXACT
class Action(TypedDict):
    action: Literal["block", "review", "webhook", "report"]
    queue: NotRequired[Annotated[str, Field(description="review: the queue.")]]
    priority: NotRequired[Annotated[int, Field(description="review: lower is looked at first.")]]
    webhook: NotRequired[Annotated[str, Field(description="webhook: the webhook's name.")]]
    on_confirm: NotRequired[
        Annotated[list[FollowUpAction], Field(description="review: after a confirmation.")]
    ]
    on_false_positive: NotRequired[
        Annotated[list[FollowUpAction], Field(description="review: after a false positive.")]
    ]


@EXACT
class Rule(TypedDict):
    name: str
    enabled: bool
    priority: int
    description: str
    when: Annotated[dict[str, Any], Field(description="The condition's keys as given.")]
    then: list[Action]
    created_at: str
    updated_at: str


@EXACT
class RuleList(TypedDict):
    rules: Annotated[list[Rule], Field(description="In the order they run.")]


@EXACT
class RuleDeleted(TypedDict):
    deleted: str


@EXACT
class FiredAction(Action):
    rule: Annotated[str, Field(description="The rule the action is taken for.")]


@EXACT
class UserCount(TypedDict):
    count: Annotated[str, Field(description="What was counted (docs/rules.md).")]
    within_days: int
    value: Annotated[int, Field(description="The user's earlier records in the window.")]


@EXACT
class Decision(TypedDict):
    verdict: Literal["allow", "review", "block"]
    fired_rules: Annotated[list[str], Field(description="In the order they ran.")]
    actions: Annotated[list[FiredAction], Field(description="Each taken once.")]
    content_type: str
    matches: list[Match]
    user_ref: Annotated[str | None, Field(description="Whose history was counted.")]
    user_history: Annotated[
        list[UserCount],
        Field(description="The counts the rules' user_history conditions looked at."),
    ]


class RuleTest(BaseModel):
    """What to try: one rule (else every enabled rule) on a stored
    submission's matches or on the matches of hashes."""

    model_config = ConfigDict(extra="forbid")

    rule: RuleSpec | None = Field(None, description="A rule to try (it need not be stored).")
    submission_id: Annotated[int, Field(ge=0, le=MAX_ID)] | None = None
    hashes: Annotated[list[HashQuery], Field(min_length=1)] | None = None
    user_ref: Annotated[str, Field(min_length=1, max_length=REF_CHARS)] | None = Field(
        None, description="hashes: the user uploading them now (their history is counted)."
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.submission_id is None) == (self.hashes is None):
            raise ValueError("give either submission_id or hashes")
        if self.submission_id is not None and self.user_ref is not None:
            raise ValueError("user_ref goes with hashes: a submission has its own")
        if self.user_ref is not None:
            check_text("user_ref", self.user_ref, max_chars=REF_CHARS, one_line=True)
        return self


def _rules(request: Request) -> Rules:
    return Rules(request.app.state.service.database)


@router.get("/rules", summary="List rules", response_model=RuleList)
def list_rules(request: Request) -> dict[str, Any]:
    return {"rules": [rule.to_json() for rule in _rules(request).all()]}


@router.post(
    "/rules",
    summary="Create a rule",
    status_code=201,
    response_model=Rule,
    responses=error_responses(409),
)
def create_rule(request: Request, body: RuleSpec) -> dict[str, Any]:
    return _rules(request).create(body).to_json()


@router.post(
    "/rules/test",
    summary="Try rules on a submission or hashes (nothing is acted on)",
    response_model=Decision,
    responses=error_responses(404, 413, 503),
)
def test_rules(request: Request, body: RuleTest) -> dict[str, Any]:
    rules = _rules(request)
    if body.submission_id is not None:
        return rules.test_submission(body.submission_id, body.rule)
    service: Service = request.app.state.service
    hashes = body.hashes or []
    if len(hashes) > service.settings.max_batch:
        raise ApiError(
            413, "batch_too_large", f"at most {service.settings.max_batch} hashes per request"
        )
    pairs = [(query.signal_type, query.signal) for query in hashes]
    return rules.test_hashes(service.matcher(), pairs, body.rule, body.user_ref)


@router.get(
    "/rules/{name}", summary="Show a rule", response_model=Rule, responses=error_responses(404)
)
def show_rule(request: Request, name: str) -> dict[str, Any]:
    return _rules(request).get(name).to_json()


@router.put(
    "/rules/{name}",
    summary="Replace a rule (its name too)",
    response_model=Rule,
    responses=error_responses(404, 409),
)
def update_rule(request: Request, name: str, body: RuleSpec) -> dict[str, Any]:
    return _rules(request).update(name, body).to_json()


@router.delete(
    "/rules/{name}",
    summary="Delete a rule",
    response_model=RuleDeleted,
    responses=error_responses(404),
)
def delete_rule(request: Request, name: str) -> dict[str, str]:
    _rules(request).delete(name)
    return {"deleted": name}


@router.post(
    "/rules/{name}/enable",
    summary="Let a rule decide",
    response_model=Rule,
    responses=error_responses(404),
)
def enable_rule(request: Request, name: str) -> dict[str, Any]:
    return _rules(request).set_enabled(name, True).to_json()


@router.post(
    "/rules/{name}/disable",
    summary="Stop a rule from deciding",
    response_model=Rule,
    responses=error_responses(404),
)
def disable_rule(request: Request, name: str) -> dict[str, Any]:
    return _rules(request).set_enabled(name, False).to_json()
