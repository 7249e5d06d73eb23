"""The platform's users (``user_ref``): their history, and erasing it
(docs/platform-users.md).

    page = user_history(database, "user-81", limit=50)
    done = erase(database, "user-81")

The names are imported when first used, so that ``platform_users.kinds``
loads without the database layer (the CLI's start-up stays light).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hashmatch.platform_users.kinds import KINDS

if TYPE_CHECKING:
    from hashmatch.platform_users.erasure import Erasure, erase
    from hashmatch.platform_users.history import HistoryPage, user_history

__all__ = ["KINDS", "Erasure", "HistoryPage", "erase", "user_history"]

_HOMES = {
    "Erasure": "hashmatch.platform_users.erasure",
    "erase": "hashmatch.platform_users.erasure",
    "HistoryPage": "hashmatch.platform_users.history",
    "user_history": "hashmatch.platform_users.history",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'hashmatch.platform_users' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
