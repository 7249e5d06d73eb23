"""The banks pages: list, create, edit, switch on and off, and delete banks.

Each change is one call to :class:`~hashmatch.banks.Banks`, as the JSON API's
``/v1/banks`` routes make it, so it is checked and audited (as the signed-in
person) in one place.  A bank is deleted only once the person has typed its
name, checked here on the server.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request, Response

from hashmatch.banks import BANK_KINDS, BankInfo
from hashmatch.banks.checks import check_labels, check_thresholds
from hashmatch.errors import BankError, BankExistsError, HashmatchError, UnknownBankError
from hashmatch.signals import signal_types
from hashmatch.signals.base import HammingSignalType
from hashmatch.video_matching import share_settings
from hashmatch.web.access import PageRoute, Viewer, page, service_of
from hashmatch.web.forms import FormState
from hashmatch.web.rendering import done, render

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

KIND_OPTIONS = [(kind, kind.capitalize()) for kind in BANK_KINDS]


def threshold_fields() -> list[tuple[str, str, str]]:
    """The settings a bank may override: (name, label, hint), one per
    perceptual signal type and video share."""
    fields = []
    for name, kind in sorted(signal_types().items()):
        if isinstance(kind, HammingSignalType):
            fields.append(
                (
                    name,
                    f"{name} threshold",
                    f"Largest distance that matches: 0-{kind.max_threshold} "
                    f"(default {kind.default_threshold}).",
                )
            )
    for name, default in sorted(share_settings().items()):
        fields.append((name, name.replace("_", " "), f"Percent, 0-100 (default {default})."))
    return fields


def _form_of(bank: BankInfo) -> FormState:
    values = {
        "name": bank.name,
        "description": bank.description,
        "kind": bank.kind,
        "labels": ", ".join(bank.labels),
    }
    for name, value in bank.thresholds.items():
        values[f"threshold_{name}"] = str(value)
    return FormState(values)


def _parse(form: FormState) -> tuple[list[str], dict[str, int]]:
    """The labels and thresholds the form gives, with each problem next to its field."""
    labels: list[str] = []
    try:
        labels = check_labels(label for label in form.value("labels").split(",") if label.strip())
    except BankError as error:
        form.errors["labels"] = str(error)
    thresholds: dict[str, int] = {}
    for name, _, _ in threshold_fields():
        text = form.value(f"threshold_{name}").strip()
        if not text:
            continue
        field = f"threshold_{name}"
        if not text.isdigit():
            form.errors[field] = "A whole number, or empty for the default."
            continue
        try:
            thresholds.update(check_thresholds({name: int(text)}))
        except BankError as error:
            form.errors[field] = str(error)
    if form.value("kind") not in BANK_KINDS:
        form.errors["kind"] = f"One of {', '.join(BANK_KINDS)}."
    return labels, thresholds


def _form_page(
    request: Request, viewer: Viewer, form: FormState, *, bank: BankInfo | None, status: int = 200
) -> Response:
    return render(
        request,
        "banks/form.html",
        viewer,
        status=status,
        form=form,
        bank=bank,
        kinds=KIND_OPTIONS,
        thresholds=threshold_fields(),
    )


def _name_error(form: FormState, error: HashmatchError) -> None:
    key = "name" if isinstance(error, BankExistsError) or "name" in str(error) else "form"
    form.errors[key] = str(error)


async def threshold_values(request: Request) -> dict[str, str]:
    """The threshold fields as sent (one per signal type, so not named one by
    one; the form is parsed once, and already was for the other fields)."""
    sent = await request.form()
    return {
        key: value
        for key, value in sent.items()
        if key.startswith("threshold_") and isinstance(value, str)
    }


@router.get("/banks")
def list_banks(request: Request, viewer: Viewer = Depends(page("read"))) -> Response:
    return render(request, "banks/list.html", viewer, banks=service_of(request).banks.all())


@router.get("/banks/new")
def new_bank(request: Request, viewer: Viewer = Depends(page("curate"))) -> Response:
    return _form_page(request, viewer, FormState({"kind": "match"}), bank=None)


@router.post("/banks")
def create_bank(
    request: Request,
    name: str = Form(""),
    description: str = Form(""),
    kind: str = Form("match"),
    labels: str = Form(""),
    enabled: str = Form(""),
    sent: dict[str, str] = Depends(threshold_values),
    viewer: Viewer = Depends(page("curate")),
) -> Response:
    form = FormState(
        {
            "name": name.strip(),
            "description": description,
            "kind": kind,
            "labels": labels,
            "enabled": enabled,
        }
    )
    form.values.update(sent)
    if not form.value("name"):
        form.errors["name"] = "A bank needs a name."
    parsed_labels, thresholds = _parse(form)
    if form.ok:
        try:
            service_of(request).banks.create(
                form.value("name"),
                description=description,
                kind=kind,
                labels=parsed_labels,
                thresholds=thresholds,
                enabled=enabled == "on",
            )
        except HashmatchError as error:
            _name_error(form, error)
    if not form.ok:
        return _form_page(request, viewer, form, bank=None, status=422)
    return done(f"/ui/banks/{form.value('name')}", "Bank created.")


@router.get("/banks/{name}/edit")
def edit_bank(request: Request, name: str, viewer: Viewer = Depends(page("curate"))) -> Response:
    bank = service_of(request).banks.get(name)
    return _form_page(request, viewer, _form_of(bank), bank=bank)


@router.post("/banks/{name}/edit")
def update_bank(
    request: Request,
    name: str,
    new_name: str = Form("", alias="name"),
    description: str = Form(""),
    kind: str = Form(""),
    labels: str = Form(""),
    sent: dict[str, str] = Depends(threshold_values),
    viewer: Viewer = Depends(page("curate")),
) -> Response:
    banks = service_of(request).banks
    bank = banks.get(name)
    form = FormState(
        {
            "name": new_name.strip() or name,
            "description": description,
            "kind": kind or bank.kind,
            "labels": labels,
        }
    )
    form.values.update(sent)
    parsed_labels, thresholds = _parse(form)
    if form.ok:
        try:
            banks.update(
                name,
                new_name=form.value("name"),
                description=description,
                labels=parsed_labels,
                thresholds=thresholds,
                kind=form.value("kind"),
            )
        except UnknownBankError:
            raise
        except HashmatchError as error:
            _name_error(form, error)
    if not form.ok:
        return _form_page(request, viewer, form, bank=bank, status=422)
    return done(f"/ui/banks/{form.value('name')}", "Bank saved.")


@router.post("/banks/{name}/enable")
def enable_bank(request: Request, name: str, viewer: Viewer = Depends(page("curate"))) -> Response:
    service_of(request).banks.update(name, enabled=True)
    return done(f"/ui/banks/{name}", "Bank enabled: its content matches.")


@router.post("/banks/{name}/disable")
def disable_bank(request: Request, name: str, viewer: Viewer = Depends(page("curate"))) -> Response:
    service_of(request).banks.update(name, enabled=False)
    return done(f"/ui/banks/{name}", "Bank disabled: its content does not match.")


@router.get("/banks/{name}/delete")
def confirm_delete(
    request: Request, name: str, viewer: Viewer = Depends(page("curate"))
) -> Response:
    bank = service_of(request).banks.get(name)
    return render(request, "banks/delete.html", viewer, bank=bank, form=FormState())


@router.post("/banks/{name}/delete")
def delete_bank(
    request: Request,
    name: str,
    confirm: str = Form(""),
    viewer: Viewer = Depends(page("curate")),
) -> Response:
    banks = service_of(request).banks
    bank = banks.get(name)
    if confirm.strip() != name:
        form = FormState(
            {"confirm": confirm}, {"confirm": f"Type the bank's name, {name}, to delete it."}
        )
        return render(request, "banks/delete.html", viewer, bank=bank, form=form, status=422)
    banks.delete(name)
    return done("/ui/banks", f"Bank {name} deleted, with its {bank.contents:,} contents.")
