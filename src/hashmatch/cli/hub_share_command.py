"""``hashmatch hub share`` and ``hashmatch hub status``: a member's side of
the coalition hub (docs/hub-member.md).

    hashmatch hub share BANK [--exchange NAME] [--collection ID] [--json]
    hashmatch hub share-confirmed [--exchange NAME]
    hashmatch hub revoke [INDICATOR_ID ...] [--signal TYPE:VALUE ...] [--exchange NAME] [--json]
    hashmatch hub status [--json]

Both work through ``taxii`` exchanges (docs/exchanges.md#taxii): the one
named, or the only one.  Neither needs ``hub_enabled``: a member is not a hub.
"""

from __future__ import annotations

import json
from typing import Any

import typer

from hashmatch.cli.context import open_database, settings_of
from hashmatch.cli.errors import EXIT_FAILED, EXIT_USAGE, reported_errors
from hashmatch.cli.progress import tracked

AS_JSON = typer.Option(False, "--json", help="Print JSON.")


def share(
    ctx: typer.Context,
    bank: str = typer.Argument(..., metavar="BANK", help="The bank whose contents to share."),
    exchange: str | None = typer.Option(
        None, "--exchange", help="The taxii exchange to share through (default: the only one)."
    ),
    collection: str | None = typer.Option(
        None, "--collection", help="The collection to POST to (default: the exchange's)."
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Sign every content of BANK as STIX Indicators with the member's key
    and POST them to the hub's collection; prints what the status resources
    said.  Exits 1 if the server refused any."""
    from hashmatch.exchange.taxii_share import BankShare
    from hashmatch.media.download import UrlPolicy

    database = open_database(ctx)
    with reported_errors():
        job = BankShare(
            database,
            UrlPolicy.from_settings(settings_of(ctx)),
            bank,
            exchange=exchange,
            collection=collection,
        )
        envelopes = job.envelopes()
        for envelope in tracked(envelopes, len(envelopes), "sharing", show=not as_json):
            job.post(envelope)
        result = job.finish()
    if as_json:
        typer.echo(json.dumps(result.to_json()))
    else:
        typer.echo(
            f"{result.bank} -> {result.exchange} ({result.collection}): {result.succeeded} of "
            f"{result.total} indicators taken, {result.failed} refused, {result.skipped} skipped"
        )
        for failure in result.failures:
            typer.echo(f"  refused {failure['id']}: {failure['message']}")
    if result.failed:
        raise typer.Exit(EXIT_FAILED)


def status(ctx: typer.Context, as_json: bool = AS_JSON) -> None:
    """This member's hub connections: each taxii exchange's collection, last
    pull, opinions sent and signals shared."""
    from hashmatch.exchange import Exchanges, statuses
    from hashmatch.exchange.taxii import TaxiiSource
    from hashmatch.exchange.taxii_share import shared_totals

    database = open_database(ctx)
    with reported_errors():
        connections: list[dict[str, Any]] = []
        for info in Exchanges(database).all():
            if info.source_type != TaxiiSource.name:
                continue
            [state] = statuses(database, info.name)
            pulled = state.to_json()
            connections.append(
                {
                    "exchange": info.name,
                    "bank": info.bank,
                    "url": info.options.get("url"),
                    "collection": info.options.get("collection"),
                    "identity": info.options.get("identity"),
                    "enabled": info.enabled,
                    "last_pull": {
                        key: pulled.get(key)
                        for key in ("run_finished_at", "succeeded", "up_to_date", "error", "counts")
                    },
                    "fetched_total": pulled.get("fetched_total"),
                    "opinions": pulled.get("opinions"),
                    "shared": shared_totals(database, info),
                }
            )
    if as_json:
        typer.echo(json.dumps({"connections": connections}))
        return
    if not connections:
        typer.echo("no hub connection: add a taxii exchange (docs/hub-member.md)")
    for item in connections:
        pull, shared = item["last_pull"], item["shared"]
        outcome = "never" if pull["run_finished_at"] is None else pull["run_finished_at"]
        typer.echo(f"{item['exchange']}: {item['url']} collection {item['collection']}")
        typer.echo(
            f"  bank {item['bank']}; last pull {outcome}"
            f"{'' if pull['succeeded'] in (None, True) else ' FAILED: ' + str(pull['error'])}; "
            f"{item['fetched_total']} records fetched"
        )
        typer.echo(f"  opinions {json.dumps(item['opinions'])}")
        typer.echo(
            f"  shared {shared['succeeded']} indicators in {shared['shares']} shares "
            f"({shared['failed']} refused), last {shared['last_shared_at'] or 'never'}"
        )


def share_confirmed(
    ctx: typer.Context,
    exchange: str | None = typer.Option(
        None, "--exchange", help="The taxii exchange to share through (default: the only one)."
    ),
) -> None:
    """Share the uploads reviewers confirmed since the last round (settings
    hub_share_confirmed, hub_share_labels); prints the round as JSON.
    Exits 1 if the hub refused any indicator."""
    from hashmatch.exchange.taxii_confirmed import share_confirmed as one_round
    from hashmatch.media.download import UrlPolicy

    settings = settings_of(ctx)
    with reported_errors():
        result = one_round(
            open_database(ctx), settings, UrlPolicy.from_settings(settings), exchange=exchange
        )
    if result is None:
        typer.echo("error: hub_share_confirmed is off", err=True)
        raise typer.Exit(EXIT_USAGE)
    typer.echo(json.dumps(result.to_json()))
    if result.failed:
        raise typer.Exit(EXIT_FAILED)


def revoke(
    ctx: typer.Context,
    indicator_ids: list[str] | None = typer.Argument(
        None, metavar="INDICATOR_ID", help="Indicators (indicator--...) to revoke."
    ),
    signals: list[str] | None = typer.Option(
        None,
        "--signal",
        metavar="TYPE:VALUE",
        help="Revoke this member's Indicator of a signal (md5:..., url:https://...); repeatable.",
    ),
    exchange: str | None = typer.Option(
        None, "--exchange", help="The taxii exchange it was shared through (default: the only one)."
    ),
    collection: str | None = typer.Option(
        None, "--collection", help="The collection it is in (default: the exchange's)."
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Retract signals this member shared: each Indicator goes to the hub
    again as a signed version with revoked: true, and every member's next
    pull drops it.  Exits 1 unless every one is revoked (or already was)."""
    from hashmatch.exchange.taxii_revoke import revoke_indicators
    from hashmatch.hub.patterns import PatternSignal, canonical_value
    from hashmatch.media.download import UrlPolicy

    if not (indicator_ids or signals):
        typer.echo("error: name an INDICATOR_ID or a --signal TYPE:VALUE", err=True)
        raise typer.Exit(EXIT_USAGE)
    with reported_errors():
        shared = []
        for text in signals or []:
            signal_type, _, value = text.partition(":")
            shared.append(PatternSignal(signal_type, canonical_value(signal_type, value)))
        outcomes = revoke_indicators(
            open_database(ctx),
            UrlPolicy.from_settings(settings_of(ctx)),
            indicator_ids or [],
            signals=shared,
            exchange=exchange,
            collection=collection,
        )
    if as_json:
        typer.echo(json.dumps({"indicators": [outcome.to_json() for outcome in outcomes]}))
    for outcome in [] if as_json else outcomes:
        why = f": {outcome.message}" if outcome.message else ""
        typer.echo(f"{outcome.id} {outcome.outcome.replace('_', ' ')}{why}")
    if any(outcome.outcome not in ("revoked", "already_revoked") for outcome in outcomes):
        raise typer.Exit(EXIT_FAILED)


def register(hub: typer.Typer) -> None:
    """Add the member's commands to the ``hub`` group."""
    hub.command("share")(share)
    hub.command("revoke")(revoke)
    hub.command("share-confirmed")(share_confirmed)
    hub.command("status")(status)
