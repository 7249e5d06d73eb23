"""The hub's TAXII collections for hub admins, and what members' signals did
(only with the setting ``hub_enabled``; the TAXII server is api/taxii.py).

    GET  /v1/hub/collections                        collections and grants (admin)
    POST /v1/hub/collections                        create one (admin)
    PUT  /v1/hub/collections/{id}/grants/{member}   set a member's read/write (admin)
    GET  /v1/hub/me/signals                         this member's indicators, with feedback (hub)
    GET  /v1/hub/signals                            every member's (admin)
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from hashmatch.api.auth import require
from hashmatch.api.errors import ApiError
from hashmatch.api.hub import hub_database
from hashmatch.api.response_models import EXACT
from hashmatch.api.responses import KEYED, error_responses
from hashmatch.api.routing import GuardedRoute
from hashmatch.apikeys import KeyInfo
from hashmatch.fieldlimits import MAX_ID
from hashmatch.hub import feedback
from hashmatch.hub.collections import DESCRIPTION_CHARS, TITLE_CHARS, Collections
from hashmatch.hub.member_records import member_by_key

router = APIRouter(
    prefix="/v1/hub", tags=["hub"], route_class=GuardedRoute, responses=error_responses(*KEYED, 422)
)
Admin = Annotated[KeyInfo | None, Depends(require("admin"))]
HubKey = Annotated[KeyInfo | None, Depends(require("hub"))]


@EXACT
class Collection(TypedDict):
    id: str
    title: str
    description: str
    kind: Literal["hashes", "signals"]
    identifiers: Literal["raw", "keyed"]
    created_at: str


@EXACT
class Grant(TypedDict):
    member_id: int
    read: bool
    write: bool


@EXACT
class CollectionWithGrants(Collection):
    grants: list[Grant]


@EXACT
class CollectionList(TypedDict):
    collections: Annotated[list[CollectionWithGrants], Field(description="Oldest first.")]


@EXACT
class GrantSet(Grant):
    collection_id: str


@EXACT
class Feedback(TypedDict):
    confirmed: int
    false_positive: int
    disputed: int
    reported: Annotated[
        int,
        Field(
            description="Matches members reported to the authorities: the sum of the "
            "counts of their unrevoked Sightings flagged x_hashmatch_reported."
        ),
    ]


@EXACT
class Signal(TypedDict):
    row: Annotated[int, Field(description="after= this for the next page.")]
    id: str
    collection: str
    publisher_id: int
    version: str
    date_added: str
    revoked: bool
    pattern: str | None
    feedback: Annotated[
        Feedback, Field(description="Members' latest opinions, counted; matches reported.")
    ]


@EXACT
class SignalList(TypedDict):
    signals: list[Signal]


class CollectionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(..., max_length=TITLE_CHARS)
    kind: Literal["hashes", "signals"]
    identifiers: Literal["raw", "keyed"] = "raw"
    description: str = Field("", max_length=DESCRIPTION_CHARS)


class GrantBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    read: bool
    write: bool


@router.get(
    "/collections",
    summary="The hub's TAXII collections and their grants",
    response_model=CollectionList,
)
def list_collections(request: Request, _key: Admin) -> dict[str, Any]:
    return {"collections": Collections(hub_database(request)).list()}


@router.post(
    "/collections",
    summary="Create a TAXII collection",
    status_code=201,
    response_model=Collection,
    responses=error_responses(400),
)
def create_collection(request: Request, body: CollectionBody, _key: Admin) -> dict[str, Any]:
    return Collections(hub_database(request)).create(
        body.title, kind=body.kind, identifiers=body.identifiers, description=body.description
    )


@router.put(
    "/collections/{collection_id}/grants/{member_id}",
    summary="Set a member's read and write access to a collection",
    response_model=GrantSet,
    responses=error_responses(404),
)
def grant(
    request: Request,
    collection_id: Annotated[str, Path(max_length=200)],
    member_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: GrantBody,
    _key: Admin,
) -> dict[str, Any]:
    return Collections(hub_database(request)).grant(
        collection_id, member_id=member_id, read=body.read, write=body.write
    )


Limit = Annotated[int, Query(ge=1, le=feedback.MAX_SIGNALS)]
After = Annotated[int, Query(ge=0, le=MAX_ID, description="The last page's last row.")]


@router.get(
    "/me/signals",
    summary="This member's shared indicators and their feedback",
    response_model=SignalList,
    responses=error_responses(404),
)
def my_signals(
    request: Request, key: HubKey, after: After = 0, limit: Limit = 100
) -> dict[str, Any]:
    if key is None:
        raise ApiError(401, "unauthorized", "an API key is required")
    with hub_database(request).reading() as session:
        member_id = member_by_key(session, key.name).id
    return {
        "signals": feedback.Feedback(hub_database(request)).signals(
            member_id, after=after, limit=limit
        )
    }


@router.get(
    "/signals",
    summary="Every member's shared indicators and their feedback",
    response_model=SignalList,
)
def all_signals(
    request: Request, _key: Admin, after: After = 0, limit: Limit = 100
) -> dict[str, Any]:
    return {
        "signals": feedback.Feedback(hub_database(request)).signals(None, after=after, limit=limit)
    }
