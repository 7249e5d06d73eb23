"""What each role may do in the web UI.

    allows("curator", "curate")   # True
    allows("reviewer", "admin")   # False

A page or form names one permission; a role has it or not.  ``admin`` may do
everything; ``curator`` changes banks, content, rules, webhooks and
exchanges; ``reviewer`` works the review queue and files CyberTipline reports;
``viewer`` reads; ``legal`` sees reports and evidence and reads.
"""

from __future__ import annotations

ROLES = ("admin", "curator", "reviewer", "viewer", "legal")

PERMISSIONS: dict[str, frozenset[str]] = {
    # the dashboard
    "view": frozenset(ROLES),
    # banks, content, rules, webhooks, exchanges and the system pages
    "read": frozenset({"admin", "curator", "viewer", "legal"}),
    # the match tester
    "test": frozenset({"admin", "curator", "viewer"}),
    # changing banks, content, rules, webhooks and exchanges
    "curate": frozenset({"admin", "curator"}),
    "review": frozenset({"admin", "reviewer"}),
    # CyberTipline reports: file one from a confirmed item, follow it, retry it
    "report": frozenset({"admin", "reviewer", "legal"}),
    "evidence": frozenset({"admin", "legal"}),
    "audit": frozenset({"admin", "viewer", "legal"}),
    # API keys, users and settings
    "admin": frozenset({"admin"}),
}


def allows(role: str, permission: str) -> bool:
    """Whether ``role`` has ``permission``; an unknown role or permission has nothing."""
    return role in PERMISSIONS.get(permission, frozenset())
