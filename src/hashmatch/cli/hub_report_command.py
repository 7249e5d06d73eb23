"""``hashmatch hub ...``: the coalition's annual report and knowledge sharing
(docs/hub-annual-report.md).

On a member instance (talking to its hub over HTTP):

    hashmatch hub report --period 2026 [--publish] --hub URL --key-file PATH
    hashmatch hub templates list|show ID|publish FILE|import ID

On the hub (``hub_enabled``; acting as ``cli:<os user>``):

    hashmatch hub totals set --period 2026 --source "NCMEC CyberTipline" --total N
    hashmatch hub forums add --date 2026-05-04 --title ... --participants 80 --countries GB,US
    hashmatch hub annual-report --period 2026 --format html --out report.html

The hub's address, the member's hub API key and its signing key file come
from flags or the environment (``HASHMATCH_HUB_URL``, ``HASHMATCH_HUB_API_KEY``,
``HASHMATCH_HUB_SIGNING_KEY_FILE``): the key is never a literal in a file.
An imported rule template is added disabled: turn it on with
``hashmatch rules enable NAME`` once it suits the instance's banks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from hashmatch.cli.context import open_database, settings_of
from hashmatch.cli.errors import reported_errors
from hashmatch.cli.hub_command import hub_database, hub_group, parse_day
from hashmatch.fieldlimits import MAX_ID

if TYPE_CHECKING:
    from hashmatch.hub.hub_client import HubClient

totals_app = hub_group("National totals the annual report compares members with (hub).")
forums_app = hub_group("Forums the coalition held, for the annual report (hub).")
templates_app = hub_group(
    "Rule templates and playbooks shared on the hub: list, show, publish, import."
)

HUB_URL = typer.Option(..., "--hub", envvar="HASHMATCH_HUB_URL", help="The hub's address.")
API_KEY = typer.Option(
    ..., "--api-key", envvar="HASHMATCH_HUB_API_KEY", help="This member's hub API key."
)
PERIOD = typer.Option(..., "--period", help="A year (2026), a quarter (2026-Q3) or a month.")
TEMPLATE_ID = typer.Argument(..., metavar="ID", min=1, max=MAX_ID, help="The template's id.")


def hub_client(ctx: typer.Context, url: str, api_key: str) -> HubClient:
    """The member's client for its hub, within the URL settings (tests put an
    in-process one here)."""
    from hashmatch.hub.hub_client import HubClient
    from hashmatch.media.download import UrlPolicy

    return HubClient.connect(url, api_key, UrlPolicy.from_settings(settings_of(ctx)))


def report(
    ctx: typer.Context,
    period: str = PERIOD,
    publish: bool = typer.Option(
        False, "--publish", help="Let every member see this instance's own figures."
    ),
    hub: str = HUB_URL,
    api_key: str = API_KEY,
    key_file: Path = typer.Option(
        ...,
        "--key-file",
        envvar="HASHMATCH_HUB_SIGNING_KEY_FILE",
        exists=True,
        dir_okay=False,
        help="This member's Ed25519 private key (PEM), registered with the hub.",
    ),
) -> None:
    """Send this instance's transparency record for a period to the hub, signed."""
    from hashmatch.hub.keys import parse_private_key
    from hashmatch.hub.period_reports import signed_report
    from hashmatch.reporting.transparency import transparency
    from hashmatch.reporting.transparency.periods import parse_period

    with reported_errors():
        private_key = parse_private_key(key_file.read_text(encoding="utf-8", errors="replace"))
        chosen = parse_period(period)
        name = settings_of(ctx).transparency_instance_name or None
        record = transparency(open_database(ctx), chosen, instance_name=name)
        client = hub_client(ctx, hub, api_key)
        me = client.me()
        envelope = signed_report(
            record, member_id=me["id"], private_key=private_key, publish=publish
        )
        sent = client.send_report(envelope)
    done = "replaced the earlier one" if sent["replaced"] else "received"
    typer.echo(f"sent {chosen.name} to the hub as {sent['member']}: {done} (key {sent['kid']})")


@totals_app.command("set")
def set_total(
    ctx: typer.Context,
    period: str = PERIOD,
    source: str = typer.Option(..., "--source", help='Whose total: "NCMEC CyberTipline".'),
    total: int = typer.Option(..., "--total", min=0, help="The national figure."),
) -> None:
    """Enter (or replace) a national total for a period."""
    from hashmatch.hub.coalition_events import CoalitionEvents

    with reported_errors():
        entered = CoalitionEvents(hub_database(ctx)).set_total(period, source, total)
    typer.echo(f"{entered['period']} {entered['source']}: {entered['total']:,}")


@forums_app.command("add")
def add_forum(
    ctx: typer.Context,
    held_on: str = typer.Option(..., "--date", help="YYYY-MM-DD."),
    title: str = typer.Option(..., "--title"),
    participants: int = typer.Option(..., "--participants", min=0),
    countries: str = typer.Option(
        "", "--countries", help="ISO 3166-1 alpha-2 codes, comma-separated: GB,US,DE."
    ),
) -> None:
    """Record a forum the coalition held."""
    from hashmatch.hub.coalition_events import CoalitionEvents

    day = parse_day(held_on, "--date")
    with reported_errors():
        forum = CoalitionEvents(hub_database(ctx)).add_forum(
            day, title, participants=participants, countries=countries.split(",")
        )
    typer.echo(
        f"forum {forum['id']}: {forum['date']} {forum['title']}, "
        f"{forum['participants']} participants from {len(forum['countries'])} countries"
    )


def annual_report_command(
    ctx: typer.Context,
    period: str = PERIOD,
    output_format: str = typer.Option("json", "--format", help="json, csv or html."),
    out: Path | None = typer.Option(None, "--out", dir_okay=False, help="Write here, not stdout."),
    published: bool = typer.Option(
        False, "--published", help="The version members see (only published member figures)."
    ),
) -> None:
    """The coalition's annual report for a period (hub)."""
    from hashmatch.hub.annual_report import annual_report
    from hashmatch.hub.annual_report_formats import render

    with reported_errors():
        made = annual_report(
            hub_database(ctx), period, audience="members" if published else "admin"
        )
        text = render(made, output_format)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out}")


@templates_app.command("list")
def list_templates(
    ctx: typer.Context,
    kind: str | None = typer.Option(None, "--kind", help="rule or playbook."),
    hub: str = HUB_URL,
    api_key: str = API_KEY,
) -> None:
    """Templates members published, newest first."""
    with reported_errors():
        found = hub_client(ctx, hub, api_key).templates(kind)
    if not found:
        typer.echo("no templates published yet")
    for template in found:
        typer.echo(
            f"{template['id']:>5}  {template['kind']:<8}  {template['name']}  "
            f"({template['member']}, {template['published_at'][:10]})"
        )


@templates_app.command("show")
def show_template(
    ctx: typer.Context, template_id: int = TEMPLATE_ID, hub: str = HUB_URL, api_key: str = API_KEY
) -> None:
    """One template, with its body (JSON)."""
    with reported_errors():
        typer.echo(json.dumps(hub_client(ctx, hub, api_key).template(template_id), indent=2))


@templates_app.command("publish")
def publish_template(
    ctx: typer.Context,
    path: Path = typer.Argument(
        ..., metavar="FILE", exists=True, dir_okay=False, help="A rule (.json) or playbook (.md)."
    ),
    name: str | None = typer.Option(None, "--name", help="Default: the rule's name or the file's."),
    description: str = typer.Option("", "--description"),
    hub: str = HUB_URL,
    api_key: str = API_KEY,
) -> None:
    """Publish a rule template (.json) or a playbook (Markdown) to the hub."""
    from hashmatch.errors import InvalidFieldError

    text = path.read_text(encoding="utf-8", errors="replace")
    with reported_errors():
        body: Any
        if path.suffix.lower() == ".json":
            try:
                body = json.loads(text)
            except ValueError as error:
                raise InvalidFieldError(f"{path.name} is not JSON: {error}") from None
            kind = "rule"
            default = body.get("name") if isinstance(body, dict) else None
        else:
            kind, body, default = "playbook", text, None
        made = hub_client(ctx, hub, api_key).publish(
            kind=kind, name=name or default or path.stem, description=description, body=body
        )
    typer.echo(f"published {made['kind']} template {made['id']}: {made['name']}")


@templates_app.command("import")
def import_template(
    ctx: typer.Context,
    template_id: int = TEMPLATE_ID,
    name: str | None = typer.Option(None, "--name", help="Add it under this name instead."),
    hub: str = HUB_URL,
    api_key: str = API_KEY,
) -> None:
    """Add a rule template from the hub to this instance's rules, disabled."""
    from hashmatch.actions.rule_store import Rules
    from hashmatch.hub.templates import rule_to_import

    with reported_errors():
        template = hub_client(ctx, hub, api_key).template(template_id)
        stored = Rules(open_database(ctx)).create(rule_to_import(template, name=name))
    typer.echo(
        f"imported template {template_id} as rule {stored.name!r}, disabled: "
        f"hashmatch rules enable {stored.name} when it suits your banks"
    )


def install(hub_app: typer.Typer) -> None:
    """Add these commands to ``hashmatch hub``."""
    hub_app.command("report")(report)
    hub_app.command("annual-report")(annual_report_command)
    hub_app.add_typer(totals_app, name="totals")
    hub_app.add_typer(forums_app, name="forums")
    hub_app.add_typer(templates_app, name="templates")
