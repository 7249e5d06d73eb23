"""Submissions: an upload the platform tells us about, its verdict, and what
the verdict sets going, all written in one transaction.

    submissions = Submissions(database, settings, load_vault(settings))
    done = submissions.submit_hashes(matcher, References("upload-81"), [("pdq", "f8f8...")])
    done.answer  # {"submission_id": 1, "verdict": "block", "matches": [...], "actions": [...]}

The HTTP API (``POST /v1/submissions``) and ``hashmatch submit`` both come
here.  Matching and the rules run before the transaction (the rules and the
banks' kinds are kept in memory, and read again when a one-row query says
either table changed: a rule changed anywhere applies to the next
submission); the
transaction then finds a live submission with the same idempotency key (its
answer is the answer, and nothing else happens), or writes the submission,
its review items and report requests, its outbox events and, where a review
item or report needs them, its bytes, encrypted.  Two submissions racing on
one key: the unique index lets one in, and the other reads its answer.
"""

from __future__ import annotations

import builtins
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hashmatch.actions import outbox
from hashmatch.actions.media_vault import MediaVault
from hashmatch.actions.rule_store import Rules
from hashmatch.actions.rules import (
    Decision,
    RuleSpec,
    content_type_of,
    evaluate,
    history_windows,
)
from hashmatch.actions.user_history import count_user_history
from hashmatch.audit import current_actor
from hashmatch.errors import (
    InvalidFieldError,
    InvalidHashError,
    MediaKeyError,
    SubmissionError,
    UnknownSignalTypeError,
    UnknownSubmissionError,
)
from hashmatch.fieldlimits import MAX_ID, check_json, check_text
from hashmatch.hashing import FileHashes
from hashmatch.review.queues import due_times
from hashmatch.signals import is_text_search, parse_query
from hashmatch.statements.build import record_verdict
from hashmatch.store import Bank, Database
from hashmatch.store.ids import reserve_ids
from hashmatch.store.models import as_utc, utcnow
from hashmatch.store.workflow import KeptMedia, ReportRequest, ReviewItem, Submission

if TYPE_CHECKING:
    from hashmatch.matching import Matcher
    from hashmatch.settings import Settings

#: What changes whenever a rule or a bank is created, changed or deleted
#: (every change sets ``updated_at``).
_POLICY_FINGERPRINT = text(
    "SELECT (SELECT COUNT(*) FROM rules), (SELECT MAX(updated_at) FROM rules), "
    "(SELECT COUNT(*) FROM banks), (SELECT MAX(updated_at) FROM banks)"
)
#: Widths of the columns the platform's references go into.
REF_CHARS = 200
URL_CHARS = 4096
FILENAME_CHARS = 300
SUBMISSIONS = cast(Table, Submission.__table__)
REVIEW_ITEMS = cast(Table, ReviewItem.__table__)
REPORT_REQUESTS = cast(Table, ReportRequest.__table__)
#: What each action's entry in the answer says happened.
STATUS_OF = {"block": "applied", "review": "queued", "report": "pending", "webhook": "pending"}


@dataclass(frozen=True)
class References:
    """What the platform tells about an upload; ``keep_media`` None: the setting."""

    content_ref: str
    user_ref: str | None = None
    uploaded_at: datetime | None = None
    content_url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    keep_media: bool | None = None

    @property
    def dedupe_key(self) -> str:
        if self.idempotency_key is not None:
            return f"key:{self.idempotency_key}"
        return f"ref:{self.content_ref}"


@dataclass(frozen=True)
class Submitted:
    """The answer, and whether it is an earlier submission's (nothing was done)."""

    answer: dict[str, Any]
    replayed: bool


@dataclass(frozen=True)
class KeptFile:
    data: bytes
    filename: str | None


@dataclass(frozen=True)
class MediaSource:
    """Where a submission's bytes are, read only when they are kept, and the
    name it came with (kept with them)."""

    path: Path
    filename: str | None

    def read(self) -> KeptFile:
        return KeptFile(self.path.read_bytes(), self.filename)


def parse_moment(name: str, text: str) -> datetime:
    """An RFC 3339 date and time, with its offset; SubmissionError naming ``name``."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise SubmissionError(f"{name} must be an RFC 3339 date and time with an offset")
    return moment


def _check_references(refs: References, settings: Settings) -> None:
    """InvalidFieldError or SubmissionError naming the field that cannot be stored."""
    if not refs.content_ref:
        raise SubmissionError("content_ref is required: the platform's id for the upload")
    check_text("content_ref", refs.content_ref, max_chars=REF_CHARS, one_line=True)
    if refs.user_ref is not None:
        check_text("user_ref", refs.user_ref, max_chars=REF_CHARS, one_line=True)
    if refs.content_url is not None:
        check_text("content_url", refs.content_url, max_chars=URL_CHARS, one_line=True)
    if refs.idempotency_key is not None:
        if not refs.idempotency_key:
            raise SubmissionError("Idempotency-Key must not be empty")
        check_text("Idempotency-Key", refs.idempotency_key, max_chars=REF_CHARS, one_line=True)
    if not isinstance(refs.metadata, dict):
        raise SubmissionError("metadata must be a JSON object")
    check_json("metadata", refs.metadata)
    size = len(json.dumps(refs.metadata, ensure_ascii=False, separators=(",", ":")).encode())
    if size > settings.submission_metadata_bytes:
        raise InvalidFieldError(
            f"metadata is {size} bytes as JSON; at most {settings.submission_metadata_bytes}"
        )


def signals_of(result: FileHashes) -> dict[str, list[str]]:
    """A hashed file's signals as a submission keeps them: type -> values
    (a video type's sampled frames, in order)."""
    signals = {name: [value] for name, value in result.signals.items()}
    for name, frames in result.frames.items():
        signals[name] = [frame.hash for frame in frames]
    return signals


def parsed_signals(
    hashes: Sequence[tuple[str, str]], fields: Sequence[str] = ()
) -> dict[str, list[str]]:
    """(signal type, value) pairs parsed: type -> distinct values, in order
    (SubmissionError naming a bad one by its field in ``fields``, where
    given, else as ``signals[i]``)."""
    signals: dict[str, list[str]] = {}
    for index, (kind, value) in enumerate(hashes):
        try:
            parsed = parse_query(kind, value)
        except (InvalidHashError, UnknownSignalTypeError) as error:
            field = fields[index] if index < len(fields) else f"signals[{index}]"
            raise SubmissionError(f"{field}: {error}") from None
        values = signals.setdefault(kind, [])
        if parsed not in values:
            values.append(parsed)
    return signals


def answer_of(row: Submission) -> dict[str, Any]:
    """The answer a submission was given (the contract of POST /v1/submissions)."""
    return {
        "submission_id": row.id,
        "verdict": row.verdict,
        "matches": row.matches,
        "actions": row.actions,
    }


def record_of(row: Submission, kept: KeptMedia | None) -> dict[str, Any]:
    """All a submission holds, for GET /v1/submissions/{id} and ``submissions show``."""
    return {
        **answer_of(row),
        "content_ref": row.content_ref,
        "user_ref": row.user_ref,
        "uploaded_at": as_utc(row.uploaded_at).isoformat() if row.uploaded_at else None,
        "content_url": row.content_url,
        "metadata": row.extra,
        "content_type": row.content_type,
        "signals": row.signals,
        "actor": row.actor,
        "created_at": as_utc(row.created_at).isoformat(),
        "kept_media": {"size": kept.size, "filename": kept.filename} if kept else None,
    }


class Submissions:
    """Takes submissions and answers them; reads them back."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        vault: MediaVault | None,
    ) -> None:
        if settings.keep_media and vault is None:
            raise MediaKeyError("keep_media is on but no media key was loaded")
        self.database = database
        self.settings = settings
        self.vault = vault
        self.rules = Rules(database)
        self._policy: tuple[tuple[Any, ...], list[RuleSpec], dict[str, str]] | None = None
        self._policy_lock = threading.Lock()

    @property
    def window(self) -> timedelta:
        """How long a content_ref or Idempotency-Key finds its first answer."""
        return timedelta(hours=self.settings.submission_dedupe_hours)

    # -- taking submissions --------------------------------------------------------

    def submit_hashes(
        self,
        matcher: Matcher,
        refs: References,
        hashes: Sequence[tuple[str, str]],
        *,
        fields: Sequence[str] = (),
    ) -> Submitted:
        """A submission given as (signal type, hash) pairs, parsed here
        (SubmissionError naming a bad one: by its field in ``fields``, where
        given, else as ``signals[i]``).  A keyword type's value is a text (a
        message, a caption): it is searched for banked phrases, and not kept
        with the submission (its matches say what it held)."""
        if not hashes:
            raise SubmissionError("signals: give at least one {signal_type, signal}")
        signals = parsed_signals(hashes, fields)
        matches = [match.to_json() for match in matcher.match_hashes(signals)]
        kept = {kind: values for kind, values in signals.items() if not is_text_search(kind)}
        return self.submit(refs, content_type_of(kept), kept, matches)

    def submit_file(
        self,
        matcher: Matcher,
        refs: References,
        result: FileHashes,
        path: Path,
        filename: str,
        *,
        given: Sequence[tuple[str, str]] = (),
        fields: Sequence[str] = (),
    ) -> Submitted:
        """A submission of a hashed file (``result`` from ``hash_file`` with
        ``dihedral``); its bytes are read from ``path`` if they are kept.
        ``given`` adds signals beside the file's (the uploader's accounts,
        say), parsed and kept as :meth:`submit_hashes` does."""
        if result.error is not None:
            raise SubmissionError(result.error)
        extra = parsed_signals(given, fields)
        matches = [match.to_json() for match in matcher.match_result(result)]
        if extra:
            matches += [match.to_json() for match in matcher.match_hashes(extra)]
        signals = signals_of(result)
        signals.update((k, v) for k, v in extra.items() if not is_text_search(k))
        media = MediaSource(path, _storable_name(filename))
        return self.submit(refs, content_type_of(signals), signals, matches, media)

    def submit(
        self,
        refs: References,
        content_type: str,
        signals: dict[str, list[str]],
        matches: list[dict[str, Any]],
        media: MediaSource | None = None,
    ) -> Submitted:
        """Decide, then write it all in one transaction, or find the first
        answer for its idempotency key (racing submissions included)."""
        _check_references(refs, self.settings)
        keep = self.settings.keep_media if refs.keep_media is None else refs.keep_media
        if keep and media is not None and self.vault is None:
            raise SubmissionError(
                "keep_media: no media key is configured (media_key_file or media_key_command)"
            )
        rules, kinds = self._rules_and_kinds()
        # Read before the transaction, as the rules are: a submission of the
        # same user that has not committed yet is not counted (docs/rules.md).
        windows = history_windows(rules)
        counts = (
            count_user_history(self.database, refs.user_ref, windows, now=utcnow())
            if windows and refs.user_ref is not None
            else None
        )
        decision = evaluate(
            rules, matches, content_type=content_type, bank_kinds=kinds, user_counts=counts
        )
        needs_media = any(a.action.action in ("review", "report") for a in decision.actions)
        kept = (
            (self.vault, media.read())
            if keep and media is not None and needs_media and self.vault is not None
            else None
        )
        draft = _Draft(refs, content_type, signals, matches, decision, kept)
        try:
            done = self._write(draft)
        except IntegrityError:
            earlier = self._live(refs.dedupe_key)
            if earlier is None:
                raise
            return Submitted(earlier, replayed=True)
        if not done.replayed:
            outbox.wake_deliverers()
        return done

    def _write(self, draft: _Draft) -> Submitted:
        refs = draft.refs
        now = utcnow()
        with self.database.transaction() as session:
            earlier = session.scalar(
                select(Submission).where(Submission.dedupe_key == refs.dedupe_key)
            )
            if earlier is not None:
                if as_utc(earlier.created_at) > now - self.window:
                    return Submitted(answer_of(earlier), replayed=True)
                earlier.dedupe_key = None  # its window passed: the key is free again
                session.flush()
            # Core statements, not the ORM: this transaction holds the write
            # lock, and every submission waits for the ones before it.
            actions = [
                {**fired.to_json(), "status": STATUS_OF[fired.action.action]}
                for fired in draft.decision.actions
            ]
            [submission_id] = reserve_ids(session.connection(), SUBMISSIONS, 1)
            session.execute(
                insert(SUBMISSIONS).values(
                    id=submission_id,
                    content_ref=refs.content_ref,
                    dedupe_key=refs.dedupe_key,
                    user_ref=refs.user_ref,
                    uploaded_at=refs.uploaded_at,
                    content_url=refs.content_url,
                    metadata=refs.metadata,
                    content_type=draft.content_type,
                    signals=draft.signals,
                    matches=draft.matches,
                    verdict=draft.decision.verdict,
                    actions=actions,
                    actor=current_actor().name,
                    created_at=now,
                )  # the unique index decides a race here
            )
            _queue_follow_ups(
                session, submission_id, draft.decision, now, self.settings.review_sla_minutes
            )
            answer = {
                "submission_id": submission_id,
                "verdict": draft.decision.verdict,
                "matches": draft.matches,
                "actions": actions,
            }
            _announce(session, answer, refs, draft.decision)
            record_verdict(
                session,
                self.settings,
                submission_id=submission_id,
                content_type=draft.content_type,
                uploaded_at=refs.uploaded_at,
                matches=draft.matches,
                decision=draft.decision,
                now=now,
            )
            if draft.kept is not None:
                vault, kept = draft.kept
                nonce, ciphertext = vault.encrypt(kept.data, submission_id=submission_id)
                session.add(
                    KeptMedia(
                        submission_id=submission_id,
                        key_id=vault.key_id,
                        nonce=nonce,
                        ciphertext=ciphertext,
                        size=len(kept.data),
                        filename=kept.filename,
                    )
                )
            return Submitted(answer, replayed=False)

    def _live(self, dedupe_key: str) -> dict[str, Any] | None:
        """The answer of the submission holding ``dedupe_key``, if any."""
        with self.database.reading() as session:
            row = session.scalar(select(Submission).where(Submission.dedupe_key == dedupe_key))
            return answer_of(row) if row is not None else None

    def _rules_and_kinds(self) -> tuple[list[RuleSpec], dict[str, str]]:
        """The enabled rules and each bank's kind, read again only when the
        rules or banks tables changed (one small query per submission)."""
        with self.database.single_statement() as connection:
            fingerprint = tuple(connection.execute(_POLICY_FINGERPRINT).one())
        with self._policy_lock:
            cached = self._policy
            if cached is not None and cached[0] == fingerprint:
                return cached[1], cached[2]
            rules = self.rules.enabled()
            with self.database.reading() as session:
                kinds = dict(session.execute(select(Bank.name, Bank.kind)).all())
            self._policy = (fingerprint, rules, kinds)
            return rules, kinds

    # -- reading them back ---------------------------------------------------------

    def get(self, submission_id: int) -> dict[str, Any]:
        """A submission's record; UnknownSubmissionError if there is none."""
        with self.database.reading() as session:
            row = session.get(Submission, submission_id) if 0 < submission_id <= MAX_ID else None
            if row is None:
                raise UnknownSubmissionError(submission_id)
            kept = session.scalar(select(KeptMedia).where(KeptMedia.submission_id == row.id))
            return record_of(row, kept)

    def list(
        self,
        *,
        content_ref: str | None = None,
        user_ref: str | None = None,
        verdict: str | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> builtins.list[dict[str, Any]]:
        """Submissions, newest first; ``before``: ids below this one (the next page)."""
        query = select(Submission, KeptMedia).outerjoin(
            KeptMedia, KeptMedia.submission_id == Submission.id
        )
        for column, value in (
            (Submission.content_ref, content_ref),
            (Submission.user_ref, user_ref),
            (Submission.verdict, verdict),
        ):
            if value is not None:
                query = query.where(column == value)
        if before is not None:
            query = query.where(Submission.id < before)
        with self.database.reading() as session:
            rows = session.execute(query.order_by(Submission.id.desc()).limit(limit))
            return [record_of(row, kept) for row, kept in rows]

    def media(self, submission_id: int) -> KeptFile:
        """A submission's kept bytes, decrypted in memory."""
        if self.vault is None:
            raise MediaKeyError("no media key is configured (media_key_file or media_key_command)")
        with self.database.reading() as session:
            kept = session.scalar(select(KeptMedia).where(KeptMedia.submission_id == submission_id))
            if kept is None:
                if session.get(Submission, submission_id) is None:
                    raise UnknownSubmissionError(submission_id)
                raise SubmissionError(f"submission {submission_id} has no kept media")
            data = self.vault.decrypt(
                kept.nonce, kept.ciphertext, submission_id=submission_id, key_id=kept.key_id
            )
            return KeptFile(data, kept.filename)


@dataclass(frozen=True)
class _Draft:
    """A decided submission, ready to be written."""

    refs: References
    content_type: str
    signals: dict[str, list[str]]
    matches: list[dict[str, Any]]
    decision: Decision
    #: The bytes to keep, and the vault that encrypts them (None: nothing kept).
    kept: tuple[MediaVault, KeptFile] | None


def _storable_name(filename: str) -> str | None:
    """An upload's name as a column takes it: printable characters only (no
    NUL, no lone surrogate), at most ``FILENAME_CHARS``."""
    return "".join(char for char in filename if char.isprintable())[:FILENAME_CHARS] or None


def _queue_follow_ups(
    session: Session, submission_id: int, decision: Decision, now: datetime, sla_minutes: int
) -> None:
    """The review items (due by their queue's SLA, ``sla_minutes`` where the
    queue has none of its own) and report requests the fired actions ask for."""
    asked = [fired for fired in decision.actions if fired.action.action == "review"]
    due = due_times(session, (f.action.queue for f in asked), now, sla_minutes) if asked else {}
    reviews = [
        {
            "submission_id": submission_id,
            "queue": fired.action.queue,
            "priority": fired.action.priority,
            "status": "open",
            "rule": fired.rule,
            "created_at": now,
            "due_at": due[fired.action.queue],
            "follow_ups": fired.action.follow_ups(),
        }
        for fired in asked
    ]
    reports = [
        {"submission_id": submission_id, "rule": fired.rule, "status": "pending", "created_at": now}
        for fired in decision.actions
        if fired.action.action == "report"
    ]
    connection = session.connection()
    for table, rows in ((REVIEW_ITEMS, reviews), (REPORT_REQUESTS, reports)):
        if rows:
            fresh = reserve_ids(connection, table, len(rows))
            session.execute(
                insert(table), [{**row, "id": id_} for row, id_ in zip(rows, fresh, strict=True)]
            )


def _announce(
    session: Session, answer: dict[str, Any], refs: References, decision: Decision
) -> None:
    """The outbox events: ``submission.verdict`` always, ``submission.matched``
    when a match was not suppressed.  Webhooks that fired rules name get the
    matched event (the verdict event when there is none)."""
    named = tuple(a.action.webhook for a in decision.actions if a.action.webhook is not None)
    data = {
        **answer,
        "content_ref": refs.content_ref,
        "user_ref": refs.user_ref,
        "fired_rules": list(decision.fired_rules),
    }
    matched = _any_unsuppressed(answer["matches"])
    events = [outbox.Announcement("submission.verdict", data, () if matched else named)]
    if matched:
        events.append(outbox.Announcement("submission.matched", data, named))
    outbox.enqueue_many(session, events, submission_id=answer["submission_id"])


def _any_unsuppressed(matches: Iterable[Mapping[str, Any]]) -> bool:
    return any(not match.get("suppressed") for match in matches)
