"""A hub with members who sign, built in code for the TAXII tests: each
member's hub key, its private signing key, and helpers that build signed
indicators and opinions from benign generated values."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hashmatch.audit import acting_as
from hashmatch.hub.collections import Collections
from hashmatch.hub.keys import generate_signing_key, parse_private_key
from hashmatch.hub.membership import Membership
from hashmatch.hub.object_intake import member_identity
from hashmatch.hub.patterns import PatternSignal
from hashmatch.hub.signing import sign
from hashmatch.hub.stix import build_indicator, build_opinion, revoke
from hashmatch.settings import Settings
from hashmatch.store import Database
from tests.hub_world import ADMIN, approved

CREATED = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@dataclass
class Publisher:
    id: int
    key_name: str
    secret: str
    signing_key: Ed25519PrivateKey
    identity: str

    def indicator(self, number: int, *, signal: PatternSignal | None = None) -> dict[str, Any]:
        """A signed MD5 indicator for a generated value (``number`` picks it)."""
        value = hashlib.md5(f"{self.id}:{number}".encode()).hexdigest()
        built = build_indicator(
            signal or PatternSignal("md5", value),
            publisher=self.identity,
            created=CREATED,
            classification="A1",
            categories=["csam"],
        )
        return sign(built, self.signing_key)

    def revoked(self, obj: dict[str, Any], minutes: int = 5) -> dict[str, Any]:
        return sign(revoke(obj, modified=CREATED + timedelta(minutes=minutes)), self.signing_key)

    def opinion(self, indicator_id: str, verdict: str) -> dict[str, Any]:
        built = build_opinion(indicator_id, verdict, publisher=self.identity, created=CREATED)
        return sign(built, self.signing_key)


def publishers(database_url: str, tmp_path: Any, count: int = 2) -> list[Publisher]:
    """``count`` approved members with a registered signing key each, granted
    read and write on the default collections."""
    database = Database.open(database_url)
    try:
        settings = Settings(data_dir=tmp_path / "data", database_url=database_url, hub_enabled=True)
        membership = Membership(database, settings)
        collections = Collections(database)
        collections.ensure_defaults()
        made = []
        for number in range(1, count + 1):
            answer = approved(membership, number)
            member_id, key_name = answer["member"]["id"], answer["member"]["api_key_name"]
            private_pem, public_text = generate_signing_key()
            membership.keys.register(key_name, public_text)
            with acting_as(ADMIN):
                for title in ("hashes", "signals"):
                    collections.grant(title, member_id=member_id, read=True, write=True)
            made.append(
                Publisher(
                    member_id,
                    key_name,
                    answer["api_key"],
                    parse_private_key(private_pem),
                    member_identity(member_id),
                )
            )
        return made
    finally:
        database.close()
