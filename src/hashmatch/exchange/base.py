"""What every exchange source is: a type with a stable name, options, and
one method that fetches a page after a checkpoint.

    class MySource(ExchangeSource):
        name = "mine"
        description = "Hashes from my service."
        options = (Option("base_url", "Where the service is."),)

        def fetch_page(self, checkpoint):
            data = self.http.get_json(f"{self.config.option('base_url')}/hashes?after=...")
            return Page([Record(...) for item in data["items"]], {"after": ...}, more=...)

The runner (``exchange/runner.py``) holds the checkpoint: it asks for the
page after the last committed one, writes the page's records and the page's
checkpoint in one transaction, and asks again while ``more``.  So a source
never remembers anything between calls, and fetching the same page twice
is how a failed page is retried.  A source raises :class:`PageError` for a
page it could not get or read (``retry=False`` when trying again cannot
help, such as rejected credentials); a record it cannot read is a
:class:`Malformed` in the page, counted and skipped.

A source that takes opinions back (reviewers' verdicts on its hashes) sets
``takes_opinions`` and overrides :meth:`ExchangeSource.send_opinions`; the
opinion sender (``exchange/opinions.py``) leases pending opinions, hands a
source at most ``opinion_batch`` of them at a time and records what each
:class:`Sent` says.  A source that also takes ``reported`` opinions (a
match of its content was reported to NCMEC's CyberTipline) sets
``takes_reports``; a filed report queues them for no other type.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hashmatch.errors import ExchangeError
from hashmatch.exchange.http import PageClient
from hashmatch.signals.base import FrameHash

#: The JSON a checkpoint is (None: the source's beginning).
Checkpoint = dict[str, Any] | None


@dataclass(frozen=True)
class Option:
    """One option a source type takes (``--option NAME=VALUE``)."""

    name: str
    help: str
    default: str | None = None
    required: bool = False


@dataclass(slots=True)
class Record:
    """One item of a source: a content to have in the bank (or, ``deleted``,
    to have no more), known by the source's own id."""

    external_id: str
    signals: dict[str, str] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    source_metadata: dict[str, Any] = field(default_factory=dict)
    frames: list[FrameHash] = field(default_factory=list)
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class Malformed:
    """A record the source sent that cannot be read: why, and a short sample."""

    reason: str
    sample: str


@dataclass
class Page:
    """What one request to the source gave, and where the next one starts."""

    items: list[Record | Malformed]
    checkpoint: Checkpoint
    #: Whether the source has more now (False: up to date).
    more: bool


class PageError(ExchangeError):
    """A page that could not be fetched or read; ``retry``: whether asking
    again may help (a 500, a stall, a malformed page) or not (401)."""

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True, slots=True)
class OpinionToSend:
    """A reviewer's verdict on one content this exchange sent, to tell it."""

    #: The opinion row's id (``opinions.id``).
    id: int
    #: The source's own id of the content, as its records carried it.
    external_id: str
    #: ``positive`` (confirmed), ``negative`` (a false positive) or
    #: ``reported`` (a match was reported to the CyberTipline).
    opinion: str
    #: Which of the content's hashes the query matched ("pdq", "md5").
    signal_types: tuple[str, ...]
    #: The report of a ``reported`` opinion (``cybertip_reports.id``); else None.
    report_id: int | None = None


@dataclass(frozen=True, slots=True)
class Sent:
    """What became of one opinion: sent (``error`` None), or why not and
    whether trying again later may help."""

    opinion_id: int
    error: str | None = None
    retry: bool = True


@dataclass(frozen=True)
class SourceConfig:
    """What a source is made with: its options (defaults filled in) and its
    credentials, read at fetch time (None when it takes none)."""

    exchange: str
    options: Mapping[str, str]
    credentials: str | None = None

    def option(self, name: str) -> str:
        return self.options.get(name) or ""

    def credential_pair(self, source: str, shape: str) -> tuple[str, str]:
        """Credentials of the form ``first:second``, both parts given, or an
        ExchangeError naming ``shape`` (never the credentials themselves)."""
        first, colon, second = (self.credentials or "").partition(":")
        if not (first and colon and second):
            raise ExchangeError(f"{source} credentials must be {shape}")
        return first, second


class ExchangeSource(ABC):
    """A kind of exchange; the registry (``exchange/registry.py``) finds the
    built-in ones and plugins the same way, under entry point group
    ``hashmatch.exchanges``."""

    #: Stable name, as configured (``--type``) and stored.
    name: ClassVar[str]
    #: HMA 2.0's name for the same kind of exchange (``/c/exchanges/apis``).
    hma_name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    #: Whether a fetch needs credentials, and what they look like.
    credentials_help: ClassVar[str] = ""

    def __init__(self, config: SourceConfig, http: PageClient) -> None:
        self.config = config
        self.http = http

    @classmethod
    def needs_credentials(cls) -> bool:
        return bool(cls.credentials_help)

    @classmethod
    def check_options(cls, options: Mapping[str, str]) -> None:
        """Raise InvalidFieldError for an option value this type cannot take
        (asked when an exchange is added or changed, so a typo is refused then
        and not at its first fetch); a type takes any value unless it says."""
        return None

    @abstractmethod
    def fetch_page(self, checkpoint: Checkpoint) -> Page:
        """The page after ``checkpoint``, or PageError."""

    #: Whether the source takes opinions back (then it overrides send_opinions).
    takes_opinions: ClassVar[bool] = False
    #: Most opinions handed to one send_opinions call.
    opinion_batch: ClassVar[int] = 1
    #: Whether it also takes ``reported`` opinions (a filed report queues them).
    takes_reports: ClassVar[bool] = False

    def send_opinions(self, opinions: Sequence[OpinionToSend]) -> list[Sent]:
        """Tell the source these opinions: one :class:`Sent` per opinion, in
        any order (an opinion left out counts as not sent, to retry).  Only
        called when ``takes_opinions``."""
        raise NotImplementedError(f"exchange type {self.name!r} takes no opinions")
