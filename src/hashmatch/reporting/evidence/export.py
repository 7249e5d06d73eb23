"""The export of an evidence package: a zip anyone can check without hashmatch.

    write_zip(stream, [("report.xml", b"..."), ("manifest.json", b"..."), ...])

The zip holds each object under its name, ``manifest.json`` (name, size and
SHA-256 of each object, as preserved) and ``SHA256SUMS`` in the format
``sha256sum --check`` reads, covering every other file in the zip.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from typing import IO

SUMS = "SHA256SUMS"


def sha256sums(files: Sequence[tuple[str, bytes]]) -> bytes:
    """``<sha256>  <name>`` a line, as ``sha256sum`` writes them."""
    return "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in files).encode()


def write_zip(stream: IO[bytes], files: Sequence[tuple[str, bytes]]) -> None:
    """The files (already verified) and their ``SHA256SUMS``, deflated."""
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            archive.writestr(name, data)
        archive.writestr(SUMS, sha256sums(files))


def check_zip(stream: IO[bytes]) -> list[str]:
    """What is wrong with an export (a missing or mismatched checksum, an
    unlisted file); empty when every file matches ``SHA256SUMS``."""
    with zipfile.ZipFile(stream) as archive:
        names = set(archive.namelist()) - {SUMS}
        if SUMS not in archive.namelist():
            return [f"no {SUMS}"]
        problems = []
        for line in archive.read(SUMS).decode().splitlines():
            digest, _, name = line.partition("  ")
            if name not in names:
                problems.append(f"{name}: missing")
                continue
            names.discard(name)
            if hashlib.sha256(archive.read(name)).hexdigest() != digest:
                problems.append(f"{name}: checksum mismatch")
        problems += [f"{name}: not in {SUMS}" for name in sorted(names)]
        return problems
