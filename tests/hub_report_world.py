"""Members' transparency records and signing keys built in code, for the
annual report tests: valid records (the schema's shape, every figure zero
but those a test sets) and members with a registered Ed25519 key."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hashmatch.hub.keys import public_key_text
from hashmatch.hub.membership import Membership
from hashmatch.hub.period_reports import signed_report
from hashmatch.reporting.transparency import transparency
from hashmatch.reporting.transparency.periods import parse_period
from hashmatch.store import Database
from tests.hub_world import approved


@cache
def _zero_record(period: str) -> dict[str, Any]:
    with TemporaryDirectory() as folder:
        database = Database.open(f"sqlite:///{Path(folder) / 'member.db'}")
        try:
            return transparency(database, parse_period(period), instance_name="member")
        finally:
            database.close()


def record(
    period: str, *, filed: int = 0, submissions: int = 0, signal_types: dict[str, int] | None = None
) -> dict[str, Any]:
    """A valid record for ``period`` with these figures (``previous`` left 0)."""
    made = copy.deepcopy(_zero_record(period))
    figures = made["figures"]
    figures["cybertip_reports"]["filed"]["value"] = filed
    figures["content_scanned"]["submissions"]["value"] = submissions
    for name, count in (signal_types or {}).items():
        figures["matches"]["by_signal_type"][name] = {
            "value": count,
            "previous": 0,
            "change_percent": None,
        }
    return made


@dataclass
class SigningMember:
    member_id: int
    name: str
    key_name: str
    api_key: str
    private_key: Ed25519PrivateKey

    def envelope(self, report: dict[str, Any], *, publish: bool = False) -> dict[str, Any]:
        return signed_report(
            report, member_id=self.member_id, private_key=self.private_key, publish=publish
        )


def signing_member(membership: Membership, number: int) -> SigningMember:
    """An approved member with a registered signing key."""
    made = approved(membership, number)
    member = made["member"]
    private_key = Ed25519PrivateKey.generate()
    membership.keys.register(member["api_key_name"], public_key_text(private_key.public_key()))
    return SigningMember(
        member["id"], member["name"], member["api_key_name"], made["api_key"], private_key
    )
