"""``hashmatch compare A B``: the distance between two hashes or two files.

A file's picture is compared in its 8 rotations and flips, as ``hashmatch
match`` does, and the closest one is reported with its transform: a rotated
copy is a match, not "distance 128".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from hashmatch.cli.errors import reported_errors
from hashmatch.cli.progress import kernel_notice, say
from hashmatch.errors import HashmatchError, InvalidHashError
from hashmatch.signals import get_signal_type, names, signal_types

if TYPE_CHECKING:
    from hashmatch.hashing import FileHashes

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


@dataclass(frozen=True)
class Side:
    """One side's value, its quality, and (a file's) its rotations and flips."""

    value: str
    quality: int | None
    turned: list[str]


@dataclass(frozen=True)
class Closest:
    """The smallest distance, and which side ("a" or "b") was turned how to get it."""

    distance: int
    transform: str | None = None
    side: str | None = None


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


def _hash_files(operands: list[Operand], dihedral: bool) -> dict[str, FileHashes]:
    from hashmatch.hashing import HashRequest, hash_file

    request = HashRequest(dihedral=dihedral)
    with kernel_notice():
        files = {op.text: hash_file(op.path, request) for op in operands if op.path is not None}
    for result in files.values():
        if not result.ok:
            raise HashmatchError(result.error or "")
    return files


def _resolve(operands: list[Operand], signal: str | None, dihedral: bool) -> tuple[str, list[Side]]:
    """Pick the signal type and produce both sides (hashing files as needed)."""
    named = {op.signal_type for op in operands if op.signal_type}
    if len(named) > 1:
        raise InvalidHashError(
            f"cannot compare hashes of different types: {', '.join(sorted(named))}"
        )
    files = _hash_files(operands, dihedral)
    chosen = next(iter(named), None) or signal
    if chosen is None:
        common = set.intersection(*(set(result.signals) for result in files.values()))
        chosen = next((name for name in _FILE_PREFERENCE if name in common), None)
        if chosen is None:
            raise InvalidHashError("the two files have no signal type in common")
    sides = []
    for op in operands:
        if op.path is None:
            sides.append(Side(op.value or "", None, []))
            continue
        result = files[op.text]
        if chosen not in result.signals:
            raise InvalidHashError(f"{op.text}: no {chosen} hash for this file")
        sides.append(
            Side(
                result.signals[chosen], result.quality.get(chosen), result.dihedral.get(chosen, [])
            )
        )
    return chosen, sides


def closest(signal_type: str, a: Side, b: Side) -> Closest:
    """The distance between the sides as they are, or between one side turned
    (the first that is a file) and the other, whichever is smaller."""
    from hashmatch.signals.base import DihedralSignalType

    kind = get_signal_type(signal_type)
    best = Closest(kind.distance(a.value, b.value))
    if not isinstance(kind, DihedralSignalType):
        return best
    turned, other, side = (a, b, "a") if a.turned else (b, a, "b")
    for transform, value in zip(kind.transforms, turned.turned, strict=False):
        distance = kind.distance(value, other.value)
        if distance < best.distance:
            best = Closest(distance, transform, side)
    return best


def compare_command(
    a: str = typer.Argument(..., metavar="A", help="A hash (TYPE:HEX or bare hex) or a file."),
    b: str = typer.Argument(..., metavar="B", help="A hash (TYPE:HEX or bare hex) or a file."),
    signal: str | None = typer.Option(
        None, "--signal", "-s", help="Signal type to compare by (default: guessed)."
    ),
    threshold: int | None = typer.Option(
        None, "--threshold", "-t", min=0, help="Match threshold (default: the type's own)."
    ),
    dihedral: bool = typer.Option(
        True,
        "--dihedral/--no-dihedral",
        help="Compare a file's picture in its 8 rotations and flips too, as match does.",
    ),
    output_format: CompareFormat = typer.Option(
        CompareFormat.text, "--format", "-f", help="text or json."
    ),
) -> None:
    """Print the distance between two hashes or two files, and whether they match.

    A file's picture is turned (rotated, flipped) to its closest, and the
    transform is named: "pdq distance 0 with A rotate90 (match at threshold
    31; as they are: 128)".
    """
    with reported_errors():
        if signal:
            get_signal_type(signal)
        operands = [parse_operand(a, signal), parse_operand(b, signal)]
        chosen, sides = _resolve(operands, signal, dihedral)
        found = closest(chosen, *sides)
        as_they_are = get_signal_type(chosen).distance(sides[0].value, sides[1].value)
    limit = get_signal_type(chosen).default_threshold if threshold is None else threshold
    record: dict[str, Any] = {
        "signal_type": chosen,
        "distance": found.distance,
        "threshold": limit,
        "match": found.distance <= limit,
        "transform": found.transform,
        "transformed": found.side,
        "distance_as_they_are": as_they_are,
        "a": {"input": a, "value": sides[0].value, "quality": sides[0].quality},
        "b": {"input": b, "value": sides[1].value, "quality": sides[1].quality},
    }
    _warn_flat(chosen, [(a, sides[0]), (b, sides[1])])
    if output_format is CompareFormat.json:
        typer.echo(json.dumps(record))
        return
    verdict = f"{'match' if record['match'] else 'no match'} at threshold {limit}"
    if found.transform is None or found.side is None:
        typer.echo(f"{chosen} distance {found.distance} ({verdict})")
        return
    typer.echo(
        f"{chosen} distance {found.distance} with {found.side.upper()} {found.transform} "
        f"({verdict}; as they are: {as_they_are})"
    )


def _warn_flat(signal_type: str, sides: list[tuple[str, Side]]) -> None:
    """Say so when a file's hash is too flat for match to use it."""
    from hashmatch.signals.quality import quality_warnings

    for text, side in sides:
        if side.quality is not None:
            for warning in quality_warnings({signal_type: side.quality}):
                say(f"warning: {text}: {warning}")
