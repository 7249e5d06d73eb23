"""The audit log page: every change, newest first, filtered, and its chain checked.

    GET /ui/audit?actor=user:ada&action=bank.*&since=2026-11-26T00:00
    GET /ui/audit?before=1200                # the next (older) page
    GET /ui/audit?after=1251                 # back to the newer one
    GET /ui/audit/verify                     # walk the hash chain

Pages are read by keyset (``seq < before ORDER BY seq DESC``, and back
with ``seq > after ORDER BY seq``) through the
same :class:`hashmatch.audit.Query` as ``GET /v1/audit`` and ``hashmatch
audit list``, so a page costs the same at any length of log.  Times typed
without an offset are UTC (what a ``datetime-local`` field sends).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response

from hashmatch import audit
from hashmatch.web.access import PageRoute, Viewer, page, service_of
from hashmatch.web.forms import FormState
from hashmatch.web.rendering import render

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

#: Entries on one page.
PAGE_SIZE = 50
#: Longest value shown in a change before it is cut short (the full entry is a click away).
SHORT = 80
FILTERS = ("actor", "action", "target", "since", "until")
_HEAD = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Change:
    """One field of the target that an entry changed: its value before and
    after (None: the field was not there)."""

    field: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Entry:
    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    changes: list[Change]
    #: The whole entry as the API shows it, for "Full entry".
    full: str


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= SHORT else text[: SHORT - 1] + "…"


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[Change]:
    """What differs between ``before`` and ``after``, field by field, in the
    order the fields first appear; unchanged fields are left out."""
    old, new = before or {}, after or {}
    names = list(dict.fromkeys([*old, *new]))
    return [
        Change(
            name,
            _text(old[name]) if name in old else None,
            _text(new[name]) if name in new else None,
        )
        for name in names
        if name not in old or name not in new or old[name] != new[name]
    ]


def _entry(row: dict[str, Any]) -> Entry:
    return Entry(
        seq=row["seq"],
        at=datetime.fromisoformat(row["at"]),
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        changes=changes(row["before"], row["after"]),
        full=json.dumps(row, indent=2, ensure_ascii=False),
    )


def _moment(text: str, field: str, form: FormState) -> datetime | None:
    """A time from the filter form: RFC 3339, or without an offset (UTC)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        form.errors[field] = "Give a time such as 2026-11-26T16:00 (UTC) or 2026-11-26."
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _seq(text: str, name: str, form: FormState) -> int | None:
    if not text:
        return None
    if text.isdigit() and 0 < int(text) < 2**63:
        return int(text)
    form.errors["page"] = f"{name}= must be an entry's number."
    return None


def _listing(request: Request, form: FormState, before: str, after: str = "") -> dict[str, Any]:
    """The page of entries the filters in ``form`` ask for, newest first:
    those older than ``before``, or the page just newer than ``after`` (the
    way back), with the pager's links.  Errors go on ``form`` (and no
    entries are read)."""
    since = _moment(form.value("since"), "since", form)
    until = _moment(form.value("until"), "until", form)
    older_than = _seq(before, "before", form)
    newer_than = _seq(after, "after", form)
    if not form.ok:
        return {"entries": [], "next_href": "", "previous_href": "", "filtered": True}
    query = audit.Query(
        actor=form.value("actor") or None,
        target=form.value("target") or None,
        action=form.value("action") or None,
        since=since,
        until=until,
    )
    with service_of(request).database.reading() as session:
        if newer_than is not None:
            rows = query.page(session, after_seq=newer_than, limit=PAGE_SIZE + 1)
            newer, older = len(rows) > PAGE_SIZE, True
            rows = rows[:PAGE_SIZE][::-1]
        else:
            rows = query.page(
                session, before_seq=older_than, newest_first=True, limit=PAGE_SIZE + 1
            )
            newer, older = older_than is not None, len(rows) > PAGE_SIZE
            rows = rows[:PAGE_SIZE]
    entries = [_entry(row) for row in rows]
    kept = {name: form.value(name) for name in FILTERS if form.value(name)}

    def link(**where: int) -> str:
        return "/ui/audit?" + urlencode({**kept, **where})

    return {
        "entries": entries,
        "next_href": link(before=entries[-1].seq) if entries and older else "",
        "previous_href": link(after=entries[0].seq) if entries and newer else "",
        "filtered": bool(kept),
    }


@router.get("/audit")
def audit_log(
    request: Request,
    actor: str = "",
    action: str = "",
    target: str = "",
    since: str = "",
    until: str = "",
    before: str = "",
    after: str = "",
    viewer: Viewer = Depends(page("audit")),
) -> Response:
    form = FormState(
        {
            "actor": actor.strip(),
            "action": action.strip(),
            "target": target.strip(),
            "since": since.strip(),
            "until": until.strip(),
        }
    )
    listing = _listing(request, form, before.strip(), after.strip())
    return render(
        request,
        "audit.html",
        viewer,
        status=200 if form.ok else 422,
        form=form,
        check=None,
        head_form=FormState(),
        **listing,
    )


@router.get("/audit/verify")
def verify_chain(
    request: Request, expect_head: str = "", viewer: Viewer = Depends(page("audit"))
) -> Response:
    """Walk the whole chain, as ``GET /v1/audit/verify`` does (it reads every
    entry: a button, not part of every page)."""
    head_form = FormState({"expect_head": expect_head.strip()})
    expected = head_form.value("expect_head").lower() or None
    check = None
    if expected is not None and not _HEAD.match(expected):
        head_form.errors["expect_head"] = (
            "A head is 64 hexadecimal characters, from a check before."
        )
    else:
        with service_of(request).database.reading() as session:
            check = audit.verify(session, expect_head=expected)
    form = FormState()
    return render(
        request,
        "audit.html",
        viewer,
        status=200 if head_form.ok else 422,
        form=form,
        check=check,
        head_form=head_form,
        **_listing(request, form, ""),
    )
