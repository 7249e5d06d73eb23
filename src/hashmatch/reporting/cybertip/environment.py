"""Which of NCMEC's environments a CyberTipline URL is: reports reach NCMEC
for real only when ``cybertip_url`` is the production address, exactly.

    environment_of("https://exttest.cybertip.org/ispws")   # "test"
    banner(settings)   # the line `serve` and `cybertip status` print
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from hashmatch.settings import PRODUCTION_CYBERTIP_URL

if TYPE_CHECKING:
    from hashmatch.settings import Settings

Environment = Literal["test", "production"]


def environment_of(url: str) -> Environment:
    """ "production" for NCMEC's production address (a trailing slash aside), else "test"."""
    return "production" if url.rstrip("/") == PRODUCTION_CYBERTIP_URL else "test"


def banner(settings: Settings) -> str:
    """One line saying where CyberTipline reports go, loudly when it is production."""
    url = settings.cybertip_url
    if environment_of(url) == "production":
        return f"CYBERTIPLINE: PRODUCTION ({url}): reports filed here reach NCMEC for real"
    filing = "filing report requests" if settings.cybertip_enabled else "filing only when asked"
    return f"CyberTipline: TEST environment ({url}), {filing}; nothing reaches NCMEC's real queue"
