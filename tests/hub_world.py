"""A hub's membership built in code for the hub tests: applications with
benign generated details, admins who check and approve, a clock tests move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hashmatch.audit import Actor, acting_as
from hashmatch.hub.applications import ApplicationForm
from hashmatch.hub.criteria import CRITERION_KEYS
from hashmatch.hub.membership import Membership

START = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
ADMIN = Actor("user:hub-admin")


class Clock:
    """Now, as the tests set it."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def form_fields(number: int = 1) -> dict[str, Any]:
    """An application's fields as the API takes them."""
    return {
        "organisation": f"Example Photos {number}",
        "website": f"https://photos{number}.example.org",
        "product": "A photo sharing app for families.",
        "contact_name": "Robin Example",
        "contact_email": f"trust{number}@photos.example.org",
        "evidence": {key: f"https://photos{number}.example.org/{key}" for key in CRITERION_KEYS},
    }


def form(number: int = 1) -> ApplicationForm:
    return ApplicationForm(**form_fields(number))


def checked_application(membership: Membership, number: int = 1) -> int:
    """A submitted application with every criterion checked by ADMIN."""
    view, _token = membership.applications.submit(form(number))
    with acting_as(ADMIN):
        for key in CRITERION_KEYS:
            membership.applications.check(view["id"], key, note=f"read {key}")
    return int(view["id"])


def approved(membership: Membership, number: int = 1) -> dict[str, Any]:
    """An approved member: ``approve``'s answer (member, application, api_key)."""
    application_id = checked_application(membership, number)
    with acting_as(ADMIN):
        return membership.applications.approve(application_id)


def public_key_pem() -> str:
    """A fresh Ed25519 public key, as ``openssl pkey -pubout`` prints it."""
    key = Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
