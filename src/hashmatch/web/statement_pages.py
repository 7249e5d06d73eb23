"""The DSA statements of reasons pages (permission ``evidence``: admin and
legal): the statements, newest first, filtered by state and decision kind;
one statement as built, with its state and the Transparency Database's
answer; Resend for a failed one.

    GET  /ui/statements              ?status=...&kind=...&before=...
    GET  /ui/statements/{id}
    POST /ui/statements/{id}/resend
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from hashmatch.fieldlimits import MAX_ID
from hashmatch.statements.records import get_statement, list_statements, resend
from hashmatch.store.statement_models import DECISION_KINDS, STATEMENT_STATUSES
from hashmatch.web.access import PageRoute, Viewer, page, service_of
from hashmatch.web.rendering import done, render
from hashmatch.web.review_pages import shown_time

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

StatementId = Annotated[int, Path(ge=0, le=MAX_ID)]
PAGE_SIZE = 50


@router.get("/statements")
def list_page(
    request: Request,
    status: str = Query("", max_length=16),
    kind: str = Query("", max_length=16),
    before: int | None = Query(None, ge=0, le=MAX_ID),
    viewer: Viewer = Depends(page("evidence")),
) -> Response:
    chosen_status = status if status in STATEMENT_STATUSES else ""
    chosen_kind = kind if kind in DECISION_KINDS else ""
    statements = list_statements(
        service_of(request).database,
        status=chosen_status or None,
        decision_kind=chosen_kind or None,
        before=before,
        limit=PAGE_SIZE,
    )
    older = statements[-1]["id"] if len(statements) == PAGE_SIZE else None
    query = f"status={chosen_status}&kind={chosen_kind}&"
    return render(
        request,
        "statements/list.html",
        viewer,
        statements=statements,
        chosen_status=chosen_status,
        chosen_kind=chosen_kind,
        statuses=STATEMENT_STATUSES,
        kinds=DECISION_KINDS,
        next_href=f"/ui/statements?{query}before={older}" if older else "",
        shown_time=shown_time,
    )


@router.get("/statements/{statement_id}")
def show_page(
    request: Request, statement_id: StatementId, viewer: Viewer = Depends(page("evidence"))
) -> Response:
    statement = get_statement(service_of(request).database, statement_id)
    return render(
        request,
        "statements/show.html",
        viewer,
        statement=statement,
        built=json.dumps(statement["statement"], indent=2, ensure_ascii=False),
        answer=None
        if statement["response"] is None
        else json.dumps(statement["response"], indent=2, ensure_ascii=False),
        shown_time=shown_time,
    )


@router.post("/statements/{statement_id}/resend")
def resend_page(
    request: Request, statement_id: StatementId, viewer: Viewer = Depends(page("evidence"))
) -> Response:
    resend(service_of(request).database, statement_id)
    return done(f"/ui/statements/{statement_id}", f"Statement {statement_id} will be sent again.")
