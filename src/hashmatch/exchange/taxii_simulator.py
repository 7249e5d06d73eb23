"""A minimal TAXII 2.1 server that is not hashmatch: for the ``taxii``
exchange's tests, and to try the exchange without a hub.

    with TaxiiSimulator("user:password") as taxii:
        taxii.add(indicator)                       # any STIX object (dict), to COLLECTION
        # hashmatch exchange add t --type taxii --bank b \\
        #     --option url=<taxii.api_root> --option collection=<COLLECTION>
        taxii.fail_next("stall")                   # "500", "malformed", "stall"; .expired: 401

It serves TAXII 2.1's discovery (``/taxii2/``), one API root (``/api1/``),
its collections, a collection's ``objects/`` (GET with ``added_after``,
``limit``, ``next`` and ``match[type]``, answering the
``X-TAXII-Date-Added-First``/``-Last`` headers; POST of an envelope,
answered 202 with a status resource), one object (``objects/{id}/``, its
latest version) and ``status/{id}/``.  A collection
keeps the last version of each object, in the order they were added; each
addition gets a later ``date_added``.  With :attr:`TaxiiSimulator.trusted`
set, a POSTed object must carry a signature those keys verify, or the
status resource lists it as a failure (how the hub refuses one).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from hashmatch.errors import HashmatchError
from hashmatch.exchange.simulators import Simulator, basic_authorized
from hashmatch.exchange.taxii import DATE_ADDED_LAST, MEDIA_TYPE
from hashmatch.hub.signing import TrustedKey, verify

COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
ROOT = "/api1/"
#: The most objects one page holds, whatever ``limit`` asks.
MAX_PAGE = 1000
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def taxii_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Collection:
    title: str
    #: (date_added, object id or None for a raw entry, the object as served)
    entries: list[tuple[str, str | None, Any]] = field(default_factory=list)


class TaxiiSimulator(Simulator):
    def __init__(self, credentials: str = "user:password") -> None:
        super().__init__(credentials)
        self.collections = {COLLECTION: Collection("Shared signals")}
        #: Keys a POSTed object's signature must verify under (None: not checked).
        self.trusted: Mapping[str, TrustedKey] | None = None
        #: Every object POSTed and taken, in order.
        self.received: list[dict[str, Any]] = []
        self.statuses: dict[str, dict[str, Any]] = {}
        self._added = 0
        self._headers = threading.local()

    @property
    def api_root(self) -> str:
        return f"{self.url}{ROOT}"

    def add(self, obj: Any, collection: str = COLLECTION) -> str:
        """Add ``obj`` (a new version replaces the one with its id); its date_added."""
        with self._lock:
            return self._add(obj, collection)

    def _add(self, obj: Any, collection: str) -> str:
        self._added += 1
        added = taxii_time(_EPOCH + timedelta(microseconds=self._added))
        entries = self.collections[collection].entries
        object_id = obj.get("id") if isinstance(obj, dict) else None
        if object_id is not None:
            entries[:] = [entry for entry in entries if entry[1] != object_id]
        entries.append((added, object_id, obj))
        return added

    def authorized(self, path: str, headers: Any) -> bool:
        return basic_authorized(self.credentials, headers)

    def response_headers(self) -> dict[str, str]:
        headers: dict[str, str] = getattr(self._headers, "value", {})
        return headers

    def malformed(self) -> bytes:
        return b'{"more": false, "objects": [{"type": '

    def answer(self, path: str, query: dict[str, str]) -> tuple[str, bytes]:
        self._headers.value = {}
        if path == "/taxii2/":
            body: Any = {
                "title": "TAXII simulator",
                "default": self.api_root,
                "api_roots": [self.api_root],
            }
        elif path == ROOT:
            body = {"title": "API root", "versions": [MEDIA_TYPE], "max_content_length": 10**8}
        elif path == f"{ROOT}collections/":
            body = {"collections": [self._collection(key) for key in self.collections]}
        elif path.startswith(f"{ROOT}status/"):
            body = self.statuses[path.removeprefix(f"{ROOT}status/").strip("/")]
        else:
            collection, rest = self._collection_path(path)
            if rest == "":
                body = self._collection(collection)
            elif rest == "objects/":
                body = self._objects(collection, query)
            elif rest.startswith("objects/") and rest.count("/") == 2:
                body = self._object(collection, unquote(rest.split("/")[1]))
            else:
                raise KeyError(path)
        return MEDIA_TYPE, json.dumps(body).encode()

    def receive(
        self, method: str, path: str, query: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        self._headers.value = {}
        collection, rest = self._collection_path(path)
        if method != "POST" or rest != "objects/":
            raise KeyError(path)
        try:
            objects = json.loads(body)["objects"]
            if not isinstance(objects, list):
                raise TypeError("objects is not a list")
        except (ValueError, KeyError, TypeError) as error:
            return 400, MEDIA_TYPE, json.dumps({"title": f"not an envelope: {error}"}).encode()
        successes, failures = [], []
        for obj in objects:
            why = self._refusal(obj)
            object_id = str(obj.get("id")) if isinstance(obj, dict) else repr(obj)[:80]
            if why is not None:
                failures.append({"id": object_id, "message": why})
                continue
            with self._lock:
                self._add(obj, collection)
                self.received.append(obj)
            successes.append({"id": object_id, "version": obj.get("modified")})
        status_id = str(uuid.uuid4())
        status: dict[str, Any] = {
            "id": status_id,
            "status": "complete",
            "request_timestamp": taxii_time(datetime.now(UTC)),
            "total_count": len(objects),
            "success_count": len(successes),
            "failure_count": len(failures),
            "pending_count": 0,
            "successes": successes,
            "failures": failures,
        }
        self.statuses[status_id] = status
        return 202, MEDIA_TYPE, json.dumps(status).encode()

    def _refusal(self, obj: Any) -> str | None:
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
            return "not a STIX object"
        if self.trusted is not None:
            try:
                verify(obj, self.trusted)
            except HashmatchError as error:
                return str(error)
        return None

    def _collection_path(self, path: str) -> tuple[str, str]:
        prefix = f"{ROOT}collections/"
        if not path.startswith(prefix):
            raise KeyError(path)
        collection, _, rest = path.removeprefix(prefix).partition("/")
        if collection not in self.collections:
            raise KeyError(path)
        return collection, rest

    def _collection(self, key: str) -> dict[str, Any]:
        return {
            "id": key,
            "title": self.collections[key].title,
            "can_read": True,
            "can_write": True,
            "media_types": ["application/stix+json;version=2.1"],
        }

    def _objects(self, collection: str, query: dict[str, str]) -> dict[str, Any]:
        after = max(query.get("added_after", ""), query.get("next", ""))
        types = set(query["match[type]"].split(",")) if "match[type]" in query else None
        limit = min(int(query.get("limit") or MAX_PAGE), MAX_PAGE)
        with self._lock:
            chosen = [
                (added, obj)
                for added, _, obj in self.collections[collection].entries
                if added > after and (types is None or _type(obj) in types)
            ]
        page, more = chosen[:limit], len(chosen) > limit
        envelope: dict[str, Any] = {"more": more, "objects": [obj for _, obj in page]}
        if more:
            envelope["next"] = page[-1][0]
        if page:
            self._headers.value = {
                "X-TAXII-Date-Added-First": page[0][0],
                DATE_ADDED_LAST: page[-1][0],
            }
        return envelope

    def _object(self, collection: str, object_id: str) -> dict[str, Any]:
        """One object's envelope (its latest version: the only one kept); KeyError if none."""
        with self._lock:
            entries = self.collections[collection].entries
            found = [obj for _, held, obj in entries if held == object_id]
        if not found:
            raise KeyError(object_id)
        return {"more": False, "objects": found}


def _type(obj: Any) -> str | None:
    kind = obj.get("type") if isinstance(obj, dict) else None
    return kind if isinstance(kind, str) else None
