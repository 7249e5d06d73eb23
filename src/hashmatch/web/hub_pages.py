"""The hub's pages (only with the setting ``hub_enabled``).

    GET  /ui/hub/apply                          the public application form (no sign-in)
    POST /ui/hub/apply                          apply; the status link is shown once
    GET  /ui/hub/status/{id}?token=             the applicant's status page (no sign-in)
    GET  /ui/hub/applications?state=            applications (admin)
    GET  /ui/hub/applications/{id}              one, its criteria to check off (admin)
    POST /ui/hub/applications/{id}/check|approve|reject
    GET  /ui/hub/members                        members (admin)
    GET  /ui/hub/members/{id}                   one, its dues, keys and notices (admin)
    POST /ui/hub/members/{id}/suspend|reinstate|dues|reattest

The two public pages are the API's applicant routes in HTML, with the same
guards: one allowance of applications per client address shared with
``POST /v1/hub/applications``, the same body cap, the same field checks.
They carry no CSRF token: there is no session to ride on, and anyone may
send what the form sends.  An approval's page shows the member's API key
once, as the API keys' page does.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Form, Request, Response
from starlette.concurrency import run_in_threadpool

from hashmatch.api.errors import ApiError
from hashmatch.api.hub import (
    acting_as_applicant,
    applicant_wait,
    capped_body,
    membership_of,
)
from hashmatch.errors import InvalidFieldError, MembershipConflictError, MembershipError
from hashmatch.hub.applications import ApplicationForm
from hashmatch.hub.criteria import CRITERIA, CRITERION_KEYS
from hashmatch.store.hub_models import APPLICATION_STATES
from hashmatch.web.access import PageRoute, Viewer, page
from hashmatch.web.forms import FormState
from hashmatch.web.rendering import done, render

router = APIRouter(prefix="/ui/hub", route_class=PageRoute, include_in_schema=False)

APPLY_FIELDS = ("organisation", "website", "product", "contact_name", "contact_email")


# -- the applicant ---------------------------------------------------------------


@router.get("/apply")
def apply_form(request: Request) -> Response:
    membership_of(request)
    return render(request, "hub/apply.html", None, form=FormState(), criteria=CRITERIA)


@router.post("/apply")
async def apply(request: Request) -> Response:
    membership = membership_of(request)
    wait = applicant_wait(request)
    if wait > 0:
        return _apply_again(
            request,
            FormState(),
            f"Too many applications from here: retry in {math.ceil(wait)} s.",
            429,
        )
    try:
        raw = await capped_body(request)
    except ApiError as error:
        return _apply_again(request, FormState(), error.message, error.status)
    sent = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=50)
    form = FormState({name: values[0] for name, values in sent.items()})
    application = ApplicationForm(
        **{name: form.value(name) for name in APPLY_FIELDS},
        evidence={key: form.value(f"evidence_{key}") for key in CRITERION_KEYS},
    )
    acting_as_applicant(request)
    try:
        view, token = await run_in_threadpool(membership.applications.submit, application)
    except InvalidFieldError as error:
        return _apply_again(request, form, str(error), 422)
    return render(request, "hub/applied.html", None, status=201, application=view, token=token)


def _apply_again(request: Request, form: FormState, problem: str, status: int) -> Response:
    form.errors["form"] = problem
    return render(request, "hub/apply.html", None, status=status, form=form, criteria=CRITERIA)


@router.get("/status/{application_id}")
def status(request: Request, application_id: int, token: str = "") -> Response:
    view = membership_of(request).applications.status(application_id, token)
    return render(request, "hub/status.html", None, application=view)


# -- applications (admin) --------------------------------------------------------


@router.get("/applications")
def applications(
    request: Request, state: str = "submitted", viewer: Viewer = Depends(page("admin"))
) -> Response:
    found = membership_of(request).applications.list(state=state or None, limit=200)
    return render(
        request,
        "hub/applications.html",
        viewer,
        applications=found,
        state=state,
        states=APPLICATION_STATES,
    )


@router.get("/applications/{application_id}")
def application(
    request: Request, application_id: int, viewer: Viewer = Depends(page("admin"))
) -> Response:
    return _application_page(request, viewer, application_id)


def _application_page(
    request: Request,
    viewer: Viewer,
    application_id: int,
    *,
    problem: str = "",
    form: FormState | None = None,
    status: int = 200,
) -> Response:
    found = membership_of(request).applications.get(application_id)
    return render(
        request,
        "hub/application.html",
        viewer,
        status=status,
        application=found,
        problem=problem,
        form=form or FormState(),
    )


@router.post("/applications/{application_id}/check")
def check(
    request: Request,
    application_id: int,
    criterion: str = Form(""),
    note: str = Form(""),
    viewer: Viewer = Depends(page("admin")),
) -> Response:
    try:
        membership_of(request).applications.check(application_id, criterion, note=note)
    except (MembershipError, InvalidFieldError) as error:
        return _application_page(request, viewer, application_id, problem=str(error), status=409)
    return done(f"/ui/hub/applications/{application_id}", f"Criterion {criterion} checked.")


@router.post("/applications/{application_id}/approve")
def approve(
    request: Request, application_id: int, viewer: Viewer = Depends(page("admin"))
) -> Response:
    try:
        approval = membership_of(request).applications.approve(application_id)
    except MembershipConflictError as error:
        return _application_page(request, viewer, application_id, problem=str(error), status=409)
    return render(request, "hub/approved.html", viewer, approval=approval)


@router.post("/applications/{application_id}/reject")
def reject(
    request: Request,
    application_id: int,
    reason: str = Form(""),
    viewer: Viewer = Depends(page("admin")),
) -> Response:
    try:
        membership_of(request).applications.reject(application_id, reason)
    except (MembershipConflictError, InvalidFieldError) as error:
        form = FormState({"reason": reason}, {"reason": str(error)})
        return _application_page(request, viewer, application_id, form=form, status=422)
    return done(f"/ui/hub/applications/{application_id}", f"Application {application_id} rejected.")


# -- members (admin) -------------------------------------------------------------


@router.get("/members")
def members(request: Request, viewer: Viewer = Depends(page("admin"))) -> Response:
    found = membership_of(request).members.list()
    return render(request, "hub/members.html", viewer, members=found)


@router.get("/members/{member_id}")
def member(request: Request, member_id: int, viewer: Viewer = Depends(page("admin"))) -> Response:
    return _member_page(request, viewer, member_id)


def _member_page(
    request: Request,
    viewer: Viewer,
    member_id: int,
    *,
    form: FormState | None = None,
    status: int = 200,
) -> Response:
    found = membership_of(request).members.get(member_id)
    dues = found["dues"]
    defaults = {
        "invoice": dues["invoice"] or "",
        "due": (dues["due"] or "")[:10],
        "grace_days": "" if dues["grace_days"] is None else str(dues["grace_days"]),
    }
    return render(
        request,
        "hub/member.html",
        viewer,
        status=status,
        member=found,
        form=form or FormState(defaults),
    )


def _member_change(
    request: Request, viewer: Viewer, member_id: int, change: Any, said: str, form: FormState
) -> Response:
    try:
        change()
    except (MembershipError, InvalidFieldError) as error:
        form.errors["form"] = str(error)
        return _member_page(request, viewer, member_id, form=form, status=409)
    return done(f"/ui/hub/members/{member_id}", said)


@router.post("/members/{member_id}/suspend")
def suspend(
    request: Request,
    member_id: int,
    reason: str = Form(""),
    viewer: Viewer = Depends(page("admin")),
) -> Response:
    members = membership_of(request).members
    return _member_change(
        request,
        viewer,
        member_id,
        lambda: members.suspend(member_id, reason),
        "Member suspended.",
        FormState({"reason": reason}),
    )


@router.post("/members/{member_id}/reinstate")
def reinstate(
    request: Request, member_id: int, viewer: Viewer = Depends(page("admin"))
) -> Response:
    members = membership_of(request).members
    return _member_change(
        request,
        viewer,
        member_id,
        lambda: members.reinstate(member_id),
        "Member reinstated.",
        FormState(),
    )


@router.post("/members/{member_id}/reattest")
def reattest(request: Request, member_id: int, viewer: Viewer = Depends(page("admin"))) -> Response:
    dues = membership_of(request).dues
    return _member_change(
        request,
        viewer,
        member_id,
        lambda: dues.reattest(member_id),
        "Re-attestation recorded.",
        FormState(),
    )


@router.post("/members/{member_id}/dues")
def record_dues(
    request: Request,
    member_id: int,
    invoice: str = Form(""),
    due: str = Form(""),
    paid: str = Form(""),
    grace_days: str = Form(""),
    viewer: Viewer = Depends(page("admin")),
) -> Response:
    form = FormState({"invoice": invoice, "due": due, "paid": paid, "grace_days": grace_days})
    try:
        day = date.fromisoformat(due)
        due_at = datetime(day.year, day.month, day.day, tzinfo=UTC)
    except ValueError:
        form.errors["due"] = "Give the due date as YYYY-MM-DD."
    if grace_days and not grace_days.isdigit():
        form.errors["grace_days"] = "Grace days is a whole number of days, or empty."
    if form.errors:
        return _member_page(request, viewer, member_id, form=form, status=422)
    dues = membership_of(request).dues
    return _member_change(
        request,
        viewer,
        member_id,
        lambda: dues.record(
            member_id,
            invoice=invoice,
            due=due_at,
            paid=paid == "on",
            grace_days=int(grace_days) if grace_days else None,
        ),
        "Dues recorded.",
        form,
    )
