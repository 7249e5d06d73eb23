"""Exchanges: named sources of hashes (NCMEC, StopNCII, ThreatExchange, hash lists, another
hashmatch) fetched into banks with checkpoints, one fetch at a time.

    exchanges = Exchanges(database)
    exchanges.create("ncmec-test", "ncmec", bank="ncmec", credentials_env="NCMEC_CREDENTIALS")
    result = Fetcher(database, UrlPolicy.from_settings(settings)).fetch("ncmec-test")

docs/exchanges.md tells the whole story.
"""

from hashmatch.exchange.base import (
    ExchangeSource,
    Malformed,
    Option,
    Page,
    PageError,
    Record,
    SourceConfig,
)
from hashmatch.exchange.catalog import ExchangeInfo, Exchanges
from hashmatch.exchange.registry import get_source_type, source_types
from hashmatch.exchange.runner import Fetcher, FetchResult
from hashmatch.exchange.scheduler import Scheduler
from hashmatch.exchange.status import ExchangeStatus, statuses

__all__ = [
    "ExchangeInfo",
    "ExchangeSource",
    "ExchangeStatus",
    "Exchanges",
    "FetchResult",
    "Fetcher",
    "Malformed",
    "Option",
    "Page",
    "PageError",
    "Record",
    "Scheduler",
    "SourceConfig",
    "get_source_type",
    "source_types",
    "statuses",
]
