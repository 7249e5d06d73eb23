"""``hashmatch hub collections ...``: the hub's TAXII collections and who may
read and write each (docs/hub-taxii.md).

    hashmatch hub collections defaults                 make "hashes" and "signals" (once)
    hashmatch hub collections create TITLE --kind hashes|signals [--identifiers keyed]
    hashmatch hub collections list [--json]
    hashmatch hub collections grant COLLECTION MEMBER_ID [--read] [--write]
    hashmatch hub collections revoke COLLECTION MEMBER_ID

A collection is named by its id or its title.  Commands act as
``cli:<os user>`` in the audit log and need the setting ``hub_enabled``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from hashmatch.cli.errors import reported_errors
from hashmatch.cli.hub_command import HELP, _table, hub_database
from hashmatch.fieldlimits import MAX_ID

if TYPE_CHECKING:
    from hashmatch.hub.collections import Collections

collections_app = typer.Typer(
    help="TAXII collections: create, list, grant and revoke members' access.",
    no_args_is_help=True,
    context_settings=HELP,
)
COLLECTION = typer.Argument(..., metavar="COLLECTION", help="The collection's id or title.")
MEMBER = typer.Argument(..., metavar="MEMBER_ID", min=1, max=MAX_ID, help="The member's id.")
AS_JSON = typer.Option(False, "--json", help="Print JSON.")


def register(hub_app: typer.Typer) -> None:
    hub_app.add_typer(collections_app, name="collections")


def _collections(ctx: typer.Context) -> Collections:
    from hashmatch.hub.collections import Collections

    return Collections(hub_database(ctx))


def _print_list(found: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        for collection in found:
            typer.echo(json.dumps(collection))
        return
    rows = [
        [
            c["id"],
            c["title"],
            c["kind"],
            c["identifiers"],
            " ".join(
                f"{g['member_id']}:{'r' if g['read'] else ''}{'w' if g['write'] else ''}"
                for g in c["grants"]
                if g["read"] or g["write"]
            ),
        ]
        for c in found
    ]
    _table(["id", "title", "kind", "identifiers", "grants (member:rw)"], rows, "no collections")


@collections_app.command("defaults")
def defaults(ctx: typer.Context, as_json: bool = AS_JSON) -> None:
    """Make the default collections "hashes" and "signals" if missing (serve does it too)."""
    with reported_errors():
        found = _collections(ctx).ensure_defaults()
    _print_list(found, as_json)


@collections_app.command("create")
def create(
    ctx: typer.Context,
    title: str = typer.Argument(..., metavar="TITLE", help="A title members see."),
    kind: str = typer.Option(..., "--kind", help="hashes or signals."),
    identifiers: str = typer.Option(
        "raw", "--identifiers", help="raw, or keyed: email addresses and usernames as HMACs only."
    ),
    description: str = typer.Option("", "--description", help="What the collection is for."),
    as_json: bool = AS_JSON,
) -> None:
    """Create a collection."""
    with reported_errors():
        made = _collections(ctx).create(
            title, kind=kind, identifiers=identifiers, description=description
        )
    typer.echo(json.dumps(made) if as_json else f"created collection {made['id']} ({title})")


@collections_app.command("list")
def list_collections(ctx: typer.Context, as_json: bool = AS_JSON) -> None:
    """List collections and their grants."""
    with reported_errors():
        found = _collections(ctx).list()
    _print_list(found, as_json)


@collections_app.command("grant")
def grant(
    ctx: typer.Context,
    collection: str = COLLECTION,
    member_id: int = MEMBER,
    read: bool = typer.Option(True, "--read/--no-read", help="May read the collection."),
    write: bool = typer.Option(False, "--write/--no-write", help="May publish into it."),
) -> None:
    """Set a member's read and write access to a collection."""
    with reported_errors():
        done = _collections(ctx).grant(collection, member_id=member_id, read=read, write=write)
    typer.echo(
        f"member {member_id} on {done['collection_id']}: "
        f"read={'yes' if read else 'no'} write={'yes' if write else 'no'}"
    )


@collections_app.command("revoke")
def revoke(ctx: typer.Context, collection: str = COLLECTION, member_id: int = MEMBER) -> None:
    """Take a member's access to a collection away."""
    with reported_errors():
        done = _collections(ctx).revoke(collection, member_id=member_id)
    typer.echo(f"member {member_id} has no access to {done['collection_id']}")
