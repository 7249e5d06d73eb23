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
exhausted.  The credentials are ``subscription key:function key``.

Why not python-threatexchange's ``StopNCIIAPI``: a development dependency
only, with its own retries, no per-page stall timeout and no address checks.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from hashmatch.errors import HashmatchError
from hashmatch.exchange.base import (
    Checkpoint,
    ExchangeSource,
    Malformed,
    Option,
    Page,
    PageError,
    Record,
    SourceConfig,
)
from hashmatch.exchange.http import PageClient
from hashmatch.signals import get_signal_type

#: StopNCII signal type -> hashmatch signal type.
MATCHED = {"ImagePDQ": "pdq", "VideoMD5": "md5"}
REMOVED_STATUSES = {"Withdrawn", "Deleted"}


class StopNciiSource(ExchangeSource):
    name = "stopncii"
    hma_name = "stop_ncii"
    description = "StopNCII.org hashes (PDQ and video MD5), with withdrawn and deleted cases."
    options = (
        Option("base_url", "The API's address.", "https://api.stopncii.org/v1"),
        Option("page_size", "Records asked for per page.", "800"),
        Option("start_timestamp", "Unix time of the first records to fetch.", "10"),
    )
    credentials_help = "subscription_key:fetch_function_key"

    def __init__(self, config: SourceConfig, http: PageClient) -> None:
        super().__init__(config, http)
        subscription, function = config.credential_pair("StopNCII", "subscription_key:function_key")
        self.headers = {"Ocp-Apim-Subscription-Key": subscription, "x-functions-key": function}

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
