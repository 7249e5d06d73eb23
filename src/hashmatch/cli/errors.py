"""Library errors become one line on stderr and an exit code, here only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from hashmatch.errors import (
    ApiKeyError,
    BankError,
    ConfigurationError,
    EvaluationError,
    ExchangeExistsError,
    HashmatchError,
    InvalidFieldError,
    InvalidHashError,
    MembershipError,
    ReviewError,
    RuleError,
    SubmissionError,
    UnknownExchangeError,
    UnknownSignalTypeError,
    UserError,
    WebhookError,
)

#: Exit codes: 1 = something failed while working, 2 = the command was wrong.
EXIT_FAILED = 1
EXIT_USAGE = 2

#: Errors in what the user asked for (a bad hash, an unknown or duplicate bank,
#: a malformed list or setting), as opposed to failures while doing it.
_USAGE_ERRORS = (
    InvalidHashError,
    UnknownSignalTypeError,
    BankError,
    ApiKeyError,
    ConfigurationError,
    EvaluationError,
    InvalidFieldError,
    RuleError,
    WebhookError,
    SubmissionError,
    ReviewError,
    MembershipError,
    UnknownExchangeError,
    ExchangeExistsError,
    UserError,
)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Print a HashmatchError as ``error: message`` and exit 1 (2 for bad input)."""
    try:
        yield
    except HashmatchError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE if isinstance(error, _USAGE_ERRORS) else EXIT_FAILED) from None
