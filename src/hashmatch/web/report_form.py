"""The "Report to NCMEC" form (permission ``report``): a CyberTipline report
of confirmed review items, prefilled from them, with the XML it would
submit, then drafted and filed.

    GET  /ui/reports/new?items=12,13     the form, prefilled
    POST /ui/reports/new                 action=preview: the form again, with the XML
                                         action=file: draft, file, go to the report

Prefilled: the files with their classification and annotations, the content
URLs, the reported user's screen name, display name, emails and profile URL
from the submissions' metadata.  What the form leaves empty still comes from
the metadata and the platform's additional-info webhook when the report is
drafted (``reporting/report_content.py``), so the preview is what NCMEC will
get.  The preview is rendered on the server: no script needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Form, Request, Response
from lxml import etree
from sqlalchemy import select

from hashmatch.api.reports import MAX_ITEMS, reports_of
from hashmatch.errors import HashmatchError, ReportConflictError
from hashmatch.fieldlimits import MAX_ID
from hashmatch.reporting.report_content import (
    REPORT_ANNOTATIONS,
    file_name_of,
    user_from_metadata,
)
from hashmatch.store.workflow import KeptMedia, ReviewItem, Submission
from hashmatch.web.access import PageRoute, Viewer, page, service_of
from hashmatch.web.forms import FormState
from hashmatch.web.rendering import done, render
from hashmatch.web.report_pages import environment_context

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

#: The form's one-line text fields, each a report detail of the same name.
TEXT_FIELDS = ("screen_name", "display_name", "profile_url", "additional_info")
#: The form's one-per-line fields, each a list detail of the same name.
LINE_FIELDS = ("urls", "emails")
PUBLICLY_AVAILABLE = (("", "Unknown"), ("yes", "Yes"), ("no", "No"))


@dataclass(frozen=True)
class ItemRow:
    """One review item of the form, as its files table shows it."""

    id: int
    decision: str | None
    classification: str | None
    annotations: list[str]
    filename: str
    user_ref: str | None
    content_url: str | None


def parse_items(text: str) -> list[int]:
    """``"12, 13"`` as ``[12, 13]``; ValueError when it is not a list of at
    most MAX_ITEMS ids (each one a database can hold)."""
    parts = [part for part in text.replace(" ", "").split(",") if part]
    if not parts or len(parts) > MAX_ITEMS:
        raise ValueError(text)
    items = [int(part) for part in parts]
    if any(not 0 <= item <= MAX_ID for item in items):
        raise ValueError(text)
    return list(dict.fromkeys(items))


def _rows(request: Request, item_ids: list[int]) -> tuple[list[ItemRow], list[Submission]]:
    with service_of(request).database.reading() as session:
        found = session.execute(
            select(ReviewItem, Submission, KeptMedia.filename)
            .join(Submission, Submission.id == ReviewItem.submission_id)
            .outerjoin(KeptMedia, KeptMedia.submission_id == Submission.id)
            .where(ReviewItem.id.in_(item_ids))
            .order_by(ReviewItem.id)
        ).all()
        rows = [
            ItemRow(
                item.id,
                item.decision,
                item.classification,
                list(item.annotations or []),
                file_name_of(submission, kept_name),
                submission.user_ref,
                submission.content_url,
            )
            for item, submission, kept_name in found
        ]
        return rows, [submission for _, submission, _ in found]


def prefilled(rows: list[ItemRow], submissions: list[Submission], items: str) -> FormState:
    """The form as the items and their submissions' metadata fill it."""
    user = user_from_metadata(submissions)
    urls = list(dict.fromkeys(row.content_url for row in rows if row.content_url))
    values = {
        "items": items,
        "urls": "\n".join(urls),
        "emails": "\n".join(user.get("emails", [])),
        **{name: str(user.get(name, "")) for name in TEXT_FIELDS},
    }
    return FormState(values)


def details_of(form: FormState, annotations: list[str]) -> dict[str, Any]:
    """The report details the form says (empty fields left out)."""
    details: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        if form.value(name).strip():
            details[name] = form.value(name).strip()
    for name in LINE_FIELDS:
        lines = [line.strip() for line in form.value(name).splitlines() if line.strip()]
        if lines:
            details[name] = lines
    if annotations:
        details["annotations"] = annotations
    if form.value("publicly_available") in ("yes", "no"):
        details["publicly_available"] = form.value("publicly_available") == "yes"
    return details


def indented(xml: str) -> str:
    """The report XML one element a line, for people to read."""
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    root = etree.fromstring(xml.encode(), parser)
    return str(etree.tostring(root, pretty_print=True, encoding="unicode"))


def _form_page(
    request: Request,
    viewer: Viewer,
    form: FormState,
    item_ids: list[int],
    *,
    annotations: list[str],
    xml: str = "",
    status: int = 200,
) -> Response:
    rows, _ = _rows(request, item_ids)
    return render(
        request,
        "reports/new.html",
        viewer,
        status=status,
        form=form,
        rows=rows,
        chosen_annotations=annotations,
        report_annotations=REPORT_ANNOTATIONS,
        publicly_available=PUBLICLY_AVAILABLE,
        xml=xml,
        **environment_context(request),
    )


def _items_or_error(form: FormState) -> list[int]:
    try:
        return parse_items(form.value("items"))
    except ValueError:
        form.errors["items"] = "Give the review items as ids separated by commas, e.g. 12,13."
        return []


@router.get("/reports/new")
def new_report(
    request: Request, items: str = "", viewer: Viewer = Depends(page("report"))
) -> Response:
    form = FormState({"items": items})
    item_ids = _items_or_error(form)
    if not form.ok:
        return _form_page(request, viewer, form, [], annotations=[], status=400)
    rows, submissions = _rows(request, item_ids)
    form = prefilled(rows, submissions, ",".join(map(str, item_ids)))
    chosen = sorted({note for row in rows for note in row.annotations} & set(REPORT_ANNOTATIONS))
    return _form_page(request, viewer, form, item_ids, annotations=chosen)


@router.post("/reports/new")
def submit_report(
    request: Request,
    items: str = Form(""),
    action: str = Form("preview"),
    urls: str = Form(""),
    emails: str = Form(""),
    screen_name: str = Form(""),
    display_name: str = Form(""),
    profile_url: str = Form(""),
    additional_info: str = Form(""),
    publicly_available: str = Form(""),
    annotations: list[str] = Form([]),
    viewer: Viewer = Depends(page("report")),
) -> Response:
    """Preview the XML (the form again, with it) or draft and file the report."""
    form = FormState(
        {
            "items": items,
            "urls": urls,
            "emails": emails,
            "screen_name": screen_name,
            "display_name": display_name,
            "profile_url": profile_url,
            "additional_info": additional_info,
            "publicly_available": publicly_available,
        }
    )
    item_ids = _items_or_error(form)
    if not form.ok:
        return _form_page(request, viewer, form, [], annotations=annotations, status=400)
    details = details_of(form, annotations)
    reports = reports_of(request)
    try:
        if action == "file":
            report_id = reports.draft(item_ids, actor=viewer.actor, details=details)
            filed = reports.file(report_id)
            return done(f"/ui/reports/{report_id}", f"Report {report_id}: {filed['status']}.")
        xml = indented(reports.preview_xml(item_ids, details))
    except HashmatchError as error:
        form.errors["report"] = str(error)
        code = 409 if isinstance(error, ReportConflictError) else 400
        return _form_page(request, viewer, form, item_ids, annotations=annotations, status=code)
    return _form_page(request, viewer, form, item_ids, annotations=annotations, xml=xml)
