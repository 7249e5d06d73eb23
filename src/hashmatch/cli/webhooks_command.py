"""``hashmatch webhooks ...``: the receivers of events, and their deliveries."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from hashmatch.cli.context import open_database, settings_of
from hashmatch.cli.errors import reported_errors
from hashmatch.cli.progress import say

if TYPE_CHECKING:
    from hashmatch.actions.webhook_store import Webhooks

webhooks_app = typer.Typer(
    help="Create, change, rotate and delete webhooks; list and redeliver their deliveries "
    "(docs/webhooks.md).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

NAME = typer.Argument(..., metavar="NAME", help="The webhook's name.")
EVENTS_HELP = (
    "An event to send (repeat for several): submission.matched, submission.verdict, "
    "review.decided, report.filed, appeal.decided."
)


def _webhooks(ctx: typer.Context) -> Webhooks:
    from hashmatch.actions.webhook_store import Webhooks

    return Webhooks(open_database(ctx), settings_of(ctx))


@webhooks_app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", "-n", help="A name for the webhook."),
    url: str = typer.Option(..., "--url", help="Where deliveries are POSTed (http or https)."),
    events: list[str] = typer.Option([], "--event", "-e", help=EVENTS_HELP),
    disabled: bool = typer.Option(False, "--disabled", help="Create it switched off."),
) -> None:
    """Create a webhook and print its signing secret: the secret alone on
    stdout, once, so that SECRET=$(hashmatch webhooks create ...) holds it."""
    webhooks = _webhooks(ctx)
    with reported_errors():
        secret, hook = webhooks.create(name, url, events, enabled=not disabled)
    say(f"created webhook {hook.name!r} for {', '.join(hook.events) or 'no events'}")
    typer.echo(secret)


@webhooks_app.command("list")
def list_webhooks(ctx: typer.Context) -> None:
    """Print every webhook as JSON lines (never a secret)."""
    for hook in _webhooks(ctx).all():
        typer.echo(json.dumps(hook.to_json()))


@webhooks_app.command("show")
def show(ctx: typer.Context, name: str = NAME) -> None:
    """Print one webhook as JSON."""
    with reported_errors():
        typer.echo(json.dumps(_webhooks(ctx).get(name).to_json()))


@webhooks_app.command("update")
def update(
    ctx: typer.Context,
    name: str = NAME,
    url: str | None = typer.Option(None, "--url", help="A new URL."),
    events: list[str] | None = typer.Option(
        None, "--event", "-e", help=EVENTS_HELP + " Replaces the events."
    ),
    enabled: bool | None = typer.Option(
        None, "--enable/--disable", help="Switch deliveries on or off."
    ),
) -> None:
    """Change a webhook's URL, events or whether it is enabled; print it as JSON.
    A disabled webhook's pending deliveries wait until it is enabled again."""
    with reported_errors():
        hook = _webhooks(ctx).update(name, url=url, events=events or None, enabled=enabled)
    typer.echo(json.dumps(hook.to_json()))


@webhooks_app.command("rotate")
def rotate(ctx: typer.Context, name: str = NAME) -> None:
    """Give a webhook a new secret and print it alone on stdout, once; the
    old one also signs deliveries for webhook_secret_grace_hours."""
    with reported_errors():
        secret, hook = _webhooks(ctx).rotate(name)
    say(
        f"rotated the secret of webhook {hook.name!r}; the old one is valid until "
        f"{hook.previous_secret_until or 'now'}"
    )
    typer.echo(secret)


@webhooks_app.command("delete")
def delete(ctx: typer.Context, name: str = NAME) -> None:
    """Delete a webhook and its deliveries."""
    with reported_errors():
        _webhooks(ctx).delete(name)
    say(f"deleted webhook {name!r}")


@webhooks_app.command("deliveries")
def deliveries(
    ctx: typer.Context,
    name: str = NAME,
    status: str | None = typer.Option(
        None, "--status", help="Only pending, delivered or dead deliveries."
    ),
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many, newest first."),
) -> None:
    """Print a webhook's deliveries as JSON lines, newest first."""
    with reported_errors():
        for delivery in _webhooks(ctx).deliveries(name, status=status, limit=limit):
            typer.echo(json.dumps(delivery))


@webhooks_app.command("delivery")
def delivery(
    ctx: typer.Context, delivery_id: int = typer.Argument(..., metavar="ID", min=0)
) -> None:
    """Print one delivery and its attempts log as JSON."""
    from hashmatch.actions.outbox import show_delivery

    with reported_errors():
        found = show_delivery(open_database(ctx), delivery_id)
    typer.echo(json.dumps(found))


@webhooks_app.command("redeliver")
def redeliver(
    ctx: typer.Context,
    delivery_ids: list[int] = typer.Argument(..., metavar="ID...", min=0),
) -> None:
    """Send delivered or dead deliveries again, attempts reset (all or none).
    A running serve or worker picks them up at its next poll."""
    from hashmatch.actions.outbox import redeliver as put_back

    with reported_errors():
        done = put_back(open_database(ctx), delivery_ids)
    typer.echo(json.dumps({"redelivered": done}))
