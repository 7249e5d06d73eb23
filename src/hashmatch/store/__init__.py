"""Storage: the schema, its migrations, and transactions on SQLite or PostgreSQL."""

from hashmatch.store.database import Database
from hashmatch.store.models import ApiKey, Bank, Change, Content, ContentSignal, Instance

__all__ = ["ApiKey", "Bank", "Change", "Content", "ContentSignal", "Database", "Instance"]
