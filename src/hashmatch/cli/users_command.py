"""``hashmatch users ...``: the people who sign in to the web UI."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import typer

from hashmatch.cli.context import open_database, settings_of
from hashmatch.cli.errors import reported_errors
from hashmatch.cli.progress import say

if TYPE_CHECKING:
    from hashmatch.accounts.users import UserInfo, Users

users_app = typer.Typer(
    help="Create, list and change the people who sign in to the web UI.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

ROLE_HELP = "admin, curator, reviewer, viewer or legal."
STDIN_HELP = "Read the password from the first line of stdin instead of asking for it."


def _users(ctx: typer.Context) -> Users:
    from hashmatch.accounts.users import Users

    return Users(open_database(ctx), settings_of(ctx))


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _print(info: UserInfo) -> None:
    typer.echo(json.dumps(info.to_json()))


@users_app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="The name they sign in with."),
    role: str = typer.Option(..., "--role", "-r", help=ROLE_HELP),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=STDIN_HELP),
) -> None:
    """Create a user and print it as JSON.

    The password is asked for twice, hidden, unless --password-stdin reads it.
    """
    users = _users(ctx)
    password = _password(password_stdin)
    with reported_errors():
        info = users.create(name, role, password)
    say(f"created user {info.name!r} with role {info.role}")
    _print(info)


@users_app.command("list")
def list_users(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """List every user: role, whether disabled, second factor, last sign-in."""
    infos = _users(ctx).list()
    if as_json:
        for info in infos:
            _print(info)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for column in ("name", "role", "disabled", "second factor", "last sign-in", "created"):
        table.add_column(column)
    for info in infos:
        table.add_row(
            info.name,
            info.role,
            f"{info.disabled_at:%Y-%m-%d %H:%M}" if info.disabled_at else "no",
            "yes" if info.totp_enabled else "no",
            f"{info.last_login_at:%Y-%m-%d %H:%M}" if info.last_login_at else "never",
            f"{info.created_at:%Y-%m-%d %H:%M}",
        )
    Console(width=160).print(table)


@users_app.command("set-role")
def set_role(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="The user's name."),
    role: str = typer.Argument(..., metavar="ROLE", help=ROLE_HELP),
) -> None:
    """Give a user another role (it applies to their next page)."""
    users = _users(ctx)
    with reported_errors():
        _print(users.set_role(name, role))


@users_app.command("disable")
def disable(
    ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME", help="The user's name.")
) -> None:
    """Disable a user: they cannot sign in, and are signed out everywhere now."""
    users = _users(ctx)
    with reported_errors():
        _print(users.disable(name))


@users_app.command("enable")
def enable(
    ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME", help="The user's name.")
) -> None:
    """Let a disabled user sign in again; also ends a lockout after failed sign-ins."""
    users = _users(ctx)
    with reported_errors():
        _print(users.enable(name))


@users_app.command("reset-password")
def reset_password(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="The user's name."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=STDIN_HELP),
) -> None:
    """Set a new password: the user is signed out everywhere, and a lockout ends."""
    users = _users(ctx)
    with reported_errors():
        users.get(name)  # before asking for a password: the name may be wrong
    password = _password(password_stdin)
    with reported_errors():
        _print(users.reset_password(name, password))


@users_app.command("reset-totp")
def reset_totp(
    ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME", help="The user's name.")
) -> None:
    """Remove a user's second factor (after a lost phone).

    They enrol again at their next sign-in if their role needs one.
    """
    users = _users(ctx)
    with reported_errors():
        _print(users.disable_totp(name))
