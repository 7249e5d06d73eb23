"""DSA statements of reasons under ``/v1/statements`` (scope ``report``, the
scope of what is sent to authorities): list them a page at a time, show one
(the statement as built, its state and the API's stored answer), and send a
failed one again.

An unknown statement is a 404 (``unknown_statement``); resending one that is
not failed a 409 (``statement_conflict``); an unknown status or decision
kind, or a ``since`` that is not an RFC 3339 time, a 400.  docs/statements.md
has the rest.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import Field
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from hashmatch.actions.submissions import parse_moment
from hashmatch.api.auth import acting_key
from hashmatch.api.errors import ApiError
from hashmatch.api.response_models import EXACT
from hashmatch.api.responses import KEYED, error_responses
from hashmatch.api.routing import GuardedRoute
from hashmatch.errors import SubmissionError
from hashmatch.fieldlimits import MAX_ID
from hashmatch.statements.records import get_statement, list_statements, resend
from hashmatch.store import Database
from hashmatch.store.statement_models import DECISION_KINDS, STATEMENT_STATUSES

router = APIRouter(
    prefix="/v1/statements",
    tags=["statements"],
    route_class=GuardedRoute,
    responses=error_responses(*KEYED, 422),
)

StatementId = Annotated[int, Path(ge=0, le=MAX_ID)]
#: ``key:<name>``: the key the check admitted, acting.
Actor = Annotated[str, acting_key("report")]
MAX_PAGE = 500


@EXACT
class StatementState(TypedDict):
    id: int
    decision_kind: Annotated[
        Literal["verdict", "review", "appeal"],
        Field(description="What decision it explains: a verdict, a review decision, an appeal."),
    ]
    decision_id: Annotated[int, Field(description="The submission's, item's or appeal's id.")]
    submission_id: int | None
    puid: Annotated[str, Field(description="The platform's unique id for the statement.")]
    status: Literal["pending", "sent", "failed", "not_sent"]
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    response: Annotated[
        dict[str, Any] | None,
        Field(description="What the Transparency Database answered (its uuid, or field errors)."),
    ]
    created_at: str
    sent_at: str | None


@EXACT
class StatementDetail(StatementState):
    statement: Annotated[
        dict[str, Any], Field(description="The statement as built, in the API's fields.")
    ]


@EXACT
class StatementPage(TypedDict):
    statements: Annotated[list[StatementState], Field(description="Newest first.")]
    next_before: Annotated[
        int | None, Field(description="before= for the next page; None after the last page.")
    ]


def _database(request: Request) -> Database:
    return request.app.state.service.database  # type: ignore[no-any-return]


@router.get(
    "",
    summary="List statements of reasons, a page at a time",
    response_model=StatementPage,
    responses=error_responses(400),
)
def list_all(
    request: Request,
    _actor: Actor,
    status: str | None = Query(None, max_length=16, description=", ".join(STATEMENT_STATUSES)),
    decision_kind: str | None = Query(None, max_length=16, description=", ".join(DECISION_KINDS)),
    since: str | None = Query(
        None, max_length=64, description="Written at this time or later (RFC 3339)."
    ),
    before: int | None = Query(None, ge=0, le=MAX_ID, description="Ids below this one."),
    limit: int = Query(50, ge=1, le=MAX_PAGE, description="At most this many."),
) -> dict[str, Any]:
    try:
        moment = parse_moment("since", since) if since is not None else None
    except SubmissionError as error:
        raise ApiError(400, "invalid_field", str(error)) from None
    page = list_statements(
        _database(request),
        status=status,
        decision_kind=decision_kind,
        since=moment,
        before=before,
        limit=limit,
    )
    return {"statements": page, "next_before": page[-1]["id"] if len(page) == limit else None}


@router.get(
    "/{statement_id}",
    summary="Show a statement: as built, its state, and the API's answer",
    response_model=StatementDetail,
    responses=error_responses(404),
)
def show(request: Request, statement_id: StatementId, _actor: Actor) -> dict[str, Any]:
    return get_statement(_database(request), statement_id)


@router.post(
    "/{statement_id}/resend",
    summary="Send a failed statement again (pending, tries reset)",
    response_model=StatementDetail,
    responses=error_responses(404, 409),
)
def resend_one(request: Request, statement_id: StatementId, _actor: Actor) -> dict[str, Any]:
    return resend(_database(request), statement_id)
