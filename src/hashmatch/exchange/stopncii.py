"""StopNCII.org's hash API (JSON): hash records a page at a time.

    hashmatch exchange add stopncii --type stopncii --bank ncii --credentials-env STOPNCII_KEYS

``GET {base}/FetchHashes?startTimestamp=...&pageSize=...[&nextPageToken=...]``
with the headers ``Ocp-Apim-Subscription-Key`` and ``x-functions-key``
answers ``{"count", "hashRecords": [...], "hasMoreRecords", "nextPageToken",
"nextSetTimestamp"}``.  A record is the current state of one hash
(``signalType`` ``ImagePDQ`` or ``VideoMD5``, ``hashValue``, ``hashStatus``,
``caseNumbers``, ``CSPFeedbacks`` with their tags, ``lastModtimestamp``): a
later record of the same hash replaces it, and one ``Withdrawn`` or
``Deleted`` removes it.  The checkpoint keeps the page token with the
window's start while paging, and ``nextSetTimestamp`` once the pages are
exhausted.

Reviewers' opinions go back as CSP feedback: ``POST {base}/SubmitFeedback``
with ``{"count": N, "hashFeedbacks": [{"hashValue", "feedbackValue",
"tags"}]}``, up to :attr:`StopNciiSource.opinion_batch` hashes a POST; a
positive opinion is ``Blocked`` (reviewed, NCII), a negative one
``NotBlocked``, as python-threatexchange reads them back.  The hash is the
one the external id ``<signal type>:<hash>`` names; the signal type is not
sent (the API takes none).  A confirmed hash carries the tags of option
``feedback_tags`` (none by default); a false positive carries none, since
the tags say what the content is.  The service's answer is not documented:
a 2xx means every hash of the POST was taken, another 4xx that the whole
POST was refused.

Every endpoint has its own function key, so the credentials are
``subscription key:fetch function key``, and
``subscription key:fetch function key:feedback function key`` to send
feedback; without the third, feedback is not sent and is retried later
(the credentials can be fixed while it waits).

Why not python-threatexchange's ``StopNCIIAPI``: a development dependency
only, with its own retries, no per-page stall timeout and no address checks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from hashmatch.errors import ExchangeError, HashmatchError, InvalidFieldError
from hashmatch.exchange.base import (
    Checkpoint,
    ExchangeSource,
    Malformed,
    OpinionToSend,
    Option,
    Page,
    PageError,
    Record,
    Sent,
    SourceConfig,
)
from hashmatch.exchange.http import HttpStatusError, PageClient, retry_helps
from hashmatch.signals import get_signal_type

#: StopNCII signal type -> hashmatch signal type.
MATCHED = {"ImagePDQ": "pdq", "VideoMD5": "md5"}
REMOVED_STATUSES = {"Withdrawn", "Deleted"}
#: hashmatch's opinion -> StopNCII's ``feedbackValue``.
FEEDBACK_VALUES = {"positive": "Blocked", "negative": "NotBlocked"}
CREDENTIALS_SHAPE = "subscription_key:fetch_function_key[:feedback_function_key]"
NO_FEEDBACK_KEY = (
    "StopNCII feedback needs the SubmitFeedback endpoint's own function key: "
    "set the credentials to subscription_key:fetch_function_key:feedback_function_key"
)


def feedback_tags(text: str) -> tuple[str, ...]:
    """The tags option ``feedback_tags`` names (comma-separated; empty: none),
    or InvalidFieldError."""
    if not text.strip():
        return ()
    tags = [tag.strip() for tag in text.split(",")]
    if not all(tags):
        raise InvalidFieldError(f"option feedback_tags has an empty tag: {text!r}")
    return tuple(dict.fromkeys(tags))


def hash_value(external_id: str) -> str:
    """The hash an external id ``<signal type>:<hash>`` names, or ValueError."""
    kind, colon, value = external_id.partition(":")
    if not colon or kind not in MATCHED:
        raise ValueError(f"external id {external_id!r} is not StopNCII's <signal type>:<hash>")
    try:
        return get_signal_type(MATCHED[kind]).parse(value)
    except HashmatchError as error:
        raise ValueError(f"external id {external_id!r}: {error}") from None


class StopNciiSource(ExchangeSource):
    name = "stopncii"
    hma_name = "stop_ncii"
    description = "StopNCII.org hashes (PDQ and video MD5), with withdrawn and deleted cases."
    options = (
        Option("base_url", "The API's address.", "https://api.stopncii.org/v1"),
        Option("page_size", "Records asked for per page.", "800"),
        Option("start_timestamp", "Unix time of the first records to fetch.", "10"),
        Option(
            "feedback_tags",
            "Tags sent with the feedback on a confirmed hash (comma-separated; default none).",
            "",
        ),
    )
    credentials_help = CREDENTIALS_SHAPE
    takes_opinions = True
    #: Hashes per SubmitFeedback POST (the API's own limit is not documented).
    opinion_batch = 100

    def __init__(self, config: SourceConfig, http: PageClient) -> None:
        super().__init__(config, http)
        parts = (config.credentials or "").split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise ExchangeError(f"StopNCII credentials must be {CREDENTIALS_SHAPE}")
        subscription, function = parts[0], parts[1]
        self.headers = {"Ocp-Apim-Subscription-Key": subscription, "x-functions-key": function}
        self.feedback_headers = (
            {
                "Ocp-Apim-Subscription-Key": subscription,
                "x-functions-key": parts[2],
                "Content-Type": "application/json",
            }
            if len(parts) == 3
            else None
        )
        try:
            self.tags = feedback_tags(config.option("feedback_tags"))
        except InvalidFieldError as error:
            raise ExchangeError(str(error)) from None

    @classmethod
    def check_options(cls, options: Mapping[str, str]) -> None:
        feedback_tags(options.get("feedback_tags") or "")

    def fetch_page(self, checkpoint: Checkpoint) -> Page:
        start = (checkpoint or {}).get("start") or int(self.config.option("start_timestamp"))
        token = (checkpoint or {}).get("next")
        params: dict[str, Any] = {
            "startTimestamp": start,
            "pageSize": self.config.option("page_size"),
        }
        if token:
            params["nextPageToken"] = token
        url = f"{self.config.option('base_url').rstrip('/')}/FetchHashes?{urlencode(params)}"
        body = self.http.get_json(url, self.headers)
        if not isinstance(body, dict):
            raise PageError("FetchHashes: the page is not a JSON object")
        records, more = body.get("hashRecords"), body.get("hasMoreRecords")
        next_start, next_token = body.get("nextSetTimestamp"), body.get("nextPageToken")
        if (
            not isinstance(records, list)
            or not isinstance(more, bool)
            or (more and not isinstance(next_token, str))
            or (not more and not isinstance(next_start, int))
        ):
            raise PageError("FetchHashes: the page lacks hashRecords, hasMoreRecords or its cursor")
        items = [_record(item) for item in records]
        after = (
            {"start": start, "next": next_token} if more else {"start": next_start, "next": None}
        )
        return Page(items, after, more)

    def send_opinions(self, opinions: Sequence[OpinionToSend]) -> list[Sent]:
        """The opinions as one SubmitFeedback POST; one that names no StopNCII
        hash or says something StopNCII takes no feedback for is refused alone."""
        if self.feedback_headers is None:
            return [Sent(opinion.id, NO_FEEDBACK_KEY, retry=True) for opinion in opinions]
        answers: list[Sent] = []
        batch: list[tuple[OpinionToSend, dict[str, Any]]] = []
        for opinion in opinions:
            try:
                batch.append((opinion, self._feedback(opinion)))
            except ValueError as error:
                answers.append(Sent(opinion.id, str(error), retry=False))
        if batch:
            answers.extend(self._submit(batch))
        return answers

    def _feedback(self, opinion: OpinionToSend) -> dict[str, Any]:
        value = FEEDBACK_VALUES.get(opinion.opinion)
        if value is None:
            raise ValueError(f"StopNCII takes no {opinion.opinion!r} feedback")
        tags = list(self.tags) if opinion.opinion == "positive" else []
        return {"hashValue": hash_value(opinion.external_id), "feedbackValue": value, "tags": tags}

    def _submit(self, batch: Sequence[tuple[OpinionToSend, dict[str, Any]]]) -> list[Sent]:
        feedbacks = [feedback for _, feedback in batch]
        body = json.dumps({"count": len(feedbacks), "hashFeedbacks": feedbacks}).encode()
        url = f"{self.config.option('base_url').rstrip('/')}/SubmitFeedback"
        try:
            self.http.send("POST", url, body, self.feedback_headers)
        except HttpStatusError as error:
            why, retry = self.http.refusal(error), retry_helps(error)
        except ExchangeError as error:  # a stall, a refused connection or address
            why, retry = str(error), True
        else:
            return [Sent(opinion.id) for opinion, _ in batch]
        return [Sent(opinion.id, why, retry=retry) for opinion, _ in batch]


def _record(item: Any) -> Record | Malformed:
    try:
        if not isinstance(item, dict):
            raise ValueError("a record is a JSON object")
        kind, value, status = item["signalType"], item["hashValue"], item["hashStatus"]
        if kind not in MATCHED:
            raise ValueError(f"signal type {kind!r} is not matched on")
        signal_type = MATCHED[kind]
        parsed = get_signal_type(signal_type).parse(str(value))
        external_id = f"{kind}:{parsed}"
        if status in REMOVED_STATUSES:
            return Record(external_id, deleted=True)
        feedback = item.get("CSPFeedbacks") or []
        tags = sorted({str(tag) for entry in feedback for tag in (entry.get("tags") or [])})
        metadata = {
            "stopncii": {
                "status": str(status),
                "case_numbers": dict(item.get("caseNumbers") or {}),
                "tags": tags,
                "last_modified": int(item.get("lastModtimestamp") or 0),
            }
        }
        return Record(external_id, {signal_type: parsed}, [], metadata)
    except (HashmatchError, ValueError, KeyError, TypeError, AttributeError) as error:
        return Malformed(f"StopNCII record: {error}", repr(item))
