"""The audit log under ``/v1/audit``: read it a page at a time, and check its chain.

    GET /v1/audit?target=content:known/*&since=2026-11-26T00:00:00Z&limit=100
    GET /v1/audit?after_seq=100                     # the next page
    GET /v1/audit/verify?expect_head=<a head hash kept earlier>

Both routes need the ``audit`` scope (or ``admin``).  What is recorded and
how the chain works: docs/audit.md and hashmatch/audit.py.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from hashmatch import audit
from hashmatch.api.auth import require
from hashmatch.api.response_models import EXACT
from hashmatch.api.responses import KEYED, error_responses
from hashmatch.api.routing import GuardedRoute
from hashmatch.fieldlimits import MAX_ID
from hashmatch.store import Database

router = APIRouter(
    prefix="/v1",
    dependencies=[Depends(require("audit"))],
    tags=["audit"],
    route_class=GuardedRoute,
    responses=error_responses(*KEYED, 422),
)

State = Annotated[
    dict[str, Any] | None,
    Field(description="The target's state (None where it did not exist); never a secret."),
]
Filter = Annotated[
    str | None,
    Query(max_length=300, description="Exact, or a prefix ending in * (content:known/*)."),
]


@EXACT
class AuditEntry(TypedDict):
    seq: Annotated[int, Field(description="1, 2, 3 ... without gaps.")]
    at: Annotated[str, Field(description="When it was written (RFC 3339, UTC).")]
    actor: Annotated[str, Field(description="key:<name>, cli:<os user>, system, ...")]
    action: Annotated[str, Field(description="bank.create, content.add, key.revoke, ...")]
    target: Annotated[str, Field(description="bank:<name>, content:<bank>/<id>, key:<name>, ...")]
    before: State
    after: State
    request_id: Annotated[str | None, Field(description="The API request's X-Request-ID.")]
    client: Annotated[str | None, Field(description="The API client's address.")]
    prev_hash: Annotated[str, Field(description="The hash of the entry before (64 zeros first).")]
    hash: Annotated[str, Field(description="SHA-256 of this entry's fields and prev_hash.")]


@EXACT
class AuditPage(TypedDict):
    entries: list[AuditEntry]
    next_after_seq: Annotated[
        int | None, Field(description="after_seq= for the next page; None after the last page.")
    ]


@EXACT
class ChainCheck(TypedDict):
    ok: bool
    entries: Annotated[int, Field(description="Entries read.")]
    head: Annotated[str, Field(description="The newest entry's hash: keep it, pass it back.")]
    problems: Annotated[list[str], Field(description="Each break of the chain, naming the entry.")]


def _database(request: Request) -> Database:
    database: Database = request.app.state.service.database
    return database


@router.get(
    "/audit",
    summary="Read the audit log, oldest first",
    response_model=AuditPage,
)
def list_entries(
    request: Request,
    actor: Filter = None,
    target: Filter = None,
    action: Filter = None,
    since: str | None = Query(
        None, max_length=64, description="Entries written at or after (RFC 3339)."
    ),
    after_seq: int = Query(0, ge=0, le=MAX_ID, description="Entries after this seq."),
    limit: int = Query(100, ge=1, le=audit.MAX_PAGE, description="At most this many."),
) -> dict[str, Any]:
    moment = audit.parse_time(since) if since is not None else None
    query = audit.Query(actor, target, action, moment)
    with _database(request).reading() as session:
        entries = query.page(session, after_seq=after_seq, limit=limit)
    return {
        "entries": entries,
        "next_after_seq": entries[-1]["seq"] if len(entries) == limit else None,
    }


@router.get(
    "/audit/verify",
    summary="Check the audit log's hash chain",
    response_model=ChainCheck,
)
def verify_chain(
    request: Request,
    expect_head: str | None = Query(
        None,
        pattern="^[0-9a-f]{64}$",
        description="A head kept from an earlier check: it must still be in the chain.",
    ),
) -> dict[str, Any]:
    """``ok`` is false when an entry was changed, deleted or inserted out of
    turn, or when ``expect_head`` is no longer in the chain."""
    with _database(request).reading() as session:
        return audit.verify(session, expect_head=expect_head).to_json()
