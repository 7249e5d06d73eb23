"""``hashmatch cybertip ...``: CyberTipline reports from a terminal (docs/reporting.md).

The CLI files as ``cli:<os user>`` (whoever runs it holds the database and
the media key anyway), the name its reports and changes are audited under.
Filing talks to NCMEC: ``report``, ``retry`` and ``retract`` wait for it,
and ``status`` asks NCMEC whether the configured credentials work, saying
loudly which environment (TEST or PRODUCTION) they are for.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from hashmatch.cli.context import open_database, os_user, settings_of
from hashmatch.cli.errors import reported_errors
from hashmatch.fieldlimits import MAX_ID

if TYPE_CHECKING:
    from hashmatch.reporting.reports import Reports

cybertip_app = typer.Typer(
    help="CyberTipline reports: file confirmed review items, list and show reports with "
    "their calls to NCMEC, print the XML, retry, retract; check the connection "
    "(docs/reporting.md).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

REPORT_ID = typer.Argument(..., metavar="ID", min=1, max=MAX_ID, help="The report's id.")
JSON_REPORT = typer.Option(False, "--json", help="Print the report as JSON.")


def _reports(ctx: typer.Context) -> Reports:
    from hashmatch.reporting.reports import Reports

    database = open_database(ctx)
    with reported_errors():
        return Reports(database, settings_of(ctx))


def _actor() -> str:
    return f"cli:{os_user()}"


def _when(moment: str | None) -> str:
    return moment[:19].replace("T", " ") if moment else ""


def _summary(report: dict[str, Any]) -> str:
    """One line: the report, where it stands and, when it stopped, why."""
    ncmec = f", NCMEC report {report['ncmec_report_id']}" if report["ncmec_report_id"] else ""
    line = (
        f"report {report['id']} ({report['environment'].upper()}): {report['status']}{ncmec}; "
        f"user {report['user_ref'] or '?'}"
    )
    if report["last_error"]:
        line += f"\n  stopped ({report['error_kind']}): {report['last_error']}"
    return line


def call_line(call: dict[str, Any]) -> str:
    """One call of a report's timeline: time, endpoint, HTTP status, NCMEC's
    code and description, Request-ID (what NCMEC's support asks for)."""
    status = call["http_status"] if call["http_status"] is not None else "no answer"
    code = call["response_code"] if call["response_code"] is not None else "-"
    said = call["response_description"] or call["error"] or ""
    request_id = call["request_id"] or "-"
    return (
        f"{_when(call['at'])}  {call['endpoint']:<8}  HTTP {status}  code {code}  "
        f"{said}  Request-ID {request_id}"
    )


def _print_report(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report))
        return
    typer.echo(_summary(report))
    for file in report["files"]:
        typer.echo(
            f"  file {file['filename']} ({file['classification'] or '-'}, {file['size']} bytes, "
            f"md5 {file['md5']}): {file['status']}"
            + (f", NCMEC file {file['ncmec_file_id']}" if file["ncmec_file_id"] else "")
        )
    for call in report["calls"]:
        typer.echo("  " + call_line(call))
    if report["evidence_package_id"]:
        typer.echo(f"  evidence package {report['evidence_package_id']}")


@cybertip_app.command("report")
def report(
    ctx: typer.Context,
    items: list[int] = typer.Argument(
        ..., metavar="ITEM...", min=1, max=MAX_ID, help="Confirmed review items of one user."
    ),
    file: bool = typer.Option(True, "--file/--no-file", help="File it now, or leave a draft."),
    urls: list[str] = typer.Option([], "--url", help="A URL where the content was (repeat)."),
    annotations: list[str] = typer.Option(
        [], "--annotation", help="One of NCMEC's report annotations, e.g. sextortion (repeat)."
    ),
    as_json: bool = JSON_REPORT,
) -> None:
    """Draft a report of confirmed review items and file it with NCMEC; the
    reported user's details come from the submissions' metadata and the
    platform's additional-info webhook."""
    reports = _reports(ctx)
    details: dict[str, Any] = {"urls": urls or None, "annotations": annotations or None}
    with reported_errors():
        report_id = reports.draft(items, actor=_actor(), details=details)
        found = reports.file(report_id) if file else reports.get(report_id)
    _print_report(found, as_json)
    if found["status"] == "failed":
        raise typer.Exit(1)


@cybertip_app.command("list")
def list_reports(
    ctx: typer.Context,
    status: str | None = typer.Option(
        None,
        "--status",
        help="Only reports in this state: draft, submitted, files_uploaded, finished, "
        "retracted or failed.",
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="At most this many."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """List reports, newest first."""
    reports = _reports(ctx)
    with reported_errors():
        found = reports.list(status=status, limit=limit)
    if as_json:
        for row in found:
            typer.echo(json.dumps(row))
        return
    if not found:
        typer.echo("no reports")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title_justify="left")
    for column in ("id", "status", "env", "NCMEC id", "user", "created", "by", "error"):
        table.add_column(column)
    for row in found:
        table.add_row(
            str(row["id"]),
            row["status"],
            row["environment"],
            row["ncmec_report_id"] or "",
            row["user_ref"] or "",
            _when(row["created_at"]),
            row["created_by"],
            row["last_error"] or "",
        )
    Console(width=160).print(table)


@cybertip_app.command("show")
def show(ctx: typer.Context, report_id: int = REPORT_ID, as_json: bool = JSON_REPORT) -> None:
    """Show a report: its files and its timeline, every call to NCMEC with its
    time, endpoint, HTTP status, NCMEC's code and description and Request-ID."""
    reports = _reports(ctx)
    with reported_errors():
        found = reports.get(report_id)
    _print_report(found, as_json)


@cybertip_app.command("xml")
def xml(ctx: typer.Context, report_id: int = REPORT_ID) -> None:
    """Print the report XML as submitted (a draft's: as it would be)."""
    reports = _reports(ctx)
    with reported_errors():
        text = reports.xml(report_id)
    typer.echo(text)


@cybertip_app.command("retry")
def retry(ctx: typer.Context, report_id: int = REPORT_ID, as_json: bool = JSON_REPORT) -> None:
    """File a failed report again now, from where it stopped."""
    reports = _reports(ctx)
    with reported_errors():
        found = reports.retry(report_id, actor=_actor())
    _print_report(found, as_json)
    if found["status"] == "failed":
        raise typer.Exit(1)


@cybertip_app.command("retract")
def retract(ctx: typer.Context, report_id: int = REPORT_ID, as_json: bool = JSON_REPORT) -> None:
    """Withdraw a report still open at NCMEC (a finished report cannot be)."""
    reports = _reports(ctx)
    with reported_errors():
        found = reports.retract(report_id, actor=_actor())
    _print_report(found, as_json)


@cybertip_app.command("status")
def status(ctx: typer.Context) -> None:
    """Say which environment reports go to (TEST or PRODUCTION) and ask NCMEC
    (GET /status) whether the configured credentials work; exit 1 when not."""
    from hashmatch.reporting.cybertip.client import CybertipCallError, CybertipClient
    from hashmatch.reporting.cybertip.environment import banner

    settings = settings_of(ctx)
    typer.echo(banner(settings))
    client = CybertipClient(
        settings.cybertip_url,
        settings.cybertip_username,
        settings.cybertip_password.get_secret_value(),
        timeout=settings.cybertip_timeout_seconds,
        allow_private=settings.url_allow_private,
    )
    try:
        call = client.status()
    except CybertipCallError as error:
        found = error.call
        request_id = f" (Request-ID {found.request_id})" if found and found.request_id else ""
        typer.echo(f"credentials NOT working for {settings.cybertip_url}: {error}{request_id}")
        raise typer.Exit(1) from None
    said = f": {call.answer.description}" if call.answer else ""
    typer.echo(
        f"credentials work ({settings.cybertip_username} at {settings.cybertip_url}){said} "
        f"(Request-ID {call.request_id or '-'})"
    )
