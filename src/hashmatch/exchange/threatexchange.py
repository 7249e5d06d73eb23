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

Why not python-threatexchange's ``ThreatExchangeAPI``: a development
dependency only, with its own retries and no per-page stall timeout or
address checks; its field list and paging are followed here.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from hashmatch.errors import HashmatchError
from hashmatch.exchange.base import (
    Checkpoint,
    ExchangeSource,
    Malformed,
    Option,
    Page,
    PageError,
    Record,
)
from hashmatch.signals import get_signal_type

MATCHED = {"HASH_PDQ": "pdq", "HASH_MD5": "md5", "HASH_VIDEO_MD5": "md5"}
FIELDS = "id,indicator,type,last_updated,should_delete,descriptors{owner{id,name},tags,expire_time}"


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
    )
    credentials_help = "an access token (app id|secret)"

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
