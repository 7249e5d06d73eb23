"""Preserved evidence under ``/v1/evidence`` (scope ``evidence``): list and
show packages, export one as a zip, place and release legal holds.

A key acts as ``key:<name>``; every listing, view and export is audited
under that name (docs/reporting.md, "Evidence").  The routes are plain
``def``: reading, decrypting and zipping run in the thread pool, never on
the event loop.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from hashmatch.api.auth import acting_key
from hashmatch.api.response_models import EXACT
from hashmatch.api.responses import KEYED, error_responses
from hashmatch.api.routing import GuardedRoute
from hashmatch.fieldlimits import DESCRIPTION_CHARS, MAX_ID
from hashmatch.reporting.evidence.packages import MAX_PAGE, Evidence

router = APIRouter(
    prefix="/v1/evidence",
    tags=["evidence"],
    route_class=GuardedRoute,
    responses=error_responses(*KEYED, 422),
)

PackageId = Annotated[int, Path(ge=0, le=MAX_ID)]
#: Exports larger than this are spooled to a temporary file, not kept in memory.
SPOOL_BYTES = 16 * 1024 * 1024
CHUNK_BYTES = 64 * 1024


#: ``key:<name>``: the key the check admitted, acting.
Actor = Annotated[str, acting_key("evidence")]


def evidence_of(request: Request) -> Evidence:
    """The evidence service over the app's database and settings (the API's and the UI's)."""
    service = request.app.state.service
    return Evidence(service.database, service.settings)


# -- answers -----------------------------------------------------------------------


@EXACT
class Hold(TypedDict):
    id: int
    package_id: int
    reason: str
    until: Annotated[str | None, Field(description="When it ends by itself; null: when released.")]
    created_by: str
    created_at: str
    released_by: str | None
    released_at: str | None


@EXACT
class Package(TypedDict):
    id: int
    report_id: int
    status: Annotated[str, Field(description="kept or purged.")]
    store: str
    created_at: str
    retain_until: str
    kept_until: Annotated[
        str | None,
        Field(description="Retention or the latest hold's end; null: held with no end, or purged."),
    ]
    purged_at: str | None
    object_count: int
    size: int
    held: bool
    due: Annotated[bool, Field(description="A purge would delete it now.")]
    holds: list[Hold]


@EXACT
class ManifestEntry(TypedDict):
    name: str
    size: int
    sha256: str


@EXACT
class StoredObject(TypedDict):
    name: str
    size: int
    sha256: str
    master_key_id: Annotated[str, Field(description="The master key's fingerprint.")]
    created_at: str


@EXACT
class PackageDetail(Package):
    manifest: list[ManifestEntry]
    objects: list[StoredObject]


@EXACT
class PackageList(TypedDict):
    packages: list[Package]


class HoldCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=DESCRIPTION_CHARS, description="Why.")
    until: datetime | None = Field(None, description="When it ends by itself; default never.")


# -- routes ------------------------------------------------------------------------


@router.get("", summary="List evidence packages, newest first", response_model=PackageList)
def list_packages(
    request: Request,
    actor: Actor,
    status: str | None = Query(None, max_length=16, description="kept or purged."),
    due: bool = Query(False, description="Only packages a purge would delete now."),
    limit: int = Query(100, ge=1, le=MAX_PAGE),
) -> dict[str, Any]:
    return {"packages": evidence_of(request).list(actor=actor, status=status, due=due, limit=limit)}


@router.get(
    "/{package_id}",
    summary="Show a package: manifest, objects, holds",
    response_model=PackageDetail,
    responses=error_responses(404),
)
def show_package(request: Request, package_id: PackageId, actor: Actor) -> dict[str, Any]:
    return evidence_of(request).show(package_id, actor=actor)


def _chunks(spool: IO[bytes]) -> Iterator[bytes]:
    while chunk := spool.read(CHUNK_BYTES):
        yield chunk


def export_response(evidence: Evidence, package_id: int, actor: str) -> StreamingResponse:
    """The package's export zip, built (and verified) before the first byte is
    sent, spooled to a temporary file when large; for the API and the UI."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed after sending
    try:
        evidence.export_to(package_id, spool, actor=actor)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return StreamingResponse(
        _chunks(spool),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-{package_id}.zip"'},
        background=BackgroundTask(spool.close),
    )


@router.get(
    "/{package_id}/export",
    summary="Export a package: a zip of its objects, manifest.json and SHA256SUMS",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/zip": {}}, "description": "The zip."},
        **error_responses(404),
    },
)
def export_package(request: Request, package_id: PackageId, actor: Actor) -> StreamingResponse:
    return export_response(evidence_of(request), package_id, actor)


@router.post(
    "/{package_id}/holds",
    summary="Place a legal hold: keep the package past its retention",
    status_code=201,
    response_model=Hold,
    responses=error_responses(404),
)
def place_hold(
    request: Request, package_id: PackageId, body: HoldCreate, actor: Actor
) -> dict[str, Any]:
    return evidence_of(request).hold(package_id, body.reason, actor=actor, until=body.until)


@router.delete(
    "/holds/{hold_id}",
    summary="Release a legal hold",
    response_model=Hold,
    responses=error_responses(400, 404),
)
def release_hold(
    request: Request, hold_id: Annotated[int, Path(ge=0, le=MAX_ID)], actor: Actor
) -> dict[str, Any]:
    return evidence_of(request).release(hold_id, actor=actor)
