"""A platform user's history and its erasure under ``/v1/platform-users``.

Reading the history needs the ``review`` scope (what a reviewer looks at
before acting on an account); erasing needs ``admin``.  A user_ref nothing
is known about answers 404 (``unknown_platform_user``), a cursor this
server did not give or an unknown kind 400 (``invalid_history_request``).
A user_ref may hold "/" (sent as is or as %2F): the routes take the rest
of the path.  docs/platform-users.md has the rest.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import Field
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from hashmatch.api.auth import acting_key
from hashmatch.api.response_models import EXACT
from hashmatch.api.responses import KEYED, error_responses
from hashmatch.api.routing import GuardedRoute
from hashmatch.errors import UnknownPlatformUserError
from hashmatch.platform_users import erase, user_history
from hashmatch.platform_users.kinds import KINDS, MAX_PAGE, USER_REF_CHARS
from hashmatch.store import Database

router = APIRouter(
    prefix="/v1/platform-users",
    tags=["platform users"],
    route_class=GuardedRoute,
    responses=error_responses(*KEYED, 422),
)

UserRef = Annotated[
    str,
    Path(min_length=1, max_length=USER_REF_CHARS, description="The platform's id for the user."),
]
Kind = Literal["statement", "appeal", "report", "review", "match", "submission"]


def _database(request: Request) -> Database:
    return request.app.state.service.database  # type: ignore[no-any-return]


# -- answers ---------------------------------------------------------------------


@EXACT
class HistoryEntry(TypedDict):
    kind: Annotated[Kind, Field(description=", ".join(KINDS))]
    at: Annotated[str, Field(description="When it happened (RFC 3339, UTC).")]
    ids: Annotated[
        dict[str, int | None],
        Field(description="The records it is: submission_id, review_item_id, report_id, ..."),
    ]
    summary: Annotated[str, Field(description="One line for people.")]
    details: Annotated[
        dict[str, Any],
        Field(
            description="The kind's fields: verdict and match_count; bank, labels and "
            "distance; decision and classification; status and ncmec_report_id; ..."
        ),
    ]


@EXACT
class HistoryCounts(TypedDict):
    submission: int
    match: int
    review: int
    report: int
    appeal: int
    statement: int


@EXACT
class History(TypedDict):
    user_ref: str
    counts: Annotated[HistoryCounts, Field(description="The whole history's, by kind.")]
    total: int
    entries: Annotated[list[HistoryEntry], Field(description="Newest first.")]
    next_cursor: Annotated[
        str | None, Field(description="cursor= for the next page; None after the last page.")
    ]


@EXACT
class ErasureCounts(TypedDict):
    reports: int
    matches: int
    statements: int
    outbox_events: int
    appeals: int
    review_decisions: int
    review_items: int
    report_requests: int
    kept_media: int
    submissions: int


@EXACT
class ErasureSummary(TypedDict):
    user_ref: str
    deleted: Annotated[ErasureCounts, Field(description="How many of each went.")]
    kept: Annotated[
        list[dict[str, Any]],
        Field(
            description="What a preserved report holds and stays: each with kind (report, "
            "evidence or submission), id and reason."
        ),
    ]


# -- routes ----------------------------------------------------------------------


@router.get(
    "/{user_ref:path}/history",
    summary="Everything known about one of the platform's users, newest first",
    response_model=History,
    responses=error_responses(400, 404),
)
def show_history(
    request: Request,
    user_ref: UserRef,
    _who: Annotated[str, acting_key("review")],
    limit: int = Query(50, ge=1, le=MAX_PAGE),
    cursor: str | None = Query(None, max_length=200, description="next_cursor of the last page."),
    kind: Kind | None = Query(None, description="Only entries of this kind."),
) -> dict[str, Any]:
    page = user_history(
        _database(request),
        user_ref,
        limit=limit,
        cursor=cursor,
        kinds=None if kind is None else [kind],
    )
    return page.to_json()


@router.delete(
    "/{user_ref:path}",
    summary="Erase a user's records, except what a preserved report holds",
    response_model=ErasureSummary,
    responses=error_responses(400, 404),
)
def erase_user(
    request: Request, user_ref: UserRef, _who: Annotated[str, acting_key("admin")]
) -> dict[str, Any]:
    """One transaction, audited (``platform_user.erase``); erasing again
    answers what stays.  404 when nothing at all is known about the user."""
    done = erase(_database(request), user_ref)
    if not done.found:
        raise UnknownPlatformUserError(user_ref)
    return done.to_json()
