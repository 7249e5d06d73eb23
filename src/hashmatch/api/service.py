"""What the API's routes share: the database, API keys and the matcher.

The matcher (the in-memory indexes) loads in a background thread, so the
process answers ``/status/live`` at once; ``/status`` and the matching
routes answer 503 until it is ready.  Before a lookup the matcher follows the
change log, at most every ``REFRESH_SECONDS``, and at once after this process
committed a change itself (so a client that adds content and looks it up
through the same server sees it).
"""

from __future__ import annotations

import logging
import threading
import time

from hashmatch.accounts.sessions import WebSessions
from hashmatch.accounts.users import Users
from hashmatch.actions.deliverer import Deliverer
from hashmatch.actions.media_vault import MediaVault
from hashmatch.actions.submissions import Submissions
from hashmatch.api.errors import ApiError
from hashmatch.api.imports import ImportRunner
from hashmatch.api.ratelimit import RateLimiter
from hashmatch.apikeys import ApiKeys
from hashmatch.banks import Banks
from hashmatch.banks.add_queue import AddQueue
from hashmatch.errors import UnknownBankError
from hashmatch.exchange import Fetcher, Scheduler
from hashmatch.exchange.opinions import opinion_sending
from hashmatch.exchange.taxii_confirmed import confirmed_sharing
from hashmatch.hub.dues import lapse_checking
from hashmatch.hub.membership import Membership
from hashmatch.index.warmup import warm_up as warm_up_index
from hashmatch.matching import Matcher
from hashmatch.media.download import UrlPolicy
from hashmatch.pdq.warmup import COMPILING_NOTICE, announcing_compiles, warm_up
from hashmatch.reporting.filer import Filer
from hashmatch.reporting.transparency.usage import UsageCounter
from hashmatch.review import Review
from hashmatch.settings import Settings
from hashmatch.signals.vpdq import warm_up as warm_up_video
from hashmatch.statements.sender import statement_sending
from hashmatch.store import Database

log = logging.getLogger("hashmatch.api")

REFRESH_SECONDS = 0.5
#: How often a worker checks whether to write a new index snapshot or map one
#: another worker wrote.
SNAPSHOT_CHECK_SECONDS = 10.0
#: How long a verified API key is trusted before the key table is read again
#: (so how long a revoked key may still work in a running server).
KEY_CACHE_SECONDS = 5.0
BANK_CACHE_SECONDS = 1.0
INDEX_NOTICE = "compiling the index kernels, a few seconds, once per machine"


class Service:
    def __init__(
        self, settings: Settings, database: Database, media_vault: MediaVault | None = None
    ) -> None:
        self.settings = settings
        self.database = database
        #: Submissions (docs/submissions.md); ``media_vault`` encrypts kept media
        #: (create_app loads it from the settings, so a bad key stops start-up).
        self.submissions = Submissions(database, settings, media_vault)
        self.keys = ApiKeys(database, cache_seconds=KEY_CACHE_SECONDS)
        #: The people who sign in to the web UI, and their sessions.
        self.users = Users(database, settings)
        self.web_sessions = WebSessions(database, settings)
        #: List imports, in a child process of this worker.
        self.imports = ImportRunner(settings.database_url)
        #: Single adds from concurrent requests, committed together.
        self.banks = Banks(database)
        self.adds = AddQueue(self.banks)
        #: The review queue (docs/review.md).
        self.review = Review(database, settings, self.banks)
        #: Bank names seen to exist, and when (a positive answer only: an add
        #: to a bank deleted since still fails, with the same 404).
        self._banks_seen: dict[str, float] = {}
        self.url_policy = UrlPolicy.from_settings(settings)
        #: Webhook deliveries from this process (off when ``hashmatch worker`` does them).
        self.deliverer = Deliverer(database, settings) if settings.deliver_in_serve else None
        #: CyberTipline reports filed and resumed from this process, beside the deliveries.
        self.filer = (
            Filer(database, settings, vault=media_vault) if settings.deliver_in_serve else None
        )
        #: Reviewers' opinions sent back to the exchanges, beside the deliveries.
        self.opinions = opinion_sending(database, settings) if settings.deliver_in_serve else None
        #: Confirmed decisions shared with the hub (when hub_share_confirmed).
        self.confirmed_sharing = (
            confirmed_sharing(database, settings) if settings.deliver_in_serve else None
        )
        #: Statements of reasons sent to the DSA Transparency Database (when enabled).
        self.statements = (
            statement_sending(database, settings) if settings.deliver_in_serve else None
        )
        #: Exchanges fetched on their intervals (docs/exchanges.md).
        self.exchange_scheduler = Scheduler(
            Fetcher(database, self.url_policy), on_change=self.refresh_soon
        )
        #: The hub's membership and its lapse check (docs/hub.md), when hub_enabled.
        self.hub = Membership(database, settings) if settings.hub_enabled else None
        self.hub_lapse_check = (
            lapse_checking(self.hub.dues, every_minutes=settings.hub_lapse_check_minutes)
            if self.hub is not None
            else None
        )
        #: Lookups answered, counted for transparency reports (written in batches).
        self.usage = UsageCounter(database)
        self.rate_limiter = (
            RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
            if settings.rate_limit_per_second > 0
            else None
        )
        #: When the matcher last caught up with the change log (Unix time).
        self.current_at = 0.0
        self._matcher: Matcher | None = None
        self._load_error: str | None = None
        self._refreshed = 0.0
        self._seen_commits = 0
        #: refresh_soon's requests, and the last one a finished refresh
        #: began after (a refresh already under way when a request came
        #: may have read the log before that write).
        self._requested = 0
        self._served = 0
        self._snapshot_checked = time.monotonic()
        self._snapshot_upkeep: threading.Thread | None = None
        #: Why the last refresh failed (None: it did not).
        self.refresh_problem: str | None = None
        self._refresh_lock = threading.Lock()
        self._stopping = threading.Event()
        self._follower = threading.Thread(target=self._follow, name="hashmatch-follow", daemon=True)
        self._loader = threading.Thread(target=self._load, name="hashmatch-index-load", daemon=True)

    def start(self) -> None:
        self._loader.start()
        self.usage.start()
        self.exchange_scheduler.start()
        if self.deliverer is not None:
            self.deliverer.start()
        if self.filer is not None:
            self.filer.start()
        if self.opinions is not None:
            self.opinions.start()
        if self.confirmed_sharing is not None:
            self.confirmed_sharing.start()
        if self.statements is not None:
            self.statements.start()
        if self.hub_lapse_check is not None:
            self.hub_lapse_check.start()
        if self.hub is not None:  # the default TAXII collections, made once (docs/hub-taxii.md)
            from hashmatch.hub.collections import Collections

            Collections(self.database).ensure_defaults()

    def _load(self) -> None:
        try:
            warm_up(log.info)  # no request waits for the kernel to compile
            with announcing_compiles(lambda: log.info(COMPILING_NOTICE)):
                warm_up_video()
            with announcing_compiles(lambda: log.info(INDEX_NOTICE), packages=("hashmatch.index",)):
                warm_up_index()
            self._seen_commits = self.database.commits
            self._matcher = Matcher.configured(self.database, self.settings)
            self._refreshed = time.monotonic()
            self.current_at = time.time()
        except Exception as error:  # noqa: BLE001 - reported by /status, not lost
            self._load_error = f"{type(error).__name__}: {error}"
            return
        self._follower.start()

    def _follow(self) -> None:
        """Keep following the change log while the service runs, requests or
        none: content added through another process is matchable within
        about ``REFRESH_SECONDS``, and a big import is applied here, not by
        the first lookup after it."""
        while not self._stopping.wait(REFRESH_SECONDS):
            try:
                self.matcher()
            except Exception:  # a bug must not end the following quietly
                log.exception("following the change log failed")

    def bank_exists(self, name: str) -> bool:
        """Whether a bank exists, asking the database at most every
        ``BANK_CACHE_SECONDS`` for a bank seen to exist (adds call it per request)."""
        seen = self._banks_seen.get(name)
        if seen is not None and time.monotonic() - seen < BANK_CACHE_SECONDS:
            return True
        try:
            self.banks.is_enabled(name)
        except UnknownBankError:
            return False
        self._banks_seen[name] = time.monotonic()
        return True

    def refresh_soon(self) -> None:
        """Follow the change log at the next lookup (after a write made
        elsewhere): that lookup waits for a refresh that begins after now."""
        self._requested += 1

    def _due(self) -> bool:
        return (
            self.database.commits != self._seen_commits
            or self._requested != self._served
            or time.monotonic() - self._refreshed > REFRESH_SECONDS
        )

    def wait_until_loaded(self, timeout: float | None = None) -> None:
        self._loader.join(timeout)

    def close(self) -> None:
        """Before the database closes: stop following the log, let the loader
        hand its connection back, write the API keys' last uses, and finish
        (or hand back) the webhook deliveries in flight."""
        self._stopping.set()
        self.exchange_scheduler.stop()
        if self.deliverer is not None:
            self.deliverer.stop(timeout=self.settings.webhook_timeout_seconds + 5)
        if self.filer is not None:
            self.filer.stop(timeout=self.settings.cybertip_timeout_seconds + 5)
        if self.opinions is not None:
            self.opinions.stop()
        if self.confirmed_sharing is not None:
            self.confirmed_sharing.stop()
        if self.statements is not None:
            self.statements.stop()
        if self.hub_lapse_check is not None:
            self.hub_lapse_check.stop()
        self.imports.close()
        self.wait_until_loaded(timeout=60)
        if self._follower.is_alive():
            self._follower.join(timeout=60)
        self.keys.close(timeout=60)
        self.usage.close(timeout=60)

    @property
    def loading_problem(self) -> str | None:
        """Why matching is not available, or None when it is."""
        if self._matcher is not None:
            return None
        return f"index failed to load: {self._load_error}" if self._load_error else "index loading"

    def matcher(self) -> Matcher:
        """The matcher, current with the change log (503 while it loads).

        If the change log cannot be read, lookups go on with the index as it
        is and ``/status`` reports it stale."""
        matcher = self._matcher
        if matcher is None:
            raise ApiError(503, "index_not_ready", self.loading_problem or "index loading")
        if self._due():
            with self._refresh_lock:
                if self._due():
                    self._refresh(matcher)
        return matcher

    def _refresh(self, matcher: Matcher) -> None:
        commits, requested = self.database.commits, self._requested
        self._refreshed = time.monotonic()  # failing or not: retry after the interval
        try:
            matcher.refresh()
        except Exception as error:  # noqa: BLE001 - reported by /status, not lost
            self.refresh_problem = f"{type(error).__name__}: {error}"
            log.warning("cannot follow the change log: %s", self.refresh_problem)
            return
        self.refresh_problem = None
        self._seen_commits, self._served = commits, requested
        self.current_at = time.time()
        upkeep = self._snapshot_upkeep
        if time.monotonic() - self._snapshot_checked > SNAPSHOT_CHECK_SECONDS and not (
            upkeep and upkeep.is_alive()
        ):
            self._snapshot_checked = time.monotonic()
            self._snapshot_upkeep = threading.Thread(
                target=self._keep_snapshot_shared,
                args=(matcher,),
                name="hashmatch-snapshot",
                daemon=True,
            )
            self._snapshot_upkeep.start()

    def _keep_snapshot_shared(self, matcher: Matcher) -> None:
        """Write a new snapshot when enough changed (one worker does; the
        others find the lock taken), and map the newest one: workers on a host
        then share the index's memory however long they run."""
        try:
            if matcher.snapshot_due:
                matcher.save_snapshot()
            matcher.remap_snapshot()
        except Exception:
            log.exception("index snapshot upkeep failed")

    def staleness(self) -> str | None:
        """Why the loaded index may miss recent changes, or None when it is current."""
        self.matcher()
        if self.refresh_problem is None:
            return None
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.current_at))
        return f"cannot follow the change log ({self.refresh_problem}); current as of {since}"
