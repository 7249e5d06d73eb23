"""One review item's page: what matched, the media shielded, reveals and decisions.

    GET  /ui/review/items/{id}            claims the item (or renews the claim)
    POST /ui/review/items/{id}/reveal     a clear preview (JSON for the script)
    POST /ui/review/items/{id}/original   the kept bytes themselves, when asked
    POST /ui/review/items/{id}/decide     confirm, false_positive, escalate, skip
    POST /ui/review/items/{id}/reopen     admins

Everything needed to decide is readable without looking at the media: the
references, the rule and its reason, every match with its labels and
source.  The media is shown only as a preview made on the server (small,
grayscale, blurred by the reviewer's own blur) until the reviewer reveals
it; each reveal is granted by :class:`~hashmatch.review.reveals.Reveals`
(counted, capped per day, audited) before a clear picture leaves the server.
A reveal asked for by the script answers JSON (``{"image", "seconds",
"left"}``, or ``{"error": {"message"}}``); with scripts off the page comes
back with the clear preview in it.
"""

from __future__ import annotations

import io
from typing import Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import JSONResponse
from PIL import Image, UnidentifiedImageError

from hashmatch.actions.submissions import KeptFile
from hashmatch.errors import (
    MediaKeyError,
    RevealCapError,
    ReviewAccessError,
    ReviewConflictError,
    ReviewError,
    SubmissionError,
    UnknownReviewItemError,
)
from hashmatch.media.limits import DecodeLimits
from hashmatch.media.video import VideoLimits
from hashmatch.reporting.cybertip.content import CLASSIFICATIONS
from hashmatch.review import Verdict
from hashmatch.review.decisions import ANNOTATIONS
from hashmatch.review.wellness import View
from hashmatch.web.access import PageRoute, Viewer, page, service_of
from hashmatch.web.forms import FormState
from hashmatch.web.rendering import done, render
from hashmatch.web.report_pages import report_of_item
from hashmatch.web.review_media import Preview, clear_preview, shielded_preview
from hashmatch.web.review_pages import next_item, review_of, reviewer_of, shown_time, view_of

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

#: Each decision: its value, its button's text and its shortcut key.
DECISION_BUTTONS = (
    ("confirm", "Confirm", "c"),
    ("false_positive", "False positive", "f"),
    ("escalate", "Escalate", "e"),
    ("skip", "Skip", "s"),
)
#: The keys the item page answers to, as its "Keyboard shortcuts" section lists them.
SHORTCUTS = (
    ("c", "Confirm"),
    ("f", "False positive"),
    ("e", "Escalate"),
    ("s", "Skip"),
    *((str(number), f"Classification {name}") for number, name in enumerate(CLASSIFICATIONS, 1)),
    ("r", "Reveal the media for a few seconds"),
    ("?", "Show or hide these shortcuts"),
)
#: A reveal, or the original, with no kept media to show.
NO_MEDIA = "This submission's media is not kept: decide from the match details."


def _limits(request: Request) -> dict[str, Any]:
    settings = service_of(request).settings
    return {
        "limits": DecodeLimits.from_settings(settings),
        "video_limits": VideoLimits.from_settings(settings),
    }


def _kept(request: Request, submission_id: int) -> KeptFile | None:
    """The submission's kept bytes, decrypted in memory; None when none are kept."""
    try:
        return service_of(request).submissions.media(submission_id)
    except (MediaKeyError, SubmissionError):
        return None


def shielded_kept_preview(request: Request, view: View, submission_id: int) -> Preview | None:
    """The submission's kept media as ``view`` shields it; None when none is
    kept or it cannot be shown."""
    kept = _kept(request, submission_id)
    if kept is None:
        return None
    return shielded_preview(kept.data, blur_px=view.blur_px, **_limits(request))


def _allowlist_options(request: Request) -> list[tuple[str, str]]:
    """The allowlist banks a false positive may add to, as the form offers them."""
    banks = service_of(request).banks.all()
    return [("", "none"), *((bank.name, bank.name) for bank in banks if bank.kind == "allowlist")]


def shielded_media(request: Request, viewer: Viewer, item: dict[str, Any]) -> dict[str, Any]:
    """What the shared parts of the item page (``review/_submission.html``,
    ``_media.html``, ``_matches.html``) show of ``item``: its submission, its
    media as the viewer's wellness settings shield it, and their reveals left."""
    view = view_of(request, viewer)
    preview = shielded_kept_preview(request, view, item["submission"]["submission_id"])
    return {
        "submission": item["submission"],
        "view": view,
        "preview": preview,
        "reveals_left": review_of(request).reveals.left_today(reviewer_of(viewer).name),
        "shown_time": shown_time,
    }


def _item_page(
    request: Request,
    viewer: Viewer,
    item: dict[str, Any],
    *,
    form: FormState | None = None,
    message: str = "",
    clear: Preview | None = None,
    status: int = 200,
) -> Response:
    review = review_of(request)
    reviewer = reviewer_of(viewer)
    return render(
        request,
        "review/item.html",
        viewer,
        status=status,
        item=item,
        workable=item["status"] == "open" and item["claimed_by"] in (None, reviewer.name),
        message=message,
        form=form or FormState({"priority": str(item["priority"])}),
        **shielded_media(request, viewer, item),
        clear=clear,
        classifications=CLASSIFICATIONS,
        annotations=ANNOTATIONS,
        allowlist_options=_allowlist_options(request),
        queue_names=[queue["name"] for queue in review.queues.overview(reviewer)],
        decision_buttons=DECISION_BUTTONS,
        shortcuts=SHORTCUTS,
        report_id=report_of_item(request, item["id"]) if item["status"] == "closed" else None,
    )


@router.get("/review/items/{item_id}")
def show_item(request: Request, item_id: int, viewer: Viewer = Depends(page("review"))) -> Response:
    """The item, claimed for the viewer while it is open and nobody else holds it."""
    items = review_of(request).items
    reviewer = reviewer_of(viewer)
    try:
        item = items.claim(item_id, reviewer)
    except ReviewConflictError as error:
        item = items.get(item_id, reviewer)
        return _item_page(
            request, viewer, item, message=str(error) if item["status"] == "open" else ""
        )
    return _item_page(request, viewer, item)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _refused(
    request: Request, viewer: Viewer, item: dict[str, Any], status: int, message: str
) -> Response:
    """A reveal that did not happen: JSON for the script, else the page saying why."""
    if _wants_json(request):
        return JSONResponse(
            {"error": {"message": message}},
            status_code=status,
            headers={"Cache-Control": "no-store"},
        )
    return _item_page(request, viewer, item, message=message, status=status)


def _granted(
    request: Request, viewer: Viewer, item: dict[str, Any], kind: str, view: View
) -> int | Response:
    """Reveals left today once this one is granted, or the answer refusing it."""
    try:
        return review_of(request).reveals.grant(
            reviewer_of(viewer), item["id"], kind=kind, seconds=view.reveal_seconds
        )
    except (RevealCapError, ReviewConflictError) as error:
        status = 429 if isinstance(error, RevealCapError) else 409
        return _refused(request, viewer, item, status, str(error))


@router.post("/review/items/{item_id}/reveal")
def reveal(request: Request, item_id: int, viewer: Viewer = Depends(page("review"))) -> Response:
    item = review_of(request).items.get(item_id, reviewer_of(viewer))
    view = view_of(request, viewer)
    kept = _kept(request, item["submission"]["submission_id"])
    clear = (
        clear_preview(kept.data, grayscale=view.grayscale, **_limits(request))
        if kept is not None
        else None
    )
    if clear is None:
        return _refused(request, viewer, item, 404, NO_MEDIA)
    left = _granted(request, viewer, item, "preview", view)
    if isinstance(left, Response):
        return left
    if _wants_json(request):
        return JSONResponse(
            {"image": clear.uri, "seconds": view.reveal_seconds, "left": left},
            headers={"Cache-Control": "no-store"},
        )
    return _item_page(request, viewer, review_of(request).items.get(item_id), clear=clear)


@router.post("/review/items/{item_id}/original")
def original(request: Request, item_id: int, viewer: Viewer = Depends(page("review"))) -> Response:
    """The kept bytes as they came, counted as a reveal: only when asked for."""
    item = review_of(request).items.get(item_id, reviewer_of(viewer))
    kept = _kept(request, item["submission"]["submission_id"])
    if kept is None:
        return _refused(request, viewer, item, 404, NO_MEDIA)
    left = _granted(request, viewer, item, "original", view_of(request, viewer))
    if isinstance(left, Response):
        return left
    return Response(
        kept.data,
        media_type=media_type(kept.data),
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": "inline",
            "X-Content-Type-Options": "nosniff",
            # Upload bytes are never a document that may run anything.
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


def media_type(data: bytes) -> str:
    """What the kept bytes are, from the bytes (never the uploader's file name):
    a picture format Pillow knows, a video container, else opaque bytes."""
    if data[4:8] == b"ftyp":
        return "video/mp4"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm"
    try:
        with Image.open(io.BytesIO(data)) as image:
            known = Image.MIME.get(image.format or "")
    except (UnidentifiedImageError, OSError, ValueError):
        known = None
    return (
        known
        if known and known.startswith("image/") and "svg" not in known
        else ("application/octet-stream")
    )


def _verdict(form: FormState, annotations: list[str]) -> Verdict | None:
    """The verdict the form asks for, or None with the form's errors set;
    fields that belong to other decisions are left out."""
    decision = form.value("decision")
    if decision == "confirm":
        if form.value("classification") not in CLASSIFICATIONS:
            form.errors["classification"] = (
                f"Choose a classification to confirm: {', '.join(CLASSIFICATIONS)}."
            )
            return None
        return Verdict(
            "confirm",
            classification=form.value("classification"),
            annotations=tuple(annotations),
            note=form.value("note"),
        )
    if decision == "false_positive":
        bank = form.value("allowlist_bank")
        return Verdict("false_positive", note=form.value("note"), allowlist_bank=bank or None)
    if decision == "escalate":
        queue = form.value("queue").strip()
        if not queue:
            form.errors["queue"] = "Name the queue to escalate to."
        priority: int | None = None
        if form.value("priority").strip():
            try:
                priority = int(form.value("priority"))
            except ValueError:
                form.errors["priority"] = "The priority is a whole number (lower comes first)."
        if not form.ok:
            return None
        return Verdict("escalate", note=form.value("note"), queue=queue, priority=priority)
    if decision == "skip":
        return Verdict("skip", note=form.value("note"))
    form.errors["decision"] = "Choose one of the decision buttons."
    return None


def _decided(item: dict[str, Any], verdict: Verdict) -> str:
    number = f"Item {item['id']}"
    if verdict.decision == "confirm":
        follow_ups = item["follow_ups"].get("confirm", [])
        reports = any(step["action"] == "report" for step in follow_ups)
        reported = " A report was requested." if reports else ""
        return f"{number} confirmed as {verdict.classification}.{reported}"
    if verdict.decision == "false_positive":
        bank = verdict.allowlist_bank
        allowlisted = f" Its hashes went to allowlist {bank}." if bank else ""
        return f"{number} cleared as a false positive.{allowlisted}"
    if verdict.decision == "escalate":
        return f"{number} escalated to {verdict.queue}."
    return f"{number} skipped: it goes to someone else."


@router.post("/review/items/{item_id}/decide")
def decide(
    request: Request,
    item_id: int,
    decision: str = Form(""),
    classification: str = Form(""),
    annotations: list[str] = Form([]),
    note: str = Form(""),
    allowlist_bank: str = Form(""),
    queue: str = Form(""),
    priority: str = Form(""),
    viewer: Viewer = Depends(page("review")),
) -> Response:
    review = review_of(request)
    reviewer = reviewer_of(viewer)
    form = FormState(
        {
            "decision": decision,
            "classification": classification,
            "annotations": ",".join(annotations),
            "note": note,
            "allowlist_bank": allowlist_bank,
            "queue": queue,
            "priority": priority,
        }
    )
    verdict = _verdict(form, annotations)
    if verdict is not None:
        try:
            item = review.decisions.decide(item_id, reviewer, verdict)
        except ReviewConflictError as error:
            item = review.items.get(item_id, reviewer)
            return _item_page(request, viewer, item, message=str(error), status=409)
        except (ReviewAccessError, UnknownReviewItemError):
            raise
        except ReviewError as error:  # what the verdict asks for cannot be done
            form.errors["decision"] = str(error)
        else:
            return next_item(request, viewer, item["queue"], _decided(item, verdict))
    item = review.items.get(item_id, reviewer)
    return _item_page(request, viewer, item, form=form, status=422)


@router.post("/review/items/{item_id}/reopen")
def reopen(
    request: Request,
    item_id: int,
    note: str = Form(""),
    viewer: Viewer = Depends(page("admin")),
) -> Response:
    review_of(request).decisions.reopen(item_id, reviewer_of(viewer), note=note)
    return done(f"/ui/review/items/{item_id}", f"Item {item_id} is open again.")
