"""``hashmatch rules ...``: the rules that turn matches into verdicts and actions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from hashmatch.cli.bank_command import parse_hash
from hashmatch.cli.context import open_database, settings_of
from hashmatch.cli.errors import reported_errors
from hashmatch.errors import RuleError
from hashmatch.fieldlimits import check_text

if TYPE_CHECKING:
    from hashmatch.actions.rule_store import Rules
    from hashmatch.actions.rules import RuleSpec

rules_app = typer.Typer(
    help="List, change and try the rules that decide verdicts (docs/rules.md).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

NAME = typer.Argument(..., metavar="NAME", help="The rule's name.")
FILE_HELP = "The rule as JSON (docs/rules.md); - reads stdin."


def _rules(ctx: typer.Context) -> Rules:
    from hashmatch.actions.rule_store import Rules

    return Rules(open_database(ctx))


def _print_json(record: object) -> None:
    typer.echo(json.dumps(record))


def read_rule(path: Path) -> RuleSpec:
    """The rule in a JSON file (``-``: stdin); RuleError naming the file if
    it cannot be read, is not JSON, or is not a rule."""
    from hashmatch.actions.rules import parse_rule

    where = "stdin" if str(path) == "-" else str(path)
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
        data: Any = json.loads(text)
    except (OSError, UnicodeDecodeError) as error:
        raise RuleError(f"{where}: cannot read the rule: {error}") from None
    except json.JSONDecodeError as error:
        raise RuleError(f"{where}: not valid JSON: {error}") from None
    try:
        return parse_rule(data)
    except RuleError as error:
        raise RuleError(f"{where}: {error}") from None


@rules_app.command("list")
def list_rules(ctx: typer.Context) -> None:
    """Print every rule as a JSON line, in the order they run."""
    with reported_errors():
        for rule in _rules(ctx).all():
            _print_json(rule.to_json())


@rules_app.command("show")
def show(ctx: typer.Context, name: str = NAME) -> None:
    """Print one rule as JSON."""
    with reported_errors():
        _print_json(_rules(ctx).get(name).to_json())


@rules_app.command("create")
def create(
    ctx: typer.Context, file: Path = typer.Option(..., "--file", "-f", help=FILE_HELP)
) -> None:
    """Store a new rule; a rule naming a bank or webhook that does not exist is refused."""
    with reported_errors():
        _print_json(_rules(ctx).create(read_rule(file)).to_json())


@rules_app.command("update")
def update(
    ctx: typer.Context,
    name: str = NAME,
    file: Path = typer.Option(..., "--file", "-f", help=FILE_HELP),
) -> None:
    """Replace a rule by the one in the file (a different name renames it)."""
    with reported_errors():
        _print_json(_rules(ctx).update(name, read_rule(file)).to_json())


@rules_app.command("enable")
def enable(ctx: typer.Context, name: str = NAME) -> None:
    """Let a rule decide again."""
    with reported_errors():
        _print_json(_rules(ctx).set_enabled(name, True).to_json())


@rules_app.command("disable")
def disable(ctx: typer.Context, name: str = NAME) -> None:
    """Stop a rule from deciding (hashmatch rules disable review-any-match)."""
    with reported_errors():
        _print_json(_rules(ctx).set_enabled(name, False).to_json())


@rules_app.command("delete")
def delete(ctx: typer.Context, name: str = NAME) -> None:
    """Delete a rule."""
    with reported_errors():
        _rules(ctx).delete(name)
    _print_json({"deleted": name})


@rules_app.command("test")
def try_rules(
    ctx: typer.Context,
    submission: int | None = typer.Option(
        None, "--submission", "-s", min=0, help="A stored submission's id."
    ),
    hashes: list[str] = typer.Option([], "--hash", help="A TYPE:HASH to match (repeat)."),
    file: Path | None = typer.Option(
        None, "--file", "-f", help="Try this rule alone (it need not be stored); - reads stdin."
    ),
    user: str | None = typer.Option(
        None, "--user", help="With --hash: the platform user uploading them (history counted)."
    ),
) -> None:
    """Try the rules on a stored submission or on hashes; nothing is acted on.

    Prints what the enabled rules (or the rule in --file alone, stored or
    not) would decide, as JSON: {"verdict", "fired_rules", "actions",
    "content_type", "matches", "user_ref", "user_history"}; user_history
    holds the user's counts that the rules' conditions looked at.
    """
    if (submission is None) == (not hashes):
        raise typer.BadParameter("give either --submission ID or --hash TYPE:HASH")
    if user is not None and submission is not None:
        raise typer.BadParameter("--user goes with --hash: a submission has its own user")
    queries = [parse_hash(text) for text in hashes]
    rules = _rules(ctx)
    with reported_errors():
        rule = read_rule(file) if file is not None else None
        if submission is not None:
            _print_json(rules.test_submission(submission, rule))
            return
        from hashmatch.matching import Matcher

        matcher = Matcher.configured(rules.database, settings_of(ctx))
        if user is not None:
            from hashmatch.actions.submissions import REF_CHARS

            check_text("--user", user, max_chars=REF_CHARS, one_line=True)
        _print_json(rules.test_hashes(matcher, queries, rule, user))
