"""The hub's TAXII 2.1 server (only with the setting ``hub_enabled``).

    GET  /taxii2/                                          discovery
    GET  /taxii2/hub/                                      the API root
    GET  /taxii2/hub/collections/                          collections this key may use
    GET  /taxii2/hub/collections/{id}/                     one collection
    GET  /taxii2/hub/collections/{id}/objects/             added_after, match[...], limit, next
    POST /taxii2/hub/collections/{id}/objects/             an envelope of signed objects -> a status
    GET  /taxii2/hub/collections/{id}/objects/{object_id}/
    GET  /taxii2/hub/collections/{id}/objects/{object_id}/versions/
    GET  /taxii2/hub/collections/{id}/manifest/
    GET  /taxii2/hub/status/{status_id}/

Answers are ``application/taxii+json;version=2.1``; a request whose Accept
names none of that, ``application/json`` or ``*/*`` gets 406.  A request
needs an API key with the scope ``hub``, as HTTP Basic's password (what
``taxii2client`` sends with ``user=``/``password=``; the user name is not
read) or ``Authorization: Bearer``; the key's member must be active (403
saying why otherwise) and hold a read or write grant on the collection.  A
hub admin's key reads every collection and writes none (only members
publish).  Errors are TAXII's (``title``, ``description``, ``http_status``;
api/errors.py).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool

from hashmatch.api.auth import require
from hashmatch.api.errors import TAXII_MEDIA_TYPE, ApiError
from hashmatch.api.hub import hub_database
from hashmatch.apikeys import KeyInfo
from hashmatch.hub.canonical import parse_json
from hashmatch.hub.collections import Collections
from hashmatch.hub.member_records import member_by_key
from hashmatch.hub.members import require_active
from hashmatch.hub.object_intake import MAX_OBJECTS, ObjectIntake
from hashmatch.hub.taxii_objects import (
    MAX_PAGE,
    ObjectFilter,
    Page,
    TaxiiObjects,
    parse_next,
    parse_taxii_timestamp,
)

ROOT = "/taxii2/hub/"
#: The largest envelope taken: MAX_OBJECTS signed objects with room.
MAX_ENVELOPE_BYTES = 8 * 1024 * 1024
_ACCEPTED = ("application/taxii+json", "application/json", "application/stix+json")
_ANY = ("*/*", "application/*")


class TaxiiResponse(JSONResponse):
    """JSON in TAXII's media type (what the OpenAPI document names for these routes)."""

    media_type = TAXII_MEDIA_TYPE


router = APIRouter(prefix="/taxii2", tags=["taxii"], default_response_class=TaxiiResponse)
_hub_key = require("hub")


def install(app: FastAPI) -> None:
    """Add the TAXII routes to ``app`` (create_app calls it when ``hub_enabled``)."""
    app.include_router(router)


def _check_accept(request: Request) -> None:
    accept = request.headers.get("accept", "")
    if not accept.strip():
        return
    for part in accept.split(","):
        media, *params = [piece.strip().lower() for piece in part.split(";")]
        version = next((p.split("=", 1)[1] for p in params if p.startswith("version=")), "2.1")
        if media in _ANY or (media in _ACCEPTED and version == "2.1"):
            return
    raise ApiError(406, "not_acceptable", f"this server answers {TAXII_MEDIA_TYPE}")


def _secret(request: Request) -> HTTPAuthorizationCredentials | None:
    """The API key from Basic (as the password) or Bearer; None without one."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return HTTPAuthorizationCredentials(scheme="Bearer", credentials=value.strip())
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(401, "unauthorized", "the Basic credentials do not decode") from None
        return HTTPAuthorizationCredentials(scheme="Bearer", credentials=decoded.partition(":")[2])
    return None


async def taxii_key(request: Request) -> KeyInfo:
    """The hub key asking (Accept checked first, as TAXII's 406 comes before auth)."""
    _check_accept(request)
    credentials = _secret(request)
    if credentials is None:
        raise ApiError(
            401,
            "unauthorized",
            "an API key with the hub scope is required (HTTP Basic password or Bearer)",
        )
    key = await _hub_key.admit(request, credentials)
    if key is None:  # only keyless loopback HMA checks return None
        raise ApiError(401, "unauthorized", "an API key is required")
    return key


HubKey = Annotated[KeyInfo, Depends(taxii_key)]
CollectionId = Annotated[str, Path(max_length=200)]
ObjectId = Annotated[str, Path(max_length=100)]


def _reader(request: Request, key: KeyInfo) -> int | None:
    """The member asking, active (None: a hub admin's key)."""
    if "admin" in key.scopes:
        return None
    with hub_database(request).reading() as session:
        member = member_by_key(session, key.name)
        require_active(member)
        return member.id


def _taxii(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return TaxiiResponse(body, status, headers=headers)


Limit = Annotated[int | None, Query(ge=1, le=MAX_PAGE)]
AddedAfter = Annotated[str | None, Query(max_length=40)]
Next = Annotated[str | None, Query(alias="next", max_length=40)]


def _filter(
    request: Request,
    limit: Limit = None,
    added_after: AddedAfter = None,
    next_token: Next = None,
) -> ObjectFilter:
    """The paging and ``match[...]`` query of the object routes (a dependency)."""
    query = request.query_params

    def listed(name: str) -> tuple[str, ...]:
        return tuple(v for value in query.getlist(name) for v in value.split(",") if v)

    versions: list[str | int] = []
    for version in listed("match[version]") or ("last",):
        is_word = version in ("last", "first", "all")
        versions.append(version if is_word else parse_taxii_timestamp("match[version]", version))
    return ObjectFilter(
        added_after=None
        if added_after is None
        else parse_taxii_timestamp("added_after", added_after),
        types=listed("match[type]"),
        ids=listed("match[id]"),
        versions=tuple(versions),
        limit=limit or 100,
        next=parse_next(next_token),
    )


Wanted = Annotated[ObjectFilter, Depends(_filter)]


def _page_headers(page: Page) -> dict[str, str]:
    if not page.rows:
        return {}
    return {
        "X-TAXII-Date-Added-First": page.first_added or "",
        "X-TAXII-Date-Added-Last": page.last_added or "",
    }


def _envelope(page: Page, items: list[Any], name: str = "objects") -> dict[str, Any]:
    body: dict[str, Any] = {"more": page.more}
    if page.next is not None:
        body["next"] = page.next
    if items:
        body[name] = items
    return body


@router.get("/", summary="TAXII discovery")
def discovery(key: HubKey) -> JSONResponse:
    return _taxii(
        {
            "title": "hashmatch coalition hub",
            "description": "Members' signed signals as STIX 2.1 objects (docs/hub-taxii.md).",
            "default": ROOT,
            "api_roots": [ROOT],
        }
    )


@router.get("/hub/", summary="The hub's TAXII API root")
def api_root(key: HubKey) -> JSONResponse:
    return _taxii(
        {
            "title": "hashmatch hub",
            "description": "Hashes and Lantern-style signals shared between members.",
            "versions": ["application/taxii+json;version=2.1"],
            "max_content_length": MAX_ENVELOPE_BYTES,
        }
    )


def _collection_body(info: dict[str, Any], read: bool, write: bool) -> dict[str, Any]:
    return {
        "id": info["id"],
        "title": info["title"],
        "description": info["description"],
        "can_read": read,
        "can_write": write,
        "media_types": ["application/stix+json;version=2.1"],
        "x_hashmatch_kind": info["kind"],
        "x_hashmatch_identifiers": info["identifiers"],
    }


@router.get("/hub/collections/", summary="The collections this key may read or write")
def collections(request: Request, key: HubKey) -> JSONResponse:
    visible = Collections(hub_database(request)).visible_to(_reader(request, key))
    return _taxii({"collections": [_collection_body(*item) for item in visible]})


@router.get("/hub/collections/{collection_id}/", summary="One collection")
def collection(request: Request, key: HubKey, collection_id: CollectionId) -> JSONResponse:
    visible = Collections(hub_database(request)).visible_to(_reader(request, key))
    for info, read, write in visible:
        if collection_id in (info["id"], info["title"]):
            return _taxii(_collection_body(info, read, write))
    raise ApiError(404, "unknown_collection", f"no collection {collection_id[:100]!r} for this key")


@router.get("/hub/collections/{collection_id}/objects/", summary="Objects, paged by date_added")
def objects(
    request: Request,
    key: HubKey,
    collection_id: CollectionId,
    wanted: Wanted,
) -> JSONResponse:
    page = TaxiiObjects(hub_database(request)).page(collection_id, _reader(request, key), wanted)
    return _taxii(_envelope(page, page.objects), headers=_page_headers(page))


@router.get("/hub/collections/{collection_id}/manifest/", summary="Manifest of the objects")
def manifest(
    request: Request,
    key: HubKey,
    collection_id: CollectionId,
    wanted: Wanted,
) -> JSONResponse:
    page = TaxiiObjects(hub_database(request)).page(collection_id, _reader(request, key), wanted)
    return _taxii(_envelope(page, page.manifest()), headers=_page_headers(page))


@router.get("/hub/collections/{collection_id}/objects/{object_id}/", summary="One object")
def one_object(
    request: Request,
    key: HubKey,
    collection_id: CollectionId,
    object_id: ObjectId,
    wanted: Wanted,
) -> JSONResponse:
    wanted = replace(wanted, ids=(object_id,))
    page = TaxiiObjects(hub_database(request)).one(
        collection_id, _reader(request, key), object_id, wanted
    )
    return _taxii(_envelope(page, page.objects), headers=_page_headers(page))


@router.get(
    "/hub/collections/{collection_id}/objects/{object_id}/versions/",
    summary="An object's versions",
)
def versions(
    request: Request,
    key: HubKey,
    collection_id: CollectionId,
    object_id: ObjectId,
    wanted: Wanted,
) -> JSONResponse:
    wanted = replace(wanted, ids=(object_id,), versions=("all",))
    page = TaxiiObjects(hub_database(request)).one(
        collection_id, _reader(request, key), object_id, wanted
    )
    body = _envelope(page, [row.modified for row in page.rows], "versions")
    return _taxii(body, headers=_page_headers(page))


@router.post(
    "/hub/collections/{collection_id}/objects/",
    summary="Add signed objects (an envelope); answers a status resource",
    status_code=202,
)
async def add_objects(request: Request, key: HubKey, collection_id: CollectionId) -> JSONResponse:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ("application/taxii+json", "application/json"):
        raise ApiError(415, "unsupported_media_type", f"send the envelope as {TAXII_MEDIA_TYPE}")
    if "admin" in key.scopes:
        raise ApiError(403, "forbidden", "only members publish: post with a member's hub key")
    raw = await _capped(request)
    envelope = parse_json(raw)
    intake = ObjectIntake(hub_database(request))
    status = await run_in_threadpool(intake.post, key.name, collection_id, envelope)
    return _taxii(status, 202)


@router.get("/hub/status/{status_id}/", summary="What became of a posted envelope")
def status(
    request: Request, key: HubKey, status_id: Annotated[str, Path(max_length=40)]
) -> JSONResponse:
    holder = None if "admin" in key.scopes else key.name
    return _taxii(ObjectIntake(hub_database(request)).status(holder, status_id))


async def _capped(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_ENVELOPE_BYTES:
            raise ApiError(
                413,
                "too_large",
                f"an envelope is at most {MAX_ENVELOPE_BYTES} bytes ({MAX_OBJECTS} objects)",
            )
        chunks.append(chunk)
    return b"".join(chunks)
