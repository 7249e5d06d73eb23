"""``hashmatch compare A B``: the distance between two hashes or two files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import typer

from hashmatch.cli.errors import reported_errors
from hashmatch.errors import HashmatchError, InvalidHashError
from hashmatch.hashing import HashRequest, hash_file
from hashmatch.signals import get_signal_type, names, signal_types

#: Which signal a bare hex string is, by its length (64 digits reads as PDQ;
#: write ``sha256:<hex>`` for a SHA-256).
_TYPE_BY_HEX_LENGTH = {64: names.PDQ, 32: names.MD5}
#: Which signal compares two files when none is named: the first that both have.
_FILE_PREFERENCE = (names.PDQ, names.SHA256, names.MD5)


class CompareFormat(StrEnum):
    text = "text"
    json = "json"


@dataclass(frozen=True)
class Operand:
    """One side of a comparison: a hash string, or a file to hash."""

    text: str
    signal_type: str | None
    value: str | None
    path: Path | None


def parse_operand(text: str, signal: str | None) -> Operand:
    """``TYPE:HEX``, a bare hex string, or the path of an existing file."""
    path = Path(text)
    if path.is_file():
        return Operand(text, signal, None, path)
    name, sep, value = text.partition(":")
    if sep:
        if signal and name != signal:
            raise InvalidHashError(f"{text!r} is a {name} hash but --signal is {signal}")
        return Operand(text, name, get_signal_type(name).parse(value), None)
    guessed = signal or _TYPE_BY_HEX_LENGTH.get(len(text.strip()))
    if guessed is None:
        raise InvalidHashError(
            f"{text!r} is neither an existing file nor a hash (write TYPE:HEX, "
            f"TYPE one of {', '.join(signal_types())})"
        )
    return Operand(text, guessed, get_signal_type(guessed).parse(text), None)


def _resolve(
    operands: list[Operand], signal: str | None
) -> tuple[str, list[str], list[int | None]]:
    """Pick the signal type and produce both values (hashing files as needed)."""
    named = {op.signal_type for op in operands if op.signal_type}
    if len(named) > 1:
        raise InvalidHashError(
            f"cannot compare hashes of different types: {', '.join(sorted(named))}"
        )
    files = {op.text: hash_file(op.path, HashRequest()) for op in operands if op.path is not None}
    for result in files.values():
        if not result.ok:
            raise HashmatchError(result.error or "")
    chosen = next(iter(named), None) or signal
    if chosen is None:
        common = set.intersection(*(set(result.signals) for result in files.values()))
        chosen = next((name for name in _FILE_PREFERENCE if name in common), None)
        if chosen is None:
            raise InvalidHashError("the two files have no signal type in common")
    values: list[str] = []
    qualities: list[int | None] = []
    for op in operands:
        if op.path is None:
            values.append(op.value or "")
            qualities.append(None)
            continue
        result = files[op.text]
        if chosen not in result.signals:
            raise InvalidHashError(f"{op.text}: no {chosen} hash for this file")
        values.append(result.signals[chosen])
        qualities.append(result.quality.get(chosen))
    return chosen, values, qualities


def compare_command(
    a: str = typer.Argument(..., metavar="A", help="A hash (TYPE:HEX or bare hex) or a file."),
    b: str = typer.Argument(..., metavar="B", help="A hash (TYPE:HEX or bare hex) or a file."),
    signal: str | None = typer.Option(
        None, "--signal", "-s", help="Signal type to compare by (default: guessed)."
    ),
    threshold: int | None = typer.Option(
        None, "--threshold", "-t", min=0, help="Match threshold (default: the type's own)."
    ),
    output_format: CompareFormat = typer.Option(
        CompareFormat.text, "--format", "-f", help="text or json."
    ),
) -> None:
    """Print the distance between two hashes or two files, and whether they match."""
    with reported_errors():
        if signal:
            get_signal_type(signal)
        operands = [parse_operand(a, signal), parse_operand(b, signal)]
        chosen, values, qualities = _resolve(operands, signal)
        signal_type = get_signal_type(chosen)
        distance = signal_type.distance(values[0], values[1])
    limit = signal_type.default_threshold if threshold is None else threshold
    record = {
        "signal_type": chosen,
        "distance": distance,
        "threshold": limit,
        "match": distance <= limit,
        "a": {"input": a, "value": values[0], "quality": qualities[0]},
        "b": {"input": b, "value": values[1], "quality": qualities[1]},
    }
    if output_format is CompareFormat.json:
        typer.echo(json.dumps(record))
        return
    verdict = "match" if record["match"] else "no match"
    typer.echo(f"{chosen} distance {distance} ({verdict} at threshold {limit})")
