"""``hashmatch review ...``: work the review queue from a terminal (docs/review.md).

The CLI reviews as ``cli:<os user>`` with an admin's rights (whoever runs it
holds the database anyway), the same name its changes are audited under.
Lists print a table, or JSON lines with ``--json``; one item prints a
summary, or the item as JSON with ``--json``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from hashmatch.cli.context import open_database, os_user, settings_of
from hashmatch.cli.errors import reported_errors
from hashmatch.cli.progress import say
from hashmatch.fieldlimits import MAX_ID

if TYPE_CHECKING:
    from rich.table import Table

    from hashmatch.review import Review, Reviewer

review_app = typer.Typer(
    help="Work the review queue: list, show, claim and decide items; reopen them; "
    "configure queues; count reveals (docs/review.md).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

ITEM_ID = typer.Argument(..., metavar="ID", help="The review item's id.")
JSON_ITEM = typer.Option(False, "--json", help="Print the item as JSON.")
JSON_LINES = typer.Option(False, "--json", help="One JSON object per line.")
DECISION_HELP = (
    "confirm, false_positive (negative opinions; --allowlist-bank), escalate (to --queue) "
    "or skip (give the item back)."
)
CLASSIFICATION_HELP = "A confirmation's classification: A1, A2, B1 or B2."
ANNOTATION_HELP = (
    "A confirmation's NCMEC file annotation (repeat for several): animeDrawingVirtualHentai, "
    "potentialMeme, viral, possibleSelfProduction, physicalHarm, violenceGore, bestiality, "
    "liveStreaming, infant, generativeAi."
)
ACCESS_HELP = (
    "Who may work the queue (repeat; replaces the list): role:ROLE, user:NAME or key:NAME. "
    "A queue with no list admits everyone who may review."
)


def _review(ctx: typer.Context) -> Review:
    from hashmatch.banks import Banks
    from hashmatch.review import Review

    database = open_database(ctx)
    return Review(database, settings_of(ctx), Banks(database))


def _reviewer() -> Reviewer:
    from hashmatch.review import Reviewer

    return Reviewer(f"cli:{os_user()}", is_admin=True)


def _print_json(record: object) -> None:
    typer.echo(json.dumps(record))


def _print_tables(*tables: Table) -> None:
    from rich.console import Console

    console = Console(width=160)
    for table in tables:
        console.print(table)


def _table(*columns: str, title: str | None = None) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    return table


def _when(moment: str | None) -> str:
    """An ISO time from the library, to the minute (UTC)."""
    return moment[:16].replace("T", " ") if moment else ""


# -- items -------------------------------------------------------------------------


@review_app.command("list")
def list_items(
    ctx: typer.Context,
    queue: str | None = typer.Option(None, "--queue", "-q", help="Only this queue's items."),
    status: str | None = typer.Option(None, "--status", help="Only open or closed items."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many (500 at most)."),
    before: int | None = typer.Option(
        None,
        "--before",
        metavar="ID",
        min=1,
        max=MAX_ID,
        help="Only items older than this one: the next page.",
    ),
    as_json: bool = JSON_LINES,
) -> None:
    """List review items, newest first."""
    with reported_errors():
        items = _review(ctx).items.list(queue=queue, status=status, before=before, limit=limit)
    if as_json:
        for item in items:
            _print_json(item)
        return
    if not items:
        typer.echo("no review items")
        return
    from rich.markup import escape

    table = _table("id", "queue", "priority", "status", "due", "claimed by", "decision", "content")
    for item in items:
        decided = item["decision"]
        table.add_row(
            str(item["id"]),
            item["queue"],
            str(item["priority"]),
            item["status"],
            _when(item["due_at"]) + (" overdue" if item["overdue"] else ""),
            item["claimed_by"] or "",
            " ".join(filter(None, (decided["decision"], decided["classification"])))
            if decided
            else "",
            escape(item["submission"]["content_ref"] or ""),
        )
    _print_tables(table)
    if len(items) == limit:
        say(f"more may wait: add --before {items[-1]['id']}")


@review_app.command("show")
def show(ctx: typer.Context, item_id: int = ITEM_ID, as_json: bool = JSON_ITEM) -> None:
    """Show an item: its submission's references, every match (bank, labels,
    distance, transform, source) and its history."""
    review = _review(ctx)
    with reported_errors():
        item = review.items.get(item_id, _reviewer())
    _print_item(item, as_json)


@review_app.command("next")
def claim_next(
    ctx: typer.Context,
    queue: str = typer.Option("default", "--queue", "-q", help="The queue to take it from."),
    as_json: bool = typer.Option(
        False, "--json", help="Print the item as JSON (null when nothing waits)."
    ),
) -> None:
    """Claim the queue's next item (priority, then age) and show it; the one
    you hold already, if any.  Nothing waiting is not an error (exit 0)."""
    review = _review(ctx)
    with reported_errors():
        item = review.items.claim_next(_reviewer(), queue)
    if item is None:
        typer.echo("null" if as_json else f"nothing waits in queue {queue}")
        return
    _print_item(item, as_json)


@review_app.command("decide")
def decide(
    ctx: typer.Context,
    item_id: int = ITEM_ID,
    decision: str = typer.Option(..., "--decision", "-d", help=DECISION_HELP),
    classification: str | None = typer.Option(
        None, "--classification", "-c", help=CLASSIFICATION_HELP
    ),
    annotations: list[str] = typer.Option([], "--annotation", "-a", help=ANNOTATION_HELP),
    note: str = typer.Option("", "--note", help="Why, for the history and the audit log."),
    allowlist_bank: str | None = typer.Option(
        None, "--allowlist-bank", help="A false positive: add the upload's hashes to this bank."
    ),
    queue: str | None = typer.Option(None, "--queue", "-q", help="An escalation's queue."),
    priority: int | None = typer.Option(
        None, "--priority", help="An escalation's priority (default: the item's; lower first)."
    ),
    as_json: bool = JSON_ITEM,
) -> None:
    """Decide an open item; every decision but skip closes it and sets its
    follow-ups going (a confirmation's report request, events to webhooks)."""
    from hashmatch.review import Verdict

    verdict = Verdict(
        decision,
        classification=classification,
        annotations=tuple(annotations),
        note=note,
        allowlist_bank=allowlist_bank,
        queue=queue,
        priority=priority,
    )
    review = _review(ctx)
    with reported_errors():
        item = review.decisions.decide(item_id, _reviewer(), verdict)
    if as_json:
        _print_json(item)
    elif item["decision"] is None:
        typer.echo(f"skipped review item {item_id}: it waits in queue {item['queue']} again")
    else:
        said = item["decision"]
        details = [said["classification"], *said["annotations"]]
        if said["escalated_to"] is not None:
            details.append(f"new item {said['escalated_to']} in queue {queue}")
        typer.echo(
            f"decided review item {item_id}: {said['decision']}"
            + (f" ({', '.join(filter(None, details))})" if any(details) else "")
        )


@review_app.command("reopen")
def reopen(
    ctx: typer.Context,
    item_id: int = ITEM_ID,
    note: str = typer.Option("", "--note", help="Why, for the history and the audit log."),
) -> None:
    """Open a decided item again: its opinions and report requests not yet
    acted on are withdrawn (an escalation's new item, an allowlist entry and a
    report already filed stay)."""
    review = _review(ctx)
    with reported_errors():
        item = review.decisions.reopen(item_id, _reviewer(), note=note)
    withdrawn = item["history"][-1]["details"]
    typer.echo(
        f"reopened review item {item_id} in queue {item['queue']}; withdrawn opinions: "
        f"{withdrawn['opinions']}, report requests: {withdrawn['report_requests']}"
    )


def _print_item(item: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json(item)
        return
    from rich.markup import escape

    facts = _table("", "", title=f"review item {item['id']}")
    facts.show_header = False
    for name, value in _facts(item):
        facts.add_row(name, escape(str(value)))
    submission = item["submission"]
    matches = _table(
        "bank", "content", "labels", "signal", "distance", "transform", "source", title="matches"
    )
    for match in submission["matches"]:
        labels = dict.fromkeys([*match["labels"], *match["content_labels"]])
        matches.add_row(
            match["bank"],
            str(match["content_id"]),
            escape(", ".join(labels)),
            match["signal_type"],
            str(match["distance"]),
            match["transform"] or "",
            escape(match["source"] or ""),
            style="dim" if match["suppressed"] else None,
        )
    history = _table("at", "decision", "by", "classification", "note", title="history")
    for step in item["history"]:
        history.add_row(
            _when(step["at"]),
            step["decision"],
            step["actor"],
            " ".join([step["classification"] or "", *step["annotations"]]).strip(),
            escape(step["note"] or ""),
        )
    _print_tables(facts, matches, *([history] if item["history"] else []))


def _facts(item: dict[str, Any]) -> list[tuple[str, object]]:
    """What an item says about itself and its submission, as (name, value)
    rows; empty values left out."""
    submission = item["submission"]
    rows: list[tuple[str, object]] = [
        ("queue", f"{item['queue']} (priority {item['priority']})"),
        ("status", item["status"] + (", overdue" if item["overdue"] else "")),
        ("due", _when(item["due_at"])),
        ("queued by", " ".join(filter(None, (item["rule"], item["reason"])))),
        ("escalated from", item["escalated_from"]),
        ("on confirm", _steps(item["follow_ups"].get("confirm", []))),
        ("on false positive", _steps(item["follow_ups"].get("false_positive", []))),
    ]
    if item["claimed_by"]:
        rows.append(("claimed by", f"{item['claimed_by']} until {_when(item['claimed_until'])}"))
    decided = item["decision"]
    if decided:
        said = (decided["decision"], decided["classification"], *decided["annotations"])
        rows += [
            ("decision", " ".join(filter(None, said))),
            ("decided by", f"{decided['decided_by']} at {_when(decided['decided_at'])}"),
            ("escalated to", decided["escalated_to"]),
            ("note", decided["note"]),
        ]
    rows += [
        ("submission", submission["submission_id"]),
        ("content ref", submission["content_ref"]),
        ("user ref", submission["user_ref"]),
        ("content type", submission["content_type"]),
        ("content url", submission["content_url"]),
        ("uploaded at", _when(submission["uploaded_at"])),
        ("metadata", json.dumps(submission["metadata"]) if submission["metadata"] else None),
    ]
    return [(name, value) for name, value in rows if value not in (None, "")]


def _steps(follow_ups: list[dict[str, str]]) -> str:
    """A decision's follow-ups in words: ``report, webhook hook``."""
    return ", ".join(
        " ".join(filter(None, (step["action"], step.get("webhook")))) for step in follow_ups
    )


# -- queues and reveals -------------------------------------------------------------


@review_app.command("queues")
def queues(ctx: typer.Context, as_json: bool = JSON_LINES) -> None:
    """List the queues that have items or settings: what waits, what is
    overdue, their SLAs and who may work them."""
    overview = _review(ctx).queues.overview()
    if as_json:
        for queue in overview:
            _print_json(queue)
        return
    if not overview:
        typer.echo("no queue has items or settings yet")
        return
    from rich.markup import escape

    table = _table(
        "queue", "open", "claimed", "overdue", "oldest open", "sla minutes", "access", "description"
    )
    for queue in overview:
        table.add_row(
            queue["name"],
            str(queue["open"]),
            str(queue["claimed"]),
            str(queue["overdue"]),
            _when(queue["oldest_open_at"]),
            str(queue["sla_minutes"]),
            ", ".join(queue["access"]) or "everyone who may review",
            escape(queue["description"]),
        )
    _print_tables(table)


@review_app.command("queue")
def configure_queue(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="The queue's name."),
    description: str | None = typer.Option(None, "--description", help="What the queue is for."),
    sla_minutes: int | None = typer.Option(
        None, "--sla-minutes", help="Its items are due this many minutes after they are queued."
    ),
    access: list[str] | None = typer.Option(None, "--access", help=ACCESS_HELP),
    everyone: bool = typer.Option(
        False, "--everyone", help="Clear the access list: everyone who may review works it."
    ),
) -> None:
    """Create or change a queue's settings (those given) and print them as JSON."""
    if everyone and access:
        raise typer.BadParameter("--everyone clears the list; give it without --access")
    review = _review(ctx)
    with reported_errors():
        configured = review.queues.configure(
            name,
            description=description,
            sla_minutes=sla_minutes,
            access=[] if everyone else access or None,
        )
    say(f"configured review queue {name!r}")
    _print_json(configured)


@review_app.command("reveals")
def reveals(
    ctx: typer.Context,
    days: int = typer.Option(
        7, "--days", min=1, max=366, help="This many days back, today included (366 at most)."
    ),
    as_json: bool = JSON_LINES,
) -> None:
    """Count clear looks at media per reviewer per day, newest day first
    (numbers for workload, not what was looked at)."""
    counts = _review(ctx).reveals.per_day(days)
    if as_json:
        for count in counts:
            _print_json(count)
        return
    if not counts:
        typer.echo(f"no reveals in the last {days} days")
        return
    table = _table("day", "reviewer", "reveals")
    for count in counts:
        table.add_row(count["day"], count["reviewer"], str(count["reveals"]))
    _print_tables(table)
