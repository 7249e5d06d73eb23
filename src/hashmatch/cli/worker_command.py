"""``hashmatch worker``: webhook deliveries, CyberTipline filing, opinions
sent back to exchanges and confirmed decisions shared with the hub, apart
from the HTTP service."""

from __future__ import annotations

import logging
import signal
import threading

import typer

from hashmatch.cli.context import settings_of
from hashmatch.cli.errors import reported_errors
from hashmatch.cli.serve_command import announce_reporting, describe_database

log = logging.getLogger("hashmatch.worker")


def worker_command(ctx: typer.Context) -> None:
    """Deliver webhooks, file CyberTipline reports, send reviewers' opinions
    back to exchanges and share confirmed decisions with the hub
    (hub_share_confirmed) until SIGTERM or SIGINT,
    then finish the deliveries and report steps in flight and hand back the rest.

    Run one or more beside hashmatch serve with deliver_in_serve off (env
    HASHMATCH_DELIVER_IN_SERVE=false), or alone: every deliverer on a database
    takes its own jobs.  Settings: delivery_concurrency, webhook_* (docs/webhooks.md),
    cybertip_* (docs/reporting.md), exchange_opinion_* (docs/exchanges.md),
    hub_share_* (docs/hub-member.md).
    """
    from hashmatch.actions.deliverer import Deliverer
    from hashmatch.actions.media_vault import load_vault
    from hashmatch.api.access_log import configure_logging
    from hashmatch.exchange.opinions import opinion_sending
    from hashmatch.exchange.taxii_confirmed import confirmed_sharing
    from hashmatch.reporting.filer import Filer
    from hashmatch.statements.sender import statement_sending
    from hashmatch.store import Database

    with reported_errors():
        settings = settings_of(ctx)
        configure_logging(settings.log_format)
        log.info("database: %s", describe_database(settings.database_url))
        announce_reporting(settings, log)
        vault = load_vault(settings)
        database = Database.open(settings.database_url)
    stop = threading.Event()

    def request_stop(number: int, _frame: object) -> None:
        log.info("%s: stopping", signal.Signals(number).name)
        stop.set()

    previous = {
        number: signal.signal(number, request_stop) for number in (signal.SIGTERM, signal.SIGINT)
    }
    deliverer = Deliverer(database, settings)
    filer = Filer(database, settings, vault=vault)
    opinions = opinion_sending(database, settings)
    statements = statement_sending(database, settings)
    sharing = confirmed_sharing(database, settings)
    try:
        deliverer.start()
        filer.start()
        opinions.start()
        if statements is not None:
            statements.start()
        if sharing is not None:
            sharing.start()
        while not stop.wait(1.0):  # woken by the handler; the timeout keeps signals prompt
            pass
    finally:
        if sharing is not None:
            sharing.stop()
        if statements is not None:
            statements.stop()
        opinions.stop()
        filer.stop(timeout=settings.cybertip_timeout_seconds + 5)
        deliverer.stop(timeout=settings.webhook_timeout_seconds + 5)
        database.close()
        for number, handler in previous.items():
            signal.signal(number, handler)
