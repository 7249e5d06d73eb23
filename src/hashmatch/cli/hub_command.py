"""``hashmatch hub ...``: the coalition hub's membership from the shell (docs/hub.md).

    hashmatch hub applications list|show|check|approve|reject
    hashmatch hub members list|show|suspend|reinstate|dues|reattest
    hashmatch hub lapse-check

Commands act as ``cli:<os user>``, the named admin recorded on each check and
decision and in the audit log.  They need the setting ``hub_enabled``, as the
hub's routes do.  Lists print a table, or JSON lines with ``--json``; one
application or member prints a summary, or JSON with ``--json``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import typer

from hashmatch.cli.context import open_database, settings_of
from hashmatch.cli.errors import EXIT_USAGE, reported_errors
from hashmatch.fieldlimits import MAX_ID

if TYPE_CHECKING:
    from hashmatch.hub.membership import Membership
    from hashmatch.store import Database

HELP = {"help_option_names": ["-h", "--help"]}


def hub_group(help_text: str) -> typer.Typer:
    """A ``hashmatch hub`` command group: help on -h, and when run bare."""
    return typer.Typer(help=help_text, no_args_is_help=True, context_settings=HELP)


hub_app = hub_group("The coalition hub: applications, members, dues (hub_enabled; docs/hub.md).")
applications_app = hub_group(
    "Applications to join: list, show, check a criterion, approve, reject."
)
members_app = hub_group("Members: list, show, suspend, reinstate, record dues and re-attestation.")
hub_app.add_typer(applications_app, name="applications")
hub_app.add_typer(members_app, name="members")

APPLICATION_ID = typer.Argument(..., metavar="ID", min=1, max=MAX_ID, help="The application's id.")
MEMBER_ID = typer.Argument(..., metavar="ID", min=1, max=MAX_ID, help="The member's id.")
AS_JSON = typer.Option(False, "--json", help="Print JSON.")


def hub_database(ctx: typer.Context) -> Database:
    """The database, for the commands that run on a hub: a usage error elsewhere."""
    if not settings_of(ctx).hub_enabled:
        typer.echo(
            "error: this instance is not a hub: set hub_enabled (HASHMATCH_HUB_ENABLED=true)",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)
    return open_database(ctx)


def parse_day(value: str, flag: str) -> date:
    """A YYYY-MM-DD option's date: a usage error otherwise."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        typer.echo(f"error: {flag} {value[:40]!r} is not YYYY-MM-DD", err=True)
        raise typer.Exit(EXIT_USAGE) from None


def _membership(ctx: typer.Context) -> Membership:
    from hashmatch.hub.membership import Membership

    return Membership(hub_database(ctx), settings_of(ctx))


def _when(moment: str | None) -> str:
    return moment[:16].replace("T", " ") if moment else ""


def _print(answer: Any, as_json: bool, summary: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(answer))
        return
    for line in summary:
        typer.echo(line)


def _table(columns: list[str], rows: list[list[str]], empty: str) -> None:
    if not rows:
        typer.echo(empty)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(*row)
    Console(width=160).print(table)


# -- applications ----------------------------------------------------------------


def _application_lines(application: dict[str, Any]) -> list[str]:
    lines = [
        f"application {application['id']}: {application['organisation']} "
        f"({application['website']}), {application['state']}"
        + (f" by {application['decided_by']}" if application["decided_by"] else ""),
        f"  contact {application['contact_name']} <{application['contact_email']}>",
        f"  product: {application['product']}",
    ]
    if application["rejection_reason"]:
        lines.append(f"  rejected because: {application['rejection_reason']}")
    for criterion in application["criteria"]:
        mark = f"checked by {criterion['checked_by']}" if criterion["checked_by"] else "unchecked"
        lines.append(f"  [{mark}] {criterion['criterion']}: {criterion['evidence']}")
        if criterion["note"]:
            lines.append(f"      note: {criterion['note']}")
    return lines


@applications_app.command("list")
def list_applications(
    ctx: typer.Context,
    state: str | None = typer.Option(None, "--state", help="submitted, approved or rejected."),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="At most this many."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """List applications, newest first."""
    with reported_errors():
        found = _membership(ctx).applications.list(state=state, limit=limit)
    if as_json:
        for application in found:
            typer.echo(json.dumps(application))
        return
    rows = [
        [
            str(a["id"]),
            a["organisation"],
            a["website"],
            f"{sum(1 for c in a['criteria'] if c['checked_by'])}/{len(a['criteria'])}",
            a["state"],
            _when(a["submitted_at"]),
        ]
        for a in found
    ]
    _table(["id", "organisation", "website", "checked", "state", "sent"], rows, "no applications")


@applications_app.command("show")
def show_application(
    ctx: typer.Context, application_id: int = APPLICATION_ID, as_json: bool = AS_JSON
) -> None:
    """Show an application with each criterion's evidence and check."""
    with reported_errors():
        application = _membership(ctx).applications.get(application_id)
    _print(application, as_json, _application_lines(application))


@applications_app.command("check")
def check(
    ctx: typer.Context,
    application_id: int = APPLICATION_ID,
    criterion: str = typer.Argument(
        ...,
        metavar="CRITERION",
        help="technology, commitment, prohibition, transparency, policy or engagement.",
    ),
    note: str = typer.Option("", "--note", help="What was seen (kept with the check)."),
    as_json: bool = AS_JSON,
) -> None:
    """Check one criterion off, as cli:<os user>."""
    with reported_errors():
        application = _membership(ctx).applications.check(application_id, criterion, note=note)
    _print(application, as_json, _application_lines(application))


@applications_app.command("approve")
def approve(
    ctx: typer.Context, application_id: int = APPLICATION_ID, as_json: bool = AS_JSON
) -> None:
    """Approve an application whose six criteria are checked: the member's hub
    API key is printed this once (send it to the member)."""
    with reported_errors():
        approval = _membership(ctx).applications.approve(application_id)
    member = approval["member"]
    _print(
        approval,
        as_json,
        [
            f"member {member['id']}: {member['name']} approved; re-attestation due "
            f"{member['reattest_due'][:10]}",
            f"hub API key {member['api_key_name']} (shown once): {approval['api_key']}",
        ],
    )


@applications_app.command("reject")
def reject(
    ctx: typer.Context,
    application_id: int = APPLICATION_ID,
    reason: str = typer.Option(..., "--reason", help="Why; the applicant sees it."),
    as_json: bool = AS_JSON,
) -> None:
    """Reject an application with a reason the applicant sees."""
    with reported_errors():
        application = _membership(ctx).applications.reject(application_id, reason)
    _print(application, as_json, _application_lines(application))


# -- members ---------------------------------------------------------------------


def _member_lines(member: dict[str, Any]) -> list[str]:
    dues = member["dues"]
    lines = [
        f"member {member['id']}: {member['name']} ({member['website']}), {member['state']}",
        f"  approved {_when(member['approved_at'])} by {member['approved_by']}; "
        f"API key {member['api_key_name']}",
        f"  re-attestation due {_when(member['reattest_due'])}"
        + (" (overdue)" if member["reattest_overdue"] else ""),
        f"  dues: invoice {dues['invoice'] or '-'}, due {_when(dues['due']) or '-'}, "
        f"{'paid' if dues['paid'] else 'unpaid'}"
        + (f", {dues['grace_days']} days' grace" if dues["grace_days"] is not None else ""),
    ]
    if member["state_reason"]:
        lines.append(f"  {member['state_reason']}")
    for key in member["keys"]:
        revoked = f", revoked {_when(key['revoked_at'])}" if key["revoked_at"] else ""
        lines.append(f"  key {key['kid']} added {_when(key['created_at'])}{revoked}")
    for notice in member["notices"]:
        lines.append(f"  notice {_when(notice['at'])} {notice['kind']}: {notice['message']}")
    return lines


@members_app.command("list")
def list_members(
    ctx: typer.Context,
    state: str | None = typer.Option(None, "--state", help="active, suspended or lapsed."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """List members, oldest first."""
    with reported_errors():
        found = _membership(ctx).members.list(state=state)
    if as_json:
        for member in found:
            typer.echo(json.dumps(member))
        return
    rows = [
        [
            str(m["id"]),
            m["name"],
            m["state"],
            _when(m["dues"]["due"]) + (" paid" if m["dues"]["paid"] else ""),
            _when(m["reattest_due"]),
            str(sum(1 for k in m["keys"] if not k["revoked_at"])),
        ]
        for m in found
    ]
    _table(["id", "name", "state", "dues due", "re-attest by", "keys"], rows, "no members")


@members_app.command("show")
def show_member(ctx: typer.Context, member_id: int = MEMBER_ID, as_json: bool = AS_JSON) -> None:
    """Show a member: state, dues, re-attestation, signing keys, notices."""
    with reported_errors():
        member = _membership(ctx).members.get(member_id)
    _print(member, as_json, _member_lines(member))


@members_app.command("suspend")
def suspend(
    ctx: typer.Context,
    member_id: int = MEMBER_ID,
    reason: str = typer.Option(..., "--reason", help="Why; the member is told."),
    as_json: bool = AS_JSON,
) -> None:
    """Suspend a member's sharing access until reinstated."""
    with reported_errors():
        member = _membership(ctx).members.suspend(member_id, reason)
    _print(member, as_json, _member_lines(member))


@members_app.command("reinstate")
def reinstate(ctx: typer.Context, member_id: int = MEMBER_ID, as_json: bool = AS_JSON) -> None:
    """Give a suspended or lapsed member its access back (not while dues or
    re-attestation are overdue)."""
    with reported_errors():
        member = _membership(ctx).members.reinstate(member_id)
    _print(member, as_json, _member_lines(member))


@members_app.command("dues")
def dues(
    ctx: typer.Context,
    member_id: int = MEMBER_ID,
    invoice: str = typer.Option(..., "--invoice", help="The invoice reference."),
    due: str = typer.Option(..., "--due", metavar="YYYY-MM-DD", help="When the dues fall due."),
    paid: bool = typer.Option(False, "--paid/--unpaid", help="Whether they are paid."),
    grace_days: int | None = typer.Option(
        None, "--grace-days", min=0, max=3650, help="This member's grace (default: the setting)."
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Record a member's annual dues (recorded, not processed)."""
    day = parse_day(due, "--due")
    with reported_errors():
        member = _membership(ctx).dues.record(
            member_id,
            invoice=invoice,
            due=datetime(day.year, day.month, day.day, tzinfo=UTC),
            paid=paid,
            grace_days=grace_days,
        )
    _print(member, as_json, _member_lines(member))


@members_app.command("reattest")
def reattest(ctx: typer.Context, member_id: int = MEMBER_ID, as_json: bool = AS_JSON) -> None:
    """Record the member's yearly re-attestation: the next is due in a year."""
    with reported_errors():
        member = _membership(ctx).dues.reattest(member_id)
    _print(member, as_json, _member_lines(member))


@hub_app.command("lapse-check")
def lapse_check(ctx: typer.Context, as_json: bool = AS_JSON) -> None:
    """Lapse members whose dues are unpaid past the grace period or whose
    re-attestation is overdue, now (serve does it every hub_lapse_check_minutes)."""
    with reported_errors():
        lapsed = _membership(ctx).dues.lapse_check()
    _print(
        lapsed,
        as_json,
        [f"member {m['member_id']} ({m['name']}) lapsed: {m['reason']}" for m in lapsed]
        or ["no member lapsed"],
    )
