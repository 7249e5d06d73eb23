"""Sending statements of reasons to the DSA Transparency Database: leased,
a batch at a time, each answer stored; at least once.

    sender = StatementSender.from_settings(database, settings)
    counts = sender.run_once()   # {"sent": 100, "retrying": 0, "failed": 1}

A round claims due pending statements (never tried or past their retry
wait, not leased to a live sender; ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, the write lock on SQLite), posts them ``BATCH`` at a time to
``POST /api/v1/statements`` with the token as a Bearer token, and settles
each, only where the row is still leased to this sender:

* 201: ``sent``, with the uuid (and id) the API gave it;
* 422: the statements the API named are ``failed`` with their field
  errors kept; the others in the batch were not created either (the API
  takes a batch whole or not at all) and are due again at once, tries
  unchanged.  A puid the API already holds is ``sent``: an earlier try
  got through but was not settled here;
* 429, 5xx, a timeout or no connection: tried again after a doubling wait
  (``Retries``), ``failed`` after ``dsa_max_attempts``;
* any other 4xx (a wrong token: 401): ``failed`` with the API's message.

The token is only ever put in the request's header: no error, log line or
stored answer carries it.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from hashmatch import audit
from hashmatch.actions.outbox import Retries
from hashmatch.rounds import Rounds, holder_name
from hashmatch.settings import Settings
from hashmatch.store import Database
from hashmatch.store.models import utcnow
from hashmatch.store.statement_models import Statement

log = logging.getLogger("hashmatch.statements")
#: The API takes at most 100 statements a call.
BATCH = 100
CLAIM_LIMIT = 500
LEASE = timedelta(minutes=5)
POLL_SECONDS = 10.0
BACKOFF_MAX_SECONDS = 6 * 3600.0
ERROR_CHARS = 2000
OUTCOMES = ("sent", "retrying", "failed", "again")
PATH = "/api/v1/statements"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as the error it is: following one would carry
    the token to wherever it points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


@dataclass(frozen=True)
class Claimed:
    id: int
    body: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Settled:
    """What a round decided for one statement; ``again``: due at once, tries unchanged."""

    statement_id: int
    outcome: str
    error: str | None = None
    response: dict[str, Any] | None = None


@dataclass(frozen=True)
class Answer:
    """The API's answer to one call: a status (0: none came) and its JSON."""

    status: int
    body: Any
    error: str = ""


class StatementSender:
    """Sends one database's pending statements of reasons."""

    def __init__(
        self,
        database: Database,
        url: str,
        token: str,
        retries: Retries,
        *,
        timeout: float = 30.0,
        name: str | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        self.database = database
        self.endpoint = url.rstrip("/") + PATH
        self._token = token
        self.retries = retries
        self.timeout = timeout
        self.name = name or holder_name()
        self.lease = lease

    @classmethod
    def from_settings(cls, database: Database, settings: Settings) -> StatementSender:
        retries = Retries(
            settings.dsa_max_attempts, settings.dsa_backoff_seconds, BACKOFF_MAX_SECONDS
        )
        return cls(
            database,
            settings.dsa_api_url,
            settings.dsa_api_token.get_secret_value(),
            retries,
            timeout=settings.dsa_timeout_seconds,
        )

    def __repr__(self) -> str:  # never the token
        return f"StatementSender({self.endpoint!r}, name={self.name!r})"

    def run_once(self, *, limit: int = CLAIM_LIMIT) -> dict[str, int]:
        """One round: claim, send in batches, settle; the counts."""
        claimed = self.claim(limit=limit)
        counts = dict.fromkeys(OUTCOMES, 0)
        for start in range(0, len(claimed), BATCH):
            batch = claimed[start : start + BATCH]
            for outcome, written in self.settle(batch, self.send(batch)).items():
                counts[outcome] += written
        return counts if claimed else {}

    def claim(self, *, limit: int) -> list[Claimed]:
        """Lease up to ``limit`` due pending statements to this sender."""
        now = utcnow()
        with self.database.transaction() as session:
            query = (
                select(Statement.id, Statement.body, Statement.attempts)
                .where(_due(now))
                .order_by(Statement.id)
                .limit(limit)
            )
            if self.database.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = session.execute(query).all()
            if rows:
                session.execute(
                    update(Statement)
                    .where(Statement.id.in_([row.id for row in rows]))
                    .values(leased_by=self.name, leased_until=now + self.lease)
                )
        return [Claimed(int(row.id), dict(row.body), int(row.attempts)) for row in rows]

    # -- sending ---------------------------------------------------------------

    def post(self, statements: Sequence[dict[str, Any]]) -> Answer:
        """One call to the API (never raises)."""
        request = urllib.request.Request(
            self.endpoint,
            data=json.dumps({"statements": list(statements)}).encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {self._token}",
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
        )
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                return Answer(response.status, _json(response.read()))
        except urllib.error.HTTPError as error:
            return Answer(error.code, _json(error.read()), f"HTTP {error.code}")
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            return Answer(0, None, f"no answer from the API: {type(reason).__name__}: {reason}")

    def send(self, batch: Sequence[Claimed]) -> list[Settled]:
        answer = self.post([item.body for item in batch])
        if answer.status in (200, 201):
            return _created(batch, answer.body)
        if answer.status == 422 and isinstance(answer.body, dict):
            return self._refused(batch, answer.body)
        if answer.status == 0 or answer.status == 429 or answer.status >= 500:
            why = answer.error if answer.status == 0 else f"{answer.error}: {_message(answer.body)}"
            return [self._retry_or_fail(item, why) for item in batch]
        why = f"the API refused the batch ({answer.error}): {_message(answer.body)}"
        return [Settled(item.id, "failed", why, _kept(answer.body)) for item in batch]

    def _retry_or_fail(self, item: Claimed, why: str) -> Settled:
        if item.attempts + 1 < self.retries.max_attempts:
            return Settled(item.id, "retrying", why)
        return Settled(item.id, "failed", f"{why} (after {item.attempts + 1} tries)")

    def _refused(self, batch: Sequence[Claimed], body: dict[str, Any]) -> list[Settled]:
        found = body.get("errors")
        errors: dict[str, Any] = found if isinstance(found, dict) else {}
        indexed = any(str(key).startswith("statement_") for key in errors)
        owns = [
            errors.get(f"statement_{index}") if indexed else errors for index in range(len(batch))
        ]
        if not any(isinstance(own, dict) and own for own in owns):
            # Nothing to pin on one statement: all of them, with the message.
            why = f"the API refused the batch (HTTP 422): {_message(body)}"
            return [Settled(item.id, "failed", why, _kept(body)) for item in batch]
        settled = []
        for item, own in zip(batch, owns, strict=True):
            if not isinstance(own, dict) or not own:
                settled.append(Settled(item.id, "again"))
            elif _only_known_puid(own):
                settled.append(
                    Settled(item.id, "sent", None, {"already_held": True, "errors": own})
                )
            else:
                why = "; ".join(f"{field}: {_said(said)}" for field, said in own.items())
                settled.append(
                    Settled(item.id, "failed", f"the API refused it: {why}", {"errors": own})
                )
        return settled

    # -- settling --------------------------------------------------------------

    def settle(self, batch: Sequence[Claimed], settled: Sequence[Settled]) -> dict[str, int]:
        """Write the outcomes, for rows still leased to this sender; the counts."""
        now = utcnow()
        attempts = {item.id: item.attempts for item in batch}
        counts = dict.fromkeys(OUTCOMES, 0)
        with self.database.transaction() as session:
            for outcome in settled:
                values: dict[str, Any] = {"leased_by": None, "leased_until": None}
                tries = attempts[outcome.statement_id]
                if outcome.outcome != "again":
                    values["attempts"] = tries + 1
                    values["last_error"] = (outcome.error or "")[:ERROR_CHARS] or None
                    values["response"] = outcome.response
                if outcome.outcome == "sent":
                    values.update(status="sent", sent_at=now)
                elif outcome.outcome == "failed":
                    values["status"] = "failed"
                elif outcome.outcome == "retrying":
                    values["next_attempt_at"] = now + timedelta(
                        seconds=self.retries.delay(tries + 1)
                    )
                result = session.execute(
                    update(Statement)
                    .where(
                        and_(Statement.id == outcome.statement_id, Statement.leased_by == self.name)
                    )
                    .values(**values)
                )
                counts[outcome.outcome] += int(result.rowcount)  # type: ignore[attr-defined]
            if any(counts.values()):
                audit.record(session, "statements.send", "dsa", after=counts, actor=audit.SYSTEM)
        for outcome in settled:
            if outcome.outcome == "failed":
                log.warning("statement %d not sent: %s", outcome.statement_id, outcome.error)
        return counts


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None


def _message(body: Any) -> str:
    message = body.get("message") if isinstance(body, dict) else None
    return message[:500] if isinstance(message, str) else "no message"


def _said(said: Any) -> str:
    return " ".join(map(str, said)) if isinstance(said, list) else str(said)


def _kept(body: Any) -> dict[str, Any] | None:
    return {"message": _message(body)} if body is not None else None


def _only_known_puid(errors: dict[str, Any]) -> bool:
    return set(errors) == {"puid"} and "not unique" in _said(errors["puid"])


def _created(batch: Sequence[Claimed], body: Any) -> list[Settled]:
    made = body.get("statements") if isinstance(body, dict) else None
    by_puid = {
        str(row.get("puid")): row for row in made or [] if isinstance(row, dict) and row.get("puid")
    }
    settled = []
    for index, item in enumerate(batch):
        row = by_puid.get(str(item.body.get("puid")))
        if row is None and made and index < len(made) and isinstance(made[index], dict):
            row = made[index]
        kept = {key: row.get(key) for key in ("uuid", "id", "permalink") if row and key in row}
        settled.append(Settled(item.id, "sent", None, kept or None))
    return settled


def _due(now: datetime) -> Any:
    return and_(
        Statement.status == "pending",
        or_(Statement.next_attempt_at.is_(None), Statement.next_attempt_at <= now),
        or_(Statement.leased_until.is_(None), Statement.leased_until < now),
    )


def statement_sending(database: Database, settings: Settings) -> Rounds | None:
    """The background sender ``serve`` (with ``deliver_in_serve``) and
    ``worker`` run when ``dsa_statements_enabled`` is on (None when off)."""
    if not settings.dsa_statements_enabled:
        return None
    sender = StatementSender.from_settings(database, settings)
    return Rounds(
        sender.run_once,
        name="hashmatch-statements",
        what="sending statements of reasons",
        poll_seconds=POLL_SECONDS,
    )
