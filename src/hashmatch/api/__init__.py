"""The HTTP API (FastAPI): versioned routes under /v1, API keys with scopes."""

from hashmatch.api.app import create_app

__all__ = ["create_app"]
