"""Routes compatible with Meta's Hasher-Matcher-Actioner 2.0 API (``/h``, ``/m``, ``/c``).

Same paths, parameters and JSON shapes, so an HMA integration can point at
hashmatch unchanged; they take hashmatch's API keys (scopes hash, match and
curate).  Where hashmatch differs on purpose, docs/hma.md says so.
"""

from fastapi import APIRouter

from hashmatch.api.hma import curation, exchanges, hashing, matching

router = APIRouter()
router.include_router(hashing.router)
router.include_router(matching.router)
router.include_router(curation.router)
router.include_router(exchanges.router)

__all__ = ["router"]
