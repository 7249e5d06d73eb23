"""A bank's content: a page at a time, searched, added to, switched off and removed.

The bank's page lists its newest content first, a page at a time by keyset
(``id < before``), so it costs the same at a thousand hashes or a million.
A search by hash asks the live index, as ``/v1/lookup`` does, for the nearest
content within the bank's threshold; by external id it uses the bank's
unique index.  Adds go through the same paths as the API's: an upload is
hashed as ``POST /v1/hash`` hashes it (``api/content.py``), added through
the service's add queue, and a list is imported in the import process as
``POST /v1/banks/{name}/import`` does.  Banks hold hashes, never media:
nothing here shows or keeps the uploaded file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from sqlalchemy import String, cast, func, select
from starlette.concurrency import run_in_threadpool

from hashmatch.api.content import hash_received_now, received_upload
from hashmatch.api.curation import import_upload
from hashmatch.api.errors import ApiError
from hashmatch.api.service import Service
from hashmatch.banks import BankInfo, check_labels
from hashmatch.errors import HashmatchError, UnknownBankError
from hashmatch.fieldlimits import MAX_ID
from hashmatch.hashing import BANK_CROP_VARIANTS
from hashmatch.hashlists import FRAMES, Entry, ListFormat
from hashmatch.signals import get_signal_type, signal_types
from hashmatch.signals.quality import quality_warnings
from hashmatch.store import Bank, Content, ContentSignal, Database
from hashmatch.store.models import as_utc, utcnow
from hashmatch.web.access import PageRoute, Viewer, page, service_of
from hashmatch.web.forms import FormState
from hashmatch.web.rendering import done, render

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

#: Content shown per page.
PAGE_SIZE = 50
#: A label search looks at this many content ids at a time (the labels are
#: JSON, which no index covers): a page costs the same in a bank of any size,
#: and "search older" goes on below.
LABEL_WINDOW = 50_000
SEARCHES = [("external_id", "External id"), ("label", "Label"), ("hash", "Hash")]
FORMATS = [(fmt.value, fmt.value) for fmt in ListFormat]
#: Disabled "for good": as the API's disable without a date.
FOR_GOOD = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    id: int
    external_id: str | None
    labels: list[str]
    source: str | None
    created_at: datetime
    disabled_until: datetime | None
    #: Signal type -> how many (a video's frames), the type's hash if one.
    signals: dict[str, tuple[int, str]]
    distance: int | None = None

    @property
    def enabled(self) -> bool:
        return self.disabled_until is None or self.disabled_until <= utcnow()


def signal_options() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(signal_types())]


def content_rows(
    database: Database,
    bank: str,
    *,
    before: int = MAX_ID,
    external_id: str | None = None,
    label: str | None = None,
    ids: list[int] | None = None,
    limit: int = PAGE_SIZE,
) -> list[Row]:
    """A page of a bank's content, newest first: below id ``before``, or
    with one external id, one label, or the given ids."""
    with database.reading() as session:
        bank_id = session.scalar(select(Bank.id).where(Bank.name == bank))
        if bank_id is None:
            raise UnknownBankError(bank)
        query = select(Content).where(Content.bank_id == bank_id)
        if ids is not None:
            query = query.where(Content.id.in_(ids))
        else:
            query = query.where(Content.id < before)
        if external_id is not None:
            query = query.where(Content.external_id == external_id)
        if label is not None:
            # labels is a JSON list: match the label as one of its strings.
            query = query.where(Content.id >= before - LABEL_WINDOW)
            pattern = _label_pattern(label)
            query = query.where(cast(Content.labels, String).like(pattern, escape="\\"))
        contents = list(session.scalars(query.order_by(Content.id.desc()).limit(limit)))
        signals: dict[int, dict[str, tuple[int, str]]] = {}
        if contents:
            for content_id, kind, count, value in session.execute(
                select(
                    ContentSignal.content_id,
                    ContentSignal.signal_type,
                    func.count(),
                    func.min(ContentSignal.value),
                )
                .where(ContentSignal.content_id.in_([content.id for content in contents]))
                .group_by(ContentSignal.content_id, ContentSignal.signal_type)
            ):
                signals.setdefault(content_id, {})[kind] = (int(count), str(value))
        return [
            Row(
                content.id,
                content.external_id,
                list(content.labels),
                content.source,
                as_utc(content.created_at),
                as_utc(content.disabled_until) if content.disabled_until else None,
                dict(sorted(signals.get(content.id, {}).items())),
            )
            for content in contents
        ]


def _label_pattern(label: str) -> str:
    """A LIKE pattern for one string of a stored JSON list of labels."""
    quoted = json.dumps(label.strip())
    return "%" + quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _search(
    service: Service,
    bank: str,
    by: str,
    query: str,
    signal_type: str,
    form: FormState,
    before: int = MAX_ID,
) -> list[Row]:
    """The rows a search finds (a problem with the query goes on ``form``)."""
    if by == "external_id":
        return content_rows(service.database, bank, external_id=query)
    if by == "label":
        return content_rows(service.database, bank, label=query, before=before)
    try:
        value = get_signal_type(signal_type).parse(query)
    except HashmatchError as error:
        form.errors["q"] = str(error)
        return []
    matches = service.matcher().match_hashes(
        {signal_type: [value]}, banks=[bank], include_disabled=True
    )
    distances: dict[int, int] = {}
    for match in matches:
        distances[match.content_id] = min(match.distance, distances.get(match.content_id, 99999))
    rows = content_rows(service.database, bank, ids=list(distances))
    found = [replace(row, distance=distances[row.id]) for row in rows]
    return sorted(found, key=lambda row: (row.distance or 0, -row.id))


def _newest_id(database: Database) -> int:
    with database.reading() as session:
        return int(session.scalar(select(func.max(Content.id))) or 0)


@router.get("/banks/{name}")
def show_bank(
    request: Request,
    name: str,
    before: int = MAX_ID,
    by: str = "",
    q: str = "",
    signal_type: str = "pdq",
    viewer: Viewer = Depends(page("read")),
) -> Response:
    service = service_of(request)
    bank = service.banks.get(name)
    form = FormState({"by": by or "external_id", "q": q, "signal_type": signal_type})
    searching = bool(q.strip()) and by in dict(SEARCHES)
    next_href = ""
    before = min(max(before, 0), MAX_ID)
    if searching and by == "label":
        if before == MAX_ID:
            before = _newest_id(service.database) + 1
        rows = _search(service, name, by, q.strip(), signal_type, form, before)
        # Below the last row shown, or below the window looked at.
        low = rows[-1].id if len(rows) == PAGE_SIZE else before - LABEL_WINDOW
        if low > 1:
            next_href = f"/ui/banks/{name}?{urlencode({'by': by, 'q': q, 'before': low})}"
    elif searching:
        rows = _search(service, name, by, q.strip(), signal_type, form)
    else:
        rows = content_rows(service.database, name, before=before)
        if len(rows) == PAGE_SIZE:
            next_href = f"/ui/banks/{name}?before={rows[-1].id}"
    return render(
        request,
        "banks/show.html",
        viewer,
        status=422 if form.errors else 200,
        bank=bank,
        rows=rows,
        form=form,
        searches=SEARCHES,
        signal_options=signal_options(),
        searching=searching,
        window=LABEL_WINDOW,
        first_page=before >= MAX_ID,
        next_href=next_href,
    )


# -- adding ------------------------------------------------------------------


def _add_page(
    request: Request,
    viewer: Viewer,
    bank: BankInfo,
    *,
    form: FormState | None = None,
    report: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "banks/add.html",
        viewer,
        status=status,
        bank=bank,
        form=form or FormState({"signal_type": "pdq", "format": "csv"}),
        signal_options=signal_options(),
        formats=FORMATS,
        report=report,
    )


@router.get("/banks/{name}/add")
def add_form(request: Request, name: str, viewer: Viewer = Depends(page("curate"))) -> Response:
    return _add_page(request, viewer, service_of(request).banks.get(name))


def _described(form: FormState) -> tuple[str | None, list[str], str]:
    """The external id, labels and note a form gives."""
    labels: list[str] = []
    try:
        labels = check_labels(part for part in form.value("labels").split(",") if part.strip())
    except HashmatchError as error:
        form.errors["labels"] = str(error)
    return form.value("external_id").strip() or None, labels, form.value("note")


def _added(
    request: Request,
    viewer: Viewer,
    bank: BankInfo,
    form: FormState,
    entry: Entry,
    warnings: list[str],
) -> Response:
    service = service_of(request)
    try:
        content_id = service.adds.add(bank.name, entry, source="ui")
    except HashmatchError as error:
        form.errors["form"] = str(error)
        return _add_page(request, viewer, bank, form=form, status=422)
    service.refresh_soon()
    notes = " ".join(f"Warning: {warning}." for warning in warnings)
    if content_id is None:
        existing = service.banks.existing_content(bank.name, entry)
        return done(
            f"/ui/banks/{bank.name}/content/{existing}",
            f"The bank already has this content: nothing was added. {notes}".strip(),
        )
    return done(f"/ui/banks/{bank.name}/content/{content_id}", f"Content added. {notes}".strip())


@router.post("/banks/{name}/add/upload")
def add_upload(
    request: Request,
    name: str,
    file: UploadFile | None = File(None),
    external_id: str = Form(""),
    labels: str = Form(""),
    note: str = Form(""),
    viewer: Viewer = Depends(page("curate")),
) -> Response:
    service = service_of(request)
    bank = service.banks.get(name)
    form = FormState(
        {"external_id": external_id, "labels": labels, "note": note, "signal_type": "pdq"}
    )
    extra, parsed_labels, text = _described(form)
    if file is None or not file.filename:
        form.errors["file"] = "Choose an image or a video to hash."
    if not form.ok or file is None:
        return _add_page(request, viewer, bank, form=form, status=422)
    try:
        with received_upload(service, file) as received:
            result = hash_received_now(
                received,
                dihedral=False,
                crop_variants=BANK_CROP_VARIANTS,
                image_variants=True,
                local_features=bank.local_features,
            )
    except ApiError as error:
        result = None
        form.errors["file"] = error.message
    if result is not None and result.error is not None:
        form.errors["file"] = result.error
    if result is None or not form.ok:
        return _add_page(request, viewer, bank, form=form, status=422)
    warnings = quality_warnings(result.quality)
    warnings += [f"{kind} not computed: {why}" for kind, why in result.not_computed.items()]
    entry = Entry(
        dict(result.signals),
        extra,
        parsed_labels,
        text,
        frames=result.frames.get(FRAMES, []),
        variants=result.variants,
        features=result.features,
    )
    return _added(request, viewer, bank, form, entry, warnings)


@router.post("/banks/{name}/add/hash")
def add_hash(
    request: Request,
    name: str,
    signal_type: str = Form("pdq"),
    value: str = Form(""),
    external_id: str = Form(""),
    labels: str = Form(""),
    note: str = Form(""),
    viewer: Viewer = Depends(page("curate")),
) -> Response:
    bank = service_of(request).banks.get(name)
    form = FormState(
        {
            "signal_type": signal_type,
            "value": value,
            "external_id": external_id,
            "labels": labels,
            "note": note,
        }
    )
    extra, parsed_labels, text = _described(form)
    parsed = ""
    try:
        parsed = get_signal_type(signal_type).parse(value.strip())
    except HashmatchError as error:
        form.errors["value"] = str(error)
    if not form.ok:
        return _add_page(request, viewer, bank, form=form, status=422)
    entry = Entry({signal_type: parsed}, extra, parsed_labels, text)
    return _added(request, viewer, bank, form, entry, [])


@router.post("/banks/{name}/import")
async def import_list(
    request: Request,
    name: str,
    file: UploadFile | None = File(None, alias="list"),
    list_format: str = Form("csv", alias="format"),
    viewer: Viewer = Depends(page("curate")),
) -> Response:
    """An import runs in the import process, as the API's; this handler only
    awaits it (and reads the bank in the thread pool)."""
    service = service_of(request)
    bank = await run_in_threadpool(service.banks.get, name)
    form = FormState({"format": list_format, "signal_type": "pdq"})
    if list_format not in ListFormat.__members__:
        form.errors["format"] = "Choose one of the formats."
    if file is None or not file.filename:
        form.errors["list"] = "Choose a list file to import."
    report: dict[str, Any] | None = None
    if form.ok and file is not None:
        try:
            imported = await import_upload(service, name, file, ListFormat(list_format))
        except ApiError as error:
            form.errors["list"] = error.message
        except HashmatchError as error:
            report = {"error": str(error), "file": file.filename}
            form.errors["list"] = "Nothing was imported: the list has a problem (see below)."
        else:
            report = {**imported.to_json(), "file": file.filename}
            bank = await run_in_threadpool(service.banks.get, name)
    status = 200 if form.ok else 422
    return _add_page(request, viewer, bank, form=form, report=report, status=status)


# -- one content -------------------------------------------------------------


@router.get("/banks/{name}/content/{content_id}")
def show_content(
    request: Request, name: str, content_id: int, viewer: Viewer = Depends(page("read"))
) -> Response:
    content = service_of(request).banks.content(name, content_id)
    return render(
        request,
        "banks/content.html",
        viewer,
        content=content,
        form=FormState(),
        enabled=content.enabled(),
    )


@router.post("/banks/{name}/content/{content_id}/disable")
def disable_content(
    request: Request,
    name: str,
    content_id: int,
    until: str = Form(""),
    viewer: Viewer = Depends(page("curate")),
) -> Response:
    banks = service_of(request).banks
    moment = FOR_GOOD
    if until.strip():
        try:
            moment = datetime.fromisoformat(until.strip()).replace(tzinfo=UTC)
        except ValueError:
            moment = utcnow()
        if moment <= utcnow():
            content = banks.content(name, content_id)
            form = FormState({"until": until}, {"until": "Give a date in the future, or none."})
            return render(
                request,
                "banks/content.html",
                viewer,
                status=422,
                content=content,
                form=form,
                enabled=content.enabled(),
            )
    banks.set_disabled(name, [content_id], moment)
    service_of(request).refresh_soon()
    when = "for good" if moment == FOR_GOOD else f"until {moment:%Y-%m-%d}"
    return done(f"/ui/banks/{name}/content/{content_id}", f"Content disabled {when}.")


@router.post("/banks/{name}/content/{content_id}/enable")
def enable_content(
    request: Request, name: str, content_id: int, viewer: Viewer = Depends(page("curate"))
) -> Response:
    service_of(request).banks.set_disabled(name, [content_id], None)
    service_of(request).refresh_soon()
    return done(f"/ui/banks/{name}/content/{content_id}", "Content enabled: it matches again.")


@router.post("/banks/{name}/content/{content_id}/remove")
def remove_content(
    request: Request, name: str, content_id: int, viewer: Viewer = Depends(page("curate"))
) -> Response:
    banks = service_of(request).banks
    banks.content(name, content_id)  # a 404 page for content the bank does not have
    banks.remove_content(name, [content_id])
    service_of(request).refresh_soon()
    return done(f"/ui/banks/{name}", f"Content {content_id} removed.")
