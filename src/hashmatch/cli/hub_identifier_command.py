"""``hashmatch hub identifier-key ...``: the coalition's key for email addresses
and usernames shared as keyed hashes (docs/hub-stix.md, "Keyed identifiers").

On the hub, make a key for the operator to put first in ``identifier_keys``:

    hashmatch hub identifier-key new [--json]

On a member, fetch the hub's current key to put first in its own
``identifier_keys`` (the hub's address and the member's hub API key from
flags or ``HASHMATCH_HUB_URL`` and ``HASHMATCH_HUB_API_KEY``):

    hashmatch hub identifier-key fetch [--hub URL] [--api-key KEY] [--json]

Each prints the key alone (for ``$(...)``), or ``{"key_id", "key"}`` with
``--json``; ``fetch`` names the key's id on stderr.
"""

from __future__ import annotations

import json

import typer

from hashmatch.cli.errors import reported_errors
from hashmatch.cli.hub_command import hub_group
from hashmatch.cli.hub_report_command import API_KEY, HUB_URL, hub_client

identifier_key_app = hub_group(
    "The coalition's identifier key for keyed emails and usernames: make one (hub), "
    "fetch the hub's (member)."
)
AS_JSON = typer.Option(False, "--json", help='Print {"key_id", "key"}.')


def register(hub_app: typer.Typer) -> None:
    """Add ``identifier-key`` to ``hashmatch hub``."""
    hub_app.add_typer(identifier_key_app, name="identifier-key")


def _print(key_id: str, key: str, as_json: bool) -> None:
    typer.echo(json.dumps({"key_id": key_id, "key": key}) if as_json else key)


@identifier_key_app.command("new")
def new_key(as_json: bool = AS_JSON) -> None:
    """Make a new identifier key (hub).

    Put it first in identifier_keys, the older keys after it while members move over.
    """
    from hashmatch.hub.identifiers import IdentifierKey

    made = IdentifierKey.generate()
    _print(made.key_id, made.text(), as_json)


@identifier_key_app.command("fetch")
def fetch_key(
    ctx: typer.Context, hub: str = HUB_URL, api_key: str = API_KEY, as_json: bool = AS_JSON
) -> None:
    """Fetch the hub's current identifier key (member).

    Put it first in this instance's identifier_keys.
    """
    from hashmatch.errors import HubError
    from hashmatch.hub.identifiers import IdentifierKey

    with reported_errors():
        answer = hub_client(ctx, hub, api_key).identifier_key()
        try:
            key = IdentifierKey.from_text(str(answer["key"]))
        except (KeyError, TypeError, HubError):
            raise HubError("the hub's answer holds no identifier key") from None
        if key.key_id != answer.get("key_id"):
            raise HubError("the hub's identifier key does not match the key id it gave")
    if not as_json:
        typer.echo(f"key id {key.key_id}: put the key first in identifier_keys", err=True)
    _print(key.key_id, key.text(), as_json)
