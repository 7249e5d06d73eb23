"""The appeals' pages in the review area.

    GET  /ui/review/appeals?status=&overdue=   appeals, newest first
    POST /ui/review/appeals/next               claim the next appeal and open it
    GET  /ui/review/appeals/{id}               the appeal and the decision it contests
    POST /ui/review/appeals/{id}/decide        uphold or overturn

An appeal's page shows the decision under appeal with the review item
page's own parts (its submission, its media shielded by the viewer's
wellness settings with the same reveal rules, its matches), so an appeal is
judged with the same protections as the first review.  The reviewer who made
the decision is not handed its appeal while anyone else could take it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request, Response

from hashmatch.errors import (
    AppealConflictError,
    ReviewAccessError,
    ReviewError,
    UnknownAppealError,
)
from hashmatch.review.appeals import DECISIONS
from hashmatch.web.access import PageRoute, Viewer, page, service_of
from hashmatch.web.forms import FormState
from hashmatch.web.rendering import done, render
from hashmatch.web.review_item import shielded_media
from hashmatch.web.review_pages import PAGE_SIZE, review_of, reviewer_of, shown_time

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

#: Each decision: its value, its button's text and its shortcut key.
DECISION_BUTTONS = (("uphold", "Uphold", "u"), ("overturn", "Overturn", "o"))


@router.get("/review/appeals")
def list_appeals(
    request: Request,
    status: str = "",
    overdue: bool = False,
    viewer: Viewer = Depends(page("review")),
) -> Response:
    appeals = review_of(request).appeals
    return render(
        request,
        "review/appeals.html",
        viewer,
        appeals=appeals.list(
            status=status or None, overdue=overdue, limit=PAGE_SIZE, reviewer=reviewer_of(viewer)
        ),
        counts=appeals.counts(),
        status_filter=status,
        overdue=overdue,
        shown_time=shown_time,
    )


@router.post("/review/appeals/next")
def next_appeal(request: Request, viewer: Viewer = Depends(page("review"))) -> Response:
    return _next(request, viewer, "")


def _next(request: Request, viewer: Viewer, notice: str) -> Response:
    appeal = review_of(request).appeals.claim_next(reviewer_of(viewer))
    if appeal is None:
        said = f"{notice} No appeal waits for you." if notice else "No appeal waits for you."
        return done("/ui/review/appeals", said)
    return done(f"/ui/review/appeals/{appeal['id']}", notice or "Reviewing appeals.")


@router.get("/review/appeals/{appeal_id}")
def show_appeal(
    request: Request, appeal_id: int, viewer: Viewer = Depends(page("review"))
) -> Response:
    """The appeal, claimed for the viewer while it is open and theirs to decide."""
    appeals = review_of(request).appeals
    reviewer = reviewer_of(viewer)
    try:
        appeal = appeals.claim(appeal_id, reviewer)
    except (AppealConflictError, ReviewAccessError) as error:
        appeal = appeals.get(appeal_id, reviewer)
        return _appeal_page(
            request, viewer, appeal, message=str(error) if appeal["status"] == "open" else ""
        )
    return _appeal_page(request, viewer, appeal)


def _appeal_page(
    request: Request,
    viewer: Viewer,
    appeal: dict[str, Any],
    *,
    form: FormState | None = None,
    message: str = "",
    status: int = 200,
) -> Response:
    reviewer = reviewer_of(viewer)
    appealed = appeal["appealed"]
    parts = (
        shielded_media(request, viewer, appealed)
        if appealed is not None
        else {
            "submission": service_of(request).submissions.get(appeal["submission_id"]),
            "shown_time": shown_time,
        }
    )
    banks = service_of(request).banks.all()
    return render(
        request,
        "review/appeal.html",
        viewer,
        status=status,
        appeal=appeal,
        item=appealed,
        workable=appeal["status"] == "open"
        and appeal["claimed_by"] in (None, reviewer.name)
        and not message,
        message=message,
        form=form or FormState({}),
        allowlist_options=[
            ("", "none"),
            *((bank.name, bank.name) for bank in banks if bank.kind == "allowlist"),
        ],
        decision_buttons=DECISION_BUTTONS,
        clear=None,
        **parts,
    )


@router.post("/review/appeals/{appeal_id}/decide")
def decide(
    request: Request,
    appeal_id: int,
    decision: str = Form(""),
    note: str = Form(""),
    allowlist_bank: str = Form(""),
    viewer: Viewer = Depends(page("review")),
) -> Response:
    appeals = review_of(request).appeals
    reviewer = reviewer_of(viewer)
    form = FormState({"decision": decision, "note": note, "allowlist_bank": allowlist_bank})
    if decision not in DECISIONS:
        form.errors["decision"] = "Choose Uphold or Overturn."
    else:
        try:
            appeal = appeals.decide(
                appeal_id,
                reviewer,
                decision,
                note=note,
                allowlist_bank=(allowlist_bank or None) if decision == "overturn" else None,
            )
        except AppealConflictError as error:
            appeal = appeals.get(appeal_id, reviewer)
            return _appeal_page(request, viewer, appeal, message=str(error), status=409)
        except (ReviewAccessError, UnknownAppealError):
            raise
        except ReviewError as error:  # what the decision asks for cannot be done
            form.errors["decision"] = str(error)
        else:
            return _next(request, viewer, _decided(appeal))
    return _appeal_page(request, viewer, appeals.get(appeal_id, reviewer), form=form, status=422)


def _decided(appeal: dict[str, Any]) -> str:
    done_as = {"uphold": "upheld", "overturn": "overturned"}[appeal["decision"]]
    said = f"Appeal {appeal['id']} {done_as}."
    outcome = appeal["outcome"]
    if outcome.get("allowlist", {}).get("added_to"):
        said += f" Its hashes went to allowlist {outcome['allowlist']['added_to']}."
    if outcome.get("report"):
        said += f" A CyberTipline report holds it: see appeal {appeal['id']}."
    return said
