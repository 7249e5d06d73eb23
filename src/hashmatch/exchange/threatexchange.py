"""Meta's ThreatExchange: the threat updates of a privacy group (Graph API, JSON).

    hashmatch exchange add te --type threatexchange --bank te \\
        --option privacy_group=1234567890 --credentials-env TX_ACCESS_TOKEN

``GET {base}/{privacy group}/threat_updates/?access_token=...&start_time=
&stop_time=&limit=&fields=...`` answers ``{"data": [...], "paging": {"next":
<url>}}``; an update is the current state of one indicator (``id``,
``indicator``, ``type``, ``last_updated``, ``should_delete``, and its
``descriptors``: owner, tags, expiry).  An update with ``should_delete``, or
whose descriptors are all gone or expired, removes the content.  The
checkpoint keeps the window and the next page's URL *without* the access
token, which is added at each request (so the token is never stored).
``HASH_PDQ`` is matched as ``pdq``, ``HASH_MD5`` and ``HASH_VIDEO_MD5`` as
``md5``; the tags and owners are the content's source metadata.

Reviewers' opinions go back as reactions, which ThreatExchange keeps on
ThreatDescriptors (one member's say on an indicator), not on the hash: an
opinion's external id is the indicator's id, whose descriptors ``GET
{base}/{indicator}?fields=descriptors{id,owner{id}}`` lists, and every
descriptor another app owns gets ``POST {base}/{descriptor}?reactions=
...`` (an app cannot react to its own; its id is the token's part before
``|``), answered ``{"success": true}``.  A positive opinion sends option
``positive_reactions`` (``SAW_THIS_TOO,HELPFUL``), a negative one
``negative_reactions`` (``NOT_HELPFUL``), names from the documented
reaction types.  An indicator only this app describes has nothing to react
to: its opinion is sent with no request.  A reaction given twice is the
same reaction, so an opinion half sent is sent whole again.  Once a request
fails in a way that may pass (a stall, a 5xx, rejected credentials), the
rest of the batch is left for later without asking.

Why not python-threatexchange's ``ThreatExchangeAPI``: a development
dependency only, with its own retries and no per-page stall timeout or
address checks; its field list and paging are followed here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

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
from hashmatch.net import excerpt
from hashmatch.signals import get_signal_type

MATCHED = {"HASH_PDQ": "pdq", "HASH_MD5": "md5", "HASH_VIDEO_MD5": "md5"}
FIELDS = "id,indicator,type,last_updated,should_delete,descriptors{owner{id,name},tags,expire_time}"
DESCRIPTOR_FIELDS = "descriptors{id,owner{id}}"
#: The reaction types ThreatExchange documents (docs/research/exchange-feedback.md, section 3).
REACTIONS = frozenset(
    {
        "SAW_THIS_TOO",
        "NON_MALICIOUS",
        "DISAGREE_WITH_TAGS",
        "HELPFUL",
        "NOT_HELPFUL",
        "OUTDATED",
        "WANT_MORE_INFO",
        "INGESTED",
        "ALREADY_KNOWN",
        "IN_REVIEW",
        "REVIEWED",
    }
)
#: The option naming the reactions each opinion sends.
REACTION_OPTIONS = {"positive": "positive_reactions", "negative": "negative_reactions"}


def reactions(option: str, text: str) -> str:
    """Option ``option``'s reactions as the ``reactions`` parameter takes
    them (comma-separated, in order, once each), or InvalidFieldError."""
    names = [name.strip() for name in text.split(",")]
    unknown = [name for name in names if name not in REACTIONS]
    if unknown or not text.strip():
        raise InvalidFieldError(
            f"option {option} must be reaction types separated by commas, "
            f"of {', '.join(sorted(REACTIONS))}; not {text!r}"
        )
    return ",".join(dict.fromkeys(names))


def without_token(url: str) -> str:
    """``url`` without its ``access_token`` parameter."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query) if key != "access_token"]
    return urlunsplit(parts._replace(query=urlencode(query)))


def with_token(url: str, token: str) -> str:
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query), ("access_token", token)])
    return urlunsplit(parts._replace(query=query))


class ThreatExchangeSource(ExchangeSource):
    name = "threatexchange"
    hma_name = "fb_threatexchange"
    description = "Meta ThreatExchange threat updates of a privacy group (PDQ, MD5, video MD5)."
    options = (
        Option("privacy_group", "The privacy group's id.", required=True),
        Option("base_url", "The Graph API's address.", "https://graph.facebook.com/v26.0"),
        Option("page_size", "Updates asked for per page.", "1000"),
        Option("start_time", "Unix time of the first updates to fetch.", "0"),
        Option(
            "positive_reactions",
            "Reactions to other apps' descriptors of a confirmed match (comma-separated).",
            "SAW_THIS_TOO,HELPFUL",
        ),
        Option(
            "negative_reactions",
            "Reactions to other apps' descriptors of a false positive (comma-separated).",
            "NOT_HELPFUL",
        ),
    )
    credentials_help = "an access token (app id|secret)"
    takes_opinions = True
    #: Each opinion is a descriptor lookup and a reaction per other app's descriptor.
    opinion_batch = 50

    def __init__(self, config: SourceConfig, http: PageClient) -> None:
        super().__init__(config, http)
        try:
            self.reactions = {
                opinion: reactions(option, config.option(option))
                for opinion, option in REACTION_OPTIONS.items()
            }
        except InvalidFieldError as error:
            raise ExchangeError(str(error)) from None

    @classmethod
    def check_options(cls, options: Mapping[str, str]) -> None:
        for option in REACTION_OPTIONS.values():
            if option in options:
                reactions(option, options[option])

    def fetch_page(self, checkpoint: Checkpoint) -> Page:
        now = int(time.time())
        if checkpoint is not None and checkpoint.get("next"):
            window = {"start": checkpoint["start"], "stop": checkpoint["stop"]}
            url = str(checkpoint["next"])
        else:
            start = checkpoint["stop"] if checkpoint else int(self.config.option("start_time"))
            if start >= now:
                return Page([], checkpoint, more=False)
            window = {"start": start, "stop": now}
            group = quote(self.config.option("privacy_group"), safe="")
            params = {
                "start_time": start,
                "stop_time": now,
                "limit": self.config.option("page_size"),
                "fields": FIELDS,
            }
            base = self.config.option("base_url").rstrip("/")
            url = f"{base}/{group}/threat_updates/?{urlencode(params)}"
        body = self.http.get_json(with_token(url, self.config.credentials or ""))
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise PageError("threat_updates: the page has no data list")
        paging = body.get("paging") or {}
        following = paging.get("next") if isinstance(paging, dict) else None
        next_url = without_token(following) if isinstance(following, str) and following else None
        items = [_update(item, now) for item in data]
        return Page(items, {**window, "next": next_url}, more=next_url is not None)

    def send_opinions(self, opinions: Sequence[OpinionToSend]) -> list[Sent]:
        """Each opinion's reactions; after a failure that may pass, the rest
        are left for later (the service is likely down for them too)."""
        answers: list[Sent] = []
        for opinion in opinions:
            answer = self._send_opinion(opinion)
            answers.append(answer)
            if answer.error is not None and answer.retry:
                why = f"not tried: an earlier opinion of the batch failed ({answer.error})"
                answers.extend(Sent(o.id, why) for o in opinions[len(answers) :])
                break
        return answers

    def _send_opinion(self, opinion: OpinionToSend) -> Sent:
        token = self.config.credentials or ""
        app_id, bar, _ = token.partition("|")
        if not (bar and app_id):
            why = "ThreatExchange reactions need an app access token (app id|secret)"
            return Sent(opinion.id, why, retry=True)
        chosen = self.reactions.get(opinion.opinion)
        if chosen is None or not opinion.external_id:
            why = f"ThreatExchange takes no {opinion.opinion!r} opinion on {opinion.external_id!r}"
            return Sent(opinion.id, why, retry=False)
        base = self.config.option("base_url").rstrip("/")
        try:
            for descriptor in self._descriptors(base, opinion.external_id, token):
                if descriptor.owner == app_id:
                    continue
                refused = self._react(base, descriptor.id, chosen, token)
                if refused is not None:
                    why = f"indicator {opinion.external_id}: {refused}"
                    return Sent(opinion.id, why, retry=False)
        except HttpStatusError as error:
            why = f"indicator {opinion.external_id}: {self.http.refusal(error)}"
            return Sent(opinion.id, why, retry=retry_helps(error))
        except ExchangeError as error:  # a stall, a refused connection, an unreadable answer
            return Sent(opinion.id, f"indicator {opinion.external_id}: {error}", retry=True)
        return Sent(opinion.id)

    def _descriptors(self, base: str, indicator: str, token: str) -> list[_Descriptor]:
        """The indicator's descriptors (Graph leaves out an edge with none)."""
        query = urlencode({"fields": DESCRIPTOR_FIELDS})
        body = self.http.get_json(with_token(f"{base}/{quote(indicator, safe='')}?{query}", token))
        edge = body.get("descriptors", {}) if isinstance(body, dict) else None
        data = edge.get("data", []) if isinstance(edge, dict) else None
        try:
            if not isinstance(data, list):
                raise TypeError("no descriptors data list")
            return [_Descriptor(str(d["id"]), str(d["owner"]["id"])) for d in data]
        except (KeyError, TypeError) as error:
            raise ExchangeError(f"the descriptors lookup's answer is unreadable: {error}") from None

    def _react(self, base: str, descriptor: str, chosen: str, token: str) -> str | None:
        """React to the descriptor: None when Graph says it succeeded, else why not."""
        query = urlencode({"reactions": chosen})
        url = with_token(f"{base}/{quote(descriptor, safe='')}?{query}", token)
        answer = self.http.send("POST", url, b"")
        try:
            success = json.loads(answer).get("success") is True
        except (ValueError, AttributeError, RecursionError):
            success = False
        if success:
            return None
        shown = excerpt(self.http.redact(answer.decode("utf-8", errors="replace")).encode())
        return f"descriptor {descriptor}: the reaction was not a success: {shown!r}"


@dataclass(frozen=True, slots=True)
class _Descriptor:
    """A ThreatDescriptor, as far as reacting to it goes: its id and its owner app's."""

    id: str
    owner: str


def _update(item: Any, now: int) -> Record | Malformed:
    try:
        kind, indicator = item["type"], str(item["indicator"])
        if kind not in MATCHED:
            raise ValueError(f"indicator type {kind!r} is not matched on")
        signal_type = MATCHED[kind]
        value = get_signal_type(signal_type).parse(indicator)
        external_id = str(item["id"])
        descriptors = [
            d
            for d in ((item.get("descriptors") or {}).get("data") or [])
            if not d.get("expire_time") or int(d["expire_time"]) > now
        ]
        if item.get("should_delete") or not descriptors:
            return Record(external_id, deleted=True)
        owners = {
            str(d["owner"]["id"]): str(d["owner"].get("name", ""))
            for d in descriptors
            if isinstance(d.get("owner"), dict) and "id" in d["owner"]
        }
        tags = sorted({str(tag) for d in descriptors for tag in (d.get("tags") or [])})
        metadata = {
            "threatexchange": {
                "type": kind,
                "tags": tags,
                "owners": [{"id": key, "name": name} for key, name in sorted(owners.items())],
                "last_updated": item.get("last_updated"),
            }
        }
        return Record(external_id, {signal_type: value}, [], metadata)
    except (HashmatchError, ValueError, KeyError, TypeError, AttributeError) as error:
        return Malformed(f"ThreatExchange update: {error}", repr(item))
