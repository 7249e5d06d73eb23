"""Storage: the schema, its migrations, and transactions on SQLite or PostgreSQL."""

from hashmatch.store.database import Database
from hashmatch.store.models import Bank, Change, Content, ContentSignal, Instance

__all__ = ["Bank", "Change", "Content", "ContentSignal", "Database", "Instance"]
