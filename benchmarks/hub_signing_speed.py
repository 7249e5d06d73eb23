"""Signing and verifying hub STIX objects, on one core.

    python benchmarks/hub_signing_speed.py              # 20,000 objects x 3 rounds
    python benchmarks/hub_signing_speed.py --n 2000     # a smoke run

Builds N indicators (a mix of PDQ, MD5, SHA-256, URL, email, username and
keyword signals, with labels) from 10 members, each with its own Ed25519
key, then times, in rounds, the median rate of:

* ``sign``: RFC 8785 canonical JSON of the object and an Ed25519 detached JWS;
* ``verify``: the JWS header read, the key looked up, the canonical JSON
  recomputed and the signature checked (``hashmatch.hub.signing.verify``);
* ``verify_parse``: ``verify`` then ``parse_indicator`` (the pattern read and
  its value checked by its signal type): what a member does per pulled object;
* ``ed25519_only``: the bare Ed25519 verification of each object's signing
  input, the floor under ``verify`` on this machine at this moment.

Target (issue 16): verification >= 5,000 objects/s.  ``per_s`` is by the
wall clock; ``per_cpu_s`` by the process's CPU time, which a busy shared
machine inflates less (the load average is printed beside it).  Prints::

    RESULT phase=<sign|verify|verify_parse|ed25519_only> objects=<n> per_s=<x> per_cpu_s=<x>
        ratio_vs_target=<x> load=<1-minute load average>

(each RESULT on one line; the ratio is of ``per_s``).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from hashmatch.hub.canonical import canonical_json
from hashmatch.hub.keys import b64url_decode, b64url_encode
from hashmatch.hub.patterns import PatternSignal
from hashmatch.hub.signing import SIGNATURE_PROPERTY, TrustedKey, key_ring, sign, verify
from hashmatch.hub.stix import build_indicator, identity_id, parse_indicator

TARGET_PER_S = 5_000
MEMBERS = 10


def signals(rng: random.Random, n: int) -> list[PatternSignal]:
    makers: list[Callable[[int], PatternSignal]] = [
        lambda i: PatternSignal("pdq", f"{rng.getrandbits(256):064x}"),
        lambda i: PatternSignal("pdq", f"{rng.getrandbits(256):064x}"),
        lambda i: PatternSignal("md5", f"{rng.getrandbits(128):032x}"),
        lambda i: PatternSignal("sha256", f"{rng.getrandbits(256):064x}"),
        lambda i: PatternSignal("url", f"https://host{i}.example/path/{i}?q={i}"),
        lambda i: PatternSignal("email", f"user{i}@example.org"),
        lambda i: PatternSignal("username", f"forum:handle_{i}"),
        lambda i: PatternSignal("keyword", f"benign phrase {i}"),
    ]
    return [makers[i % len(makers)](i) for i in range(n)]


def bare_check(
    obj: dict[str, Any], key: Ed25519PrivateKey
) -> tuple[Ed25519PublicKey, bytes, bytes]:
    """(public key, signature, signing input) of a signed object, as RFC 7515 builds them."""
    protected, _, signature = obj[SIGNATURE_PROPERTY].split(".")
    unsigned = {name: value for name, value in obj.items() if name != SIGNATURE_PROPERTY}
    payload = b64url_encode(canonical_json(unsigned))
    return key.public_key(), b64url_decode(signature), f"{protected}.{payload}".encode()


def rates(work: Callable[[], None], count: int, rounds: int) -> tuple[float, float]:
    """Median objects per second of wall time and of CPU time."""
    wall, cpu = [], []
    for _ in range(rounds):
        started, cpu_started = time.perf_counter(), time.process_time()
        work()
        wall.append(count / (time.perf_counter() - started))
        cpu.append(count / (time.process_time() - cpu_started))
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="objects per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    rng = random.Random(16)
    keys = [Ed25519PrivateKey.generate() for _ in range(MEMBERS)]
    publishers = [identity_id(f"member-{m}") for m in range(MEMBERS)]
    ring = key_ring(
        TrustedKey(key.public_key(), publisher)
        for key, publisher in zip(keys, publishers, strict=True)
    )
    created = datetime(2026, 11, 27, tzinfo=UTC)
    objects: list[tuple[dict[str, Any], Ed25519PrivateKey]] = []
    for i, signal in enumerate(signals(rng, args.n)):
        member = i % MEMBERS
        indicator = build_indicator(
            signal,
            publisher=publishers[member],
            created=created,
            classification="A1" if i % 2 else None,
            categories=["csam"] if signal.signal_type in ("pdq", "md5", "sha256") else ["grooming"],
        )
        objects.append((indicator, keys[member]))
    signed = [sign(obj, key) for obj, key in objects]

    def sign_all() -> None:
        for obj, key in objects:
            sign(obj, key)

    def verify_all() -> None:
        for obj in signed:
            verify(obj, ring)

    def verify_parse_all() -> None:
        for obj in signed:
            parse_indicator(verify(obj, ring).object)

    bare = [bare_check(obj, key) for obj, (_, key) in zip(signed, objects, strict=True)]

    def ed25519_only() -> None:
        for public_key, signature, signing_input in bare:
            public_key.verify(signature, signing_input)

    for phase, work in (
        ("sign", sign_all),
        ("verify", verify_all),
        ("verify_parse", verify_parse_all),
        ("ed25519_only", ed25519_only),
    ):
        per_s, per_cpu_s = rates(work, len(objects), args.rounds)
        print(
            f"RESULT phase={phase} objects={len(objects)} per_s={per_s:.0f} "
            f"per_cpu_s={per_cpu_s:.0f} ratio_vs_target={per_s / TARGET_PER_S:.2f} "
            f"load={os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
