"""Submissions under ``/v1/submissions``: tell hashmatch about an upload and
get its verdict; read submissions back.  Every route needs the ``submit`` scope.

``POST /v1/submissions`` takes either a multipart upload (the file in
``file``, the references as form fields, ``metadata`` as a JSON string) or a
JSON document with the upload's ``signals`` (as ``POST /v1/lookup`` takes
them).  Both take, as Lantern-style signals, the uploader's ``accounts`` and
``emails``, the ``urls`` and the message ``text`` (in a form, a list is its
field repeated).  The Content-Type decides which.  The answer is a contract
(docs/submissions.md): ``{"submission_id", "verdict", "matches", "actions"}``.
A retry with the same ``content_ref`` (or ``Idempotency-Key`` header) within
the window gets the first answer and sets nothing going again.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal, NotRequired

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from hashmatch.actions.submissions import References, Submissions, Submitted, parse_moment
from hashmatch.api.auth import require
from hashmatch.api.content import hashed, received_file
from hashmatch.api.errors import ApiError
from hashmatch.api.response_models import EXACT, Match
from hashmatch.api.responses import KEYED, error_responses
from hashmatch.api.routing import GuardedRoute
from hashmatch.api.rules import FollowUpAction
from hashmatch.api.service import Service
from hashmatch.api.v1 import QUERY_CHARS, HashQuery
from hashmatch.fieldlimits import MAX_ID
from hashmatch.signals import names

router = APIRouter(
    prefix="/v1",
    dependencies=[Depends(require("submit"))],
    tags=["submissions"],
    route_class=GuardedRoute,
    responses=error_responses(*KEYED, 422),
)

Verdict = Literal["allow", "review", "block"]

# -- answers ---------------------------------------------------------------------


@EXACT
class ActionTaken(TypedDict):
    rule: Annotated[str, Field(description="The rule that asked for it.")]
    action: Literal["block", "review", "webhook", "report"]
    status: Annotated[
        Literal["applied", "queued", "pending"],
        Field(description="block: applied; review: queued; report and webhook: pending."),
    ]
    queue: NotRequired[Annotated[str, Field(description="review: the queue.")]]
    priority: NotRequired[Annotated[int, Field(description="review: lower is looked at first.")]]
    webhook: NotRequired[Annotated[str, Field(description="webhook: the webhook's name.")]]
    on_confirm: NotRequired[
        Annotated[list[FollowUpAction], Field(description="review: after a confirmation.")]
    ]
    on_false_positive: NotRequired[
        Annotated[list[FollowUpAction], Field(description="review: after a false positive.")]
    ]


@EXACT
class SubmissionAnswer(TypedDict):
    """What a submission was answered (a retry gets the same)."""

    submission_id: int
    verdict: Verdict
    matches: Annotated[list[Match], Field(description="As POST /v1/match gives them.")]
    actions: list[ActionTaken]


@EXACT
class KeptMediaInfo(TypedDict):
    size: Annotated[int, Field(description="Bytes (before encryption).")]
    filename: str | None


@EXACT
class SubmissionRecord(TypedDict):
    submission_id: int
    verdict: Verdict
    matches: list[Match]
    actions: list[ActionTaken]
    content_ref: str
    user_ref: str | None
    uploaded_at: str | None
    content_url: str | None
    metadata: dict[str, Any]
    content_type: Annotated[Literal["photo", "video", "file"], Field(description="What it was.")]
    signals: Annotated[dict[str, list[str]], Field(description="Signal type -> hashes.")]
    actor: Annotated[str, Field(description='Who submitted it ("key:<name>").')]
    created_at: str
    kept_media: Annotated[
        KeptMediaInfo | None, Field(description="The bytes kept, encrypted (None: none).")
    ]


@EXACT
class SubmissionPage(TypedDict):
    submissions: Annotated[list[SubmissionRecord], Field(description="Newest first.")]
    next_before: Annotated[
        int | None, Field(description="before= for the next page; None after the last page.")
    ]


# -- requests --------------------------------------------------------------------


class GivenSignals(BaseModel):
    """The Lantern-style signals a submission may carry beside (or instead
    of) the upload's hashes: JSON fields, or form fields beside a file."""

    model_config = ConfigDict(extra="forbid")

    accounts: list[Annotated[str, Field(max_length=1_000)]] = Field(
        default_factory=list,
        description="The uploader's accounts, platform:handle (username signals).",
    )
    emails: list[Annotated[str, Field(max_length=1_000)]] = Field(
        default_factory=list, description="The uploader's email addresses (email signals)."
    )
    urls: list[Annotated[str, Field(max_length=QUERY_CHARS)]] = Field(
        default_factory=list, description="URLs the upload holds or links to (url signals)."
    )
    text: str | None = Field(
        None,
        max_length=QUERY_CHARS,
        description="The message or caption: banked keywords are found in it (it is not "
        "stored; the matches say which phrases it held).",
    )

    def pairs(self) -> tuple[list[tuple[str, str]], list[str]]:
        """Each (signal type, value) given, and the field it came from."""
        hashes: list[tuple[str, str]] = []
        fields: list[str] = []
        for field, signal_type in TYPED_FIELDS:
            for index, value in enumerate(getattr(self, field)):
                hashes.append((signal_type, value))
                fields.append(f"{field}[{index}]")
        if self.text is not None:
            hashes.append((names.KEYWORD, self.text))
            fields.append("text")
        return hashes, fields


#: The fields that carry one signal type each (Lantern-style signals).
TYPED_FIELDS = (("accounts", names.USERNAME), ("emails", names.EMAIL), ("urls", names.URL))


class SubmittedHashes(GivenSignals):
    """A submission by the upload's hashes."""

    signals: list[HashQuery] = Field(
        default_factory=list, description="As POST /v1/lookup's hashes."
    )
    content_ref: str = Field(..., description="The platform's id for the upload.")
    user_ref: str | None = Field(None, description="The platform's id for the uploader.")
    uploaded_at: str | None = Field(None, description="When it was uploaded (RFC 3339).")
    content_url: str | None = Field(None, description="Where the platform serves it.")
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="Anything else (a JSON object; setting "
        "submission_metadata_bytes caps its size).",
    )
    keep_media: bool | None = Field(None, description="Ignored: hashes carry no media.")


#: The multipart form's text fields (besides ``file``) other than the signals.
FORM_FIELDS = ("content_ref", "user_ref", "uploaded_at", "content_url", "metadata", "keep_media")
#: The form's signal fields: accounts, emails and urls repeated, one value each.
FORM_SIGNALS = tuple(GivenSignals.model_fields)


def _form_field(schema: dict[str, Any]) -> dict[str, Any]:
    """A signal field of the JSON body as a form field: a list is the field
    repeated, one value each; the text is a string."""
    if schema.get("type") == "array":
        return {
            "type": "array",
            "items": schema["items"],
            "description": f"{schema['description']} One field per value, repeated.",
        }
    return {"type": "string", "maxLength": QUERY_CHARS, "description": schema["description"]}


_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["file", "content_ref"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "The upload."},
        "content_ref": {"type": "string", "description": "The platform's id for the upload."},
        "user_ref": {"type": "string"},
        "uploaded_at": {"type": "string", "format": "date-time"},
        "content_url": {"type": "string"},
        "metadata": {"type": "string", "description": "A JSON object, as text."},
        "keep_media": {
            "type": "boolean",
            "description": "Keep the bytes (encrypted) for review and reporting "
            "(default: setting keep_media).",
        },
        **{
            name: _form_field(schema)
            for name, schema in GivenSignals.model_json_schema()["properties"].items()
        },
    },
}
#: HashQuery is in the document's components already (POST /v1/lookup's body).
_JSON_SCHEMA = SubmittedHashes.model_json_schema(ref_template="#/components/schemas/{model}")
_JSON_SCHEMA.pop("$defs", None)
REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": _FORM_SCHEMA},
            "application/json": {"schema": _JSON_SCHEMA},
        },
    }
}
IDEMPOTENCY_HELP = (
    "Retries with this key within the window get the first answer "
    "(default: the content_ref is the key)."
)


def _service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def _submissions(request: Request) -> Submissions:
    return _service(request).submissions


def _count(request: Request, done: Submitted) -> None:
    """Count the matches and actions (a retry's were counted the first time)."""
    if done.replayed:
        return
    metrics = request.app.state.metrics
    for match in done.answer["matches"]:
        metrics.matches.labels(match["bank"]).inc()
    for action in done.answer["actions"]:
        metrics.actions.labels(action["action"], action["status"]).inc()


def _invalid(error: ValidationError) -> RequestValidationError:
    """pydantic's problems with the body, as FastAPI reports a body it checked (a 422)."""
    return RequestValidationError(
        [{**problem, "loc": ("body", *problem["loc"])} for problem in error.errors()]
    )


def _moment(text: str | None) -> datetime | None:
    return None if text is None else parse_moment("uploaded_at", text)


def _by_hashes(service: Service, raw: bytes, idempotency_key: str | None) -> Submitted:
    """The JSON body's submission (in the thread pool: parsing a large body
    must not hold the event loop)."""
    try:
        body = SubmittedHashes.model_validate_json(raw)
    except ValidationError as error:
        raise _invalid(error) from None
    given, given_fields = body.pairs()
    hashes = [(query.signal_type, query.signal) for query in body.signals] + given
    fields = [f"signals[{index}]" for index in range(len(body.signals))] + given_fields
    _check_batch(service, hashes)
    refs = References(
        body.content_ref,
        user_ref=body.user_ref,
        uploaded_at=_moment(body.uploaded_at),
        content_url=body.content_url,
        metadata=body.metadata,
        idempotency_key=idempotency_key,
        keep_media=body.keep_media,
    )
    return service.submissions.submit_hashes(service.matcher(), refs, hashes, fields=fields)


def _check_batch(service: Service, hashes: list[tuple[str, str]]) -> None:
    if len(hashes) > service.settings.max_batch:
        raise ApiError(
            413, "batch_too_large", f"at most {service.settings.max_batch} signals per submission"
        )


def _form_texts(form: FormData, name: str) -> list[str]:
    values = form.getlist(name)
    if not all(isinstance(value, str) for value in values):
        raise ApiError(400, "invalid_submission", f"{name} must be a text field, not a file")
    return [str(value) for value in values]


def _form_text(form: FormData, name: str) -> str | None:
    values = _form_texts(form, name)
    if len(values) > 1:
        raise ApiError(400, "invalid_submission", f"{name} is given {len(values)} times")
    return values[0] if values else None


def _form_signals(form: FormData) -> tuple[list[tuple[str, str]], list[str]]:
    """The form's signal fields, checked as the JSON body's are."""
    given = {name: _form_texts(form, name) for name in FORM_SIGNALS if name != "text"}
    try:
        signals = GivenSignals.model_validate({**given, "text": _form_text(form, "text")})
    except ValidationError as error:
        raise _invalid(error) from None
    return signals.pairs()


def _form_references(form: FormData, idempotency_key: str | None) -> References:
    unknown = sorted(set(form.keys()) - {"file", *FORM_FIELDS, *FORM_SIGNALS})
    if unknown:
        raise ApiError(400, "invalid_submission", f"unknown form field {unknown[0]!r}")
    metadata_text = _form_text(form, "metadata")
    metadata: Any = {}
    if metadata_text is not None:
        try:
            metadata = json.loads(metadata_text)
        except ValueError:
            raise ApiError(400, "invalid_submission", "metadata is not valid JSON") from None
        if not isinstance(metadata, dict):
            raise ApiError(400, "invalid_submission", "metadata must be a JSON object")
    keep_text = _form_text(form, "keep_media")
    keep_media: bool | None = None
    if keep_text is not None:
        if keep_text.lower() not in ("true", "false", "1", "0"):
            raise ApiError(400, "invalid_submission", "keep_media must be true or false")
        keep_media = keep_text.lower() in ("true", "1")
    return References(
        _form_text(form, "content_ref") or "",
        user_ref=_form_text(form, "user_ref"),
        uploaded_at=_moment(_form_text(form, "uploaded_at")),
        content_url=_form_text(form, "content_url"),
        metadata=metadata,
        idempotency_key=idempotency_key,
        keep_media=keep_media,
    )


async def _by_upload(request: Request, idempotency_key: str | None) -> Submitted:
    service = _service(request)
    async with request.form() as form:
        refs = await run_in_threadpool(_form_references, form, idempotency_key)
        given, fields = await run_in_threadpool(_form_signals, form)
        _check_batch(service, given)
        uploads = form.getlist("file")
        if len(uploads) != 1 or not isinstance(uploads[0], UploadFile):
            raise ApiError(400, "invalid_submission", "file: give exactly one file upload")
        matcher = await run_in_threadpool(service.matcher)
        async with received_file(service, upload=uploads[0]) as received:
            result = await hashed(
                received,
                dihedral=True,
                query_cleanup=service.settings.match_query_cleanup,
                feature_query=bool(matcher.features),
            )
            return await run_in_threadpool(
                partial(service.submissions.submit_file, given=given, fields=fields),
                matcher,
                refs,
                result,
                received.path,
                received.name,
            )


@router.post(
    "/submissions",
    summary="Submit an upload (a file, or its hashes) and get its verdict",
    response_model=SubmissionAnswer,
    responses=error_responses(413, 415, 503),
    openapi_extra=REQUEST_BODY,
)
async def submit(
    request: Request,
    idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", max_length=200, description=IDEMPOTENCY_HELP
    ),
) -> dict[str, Any]:
    """Match the upload, let the rules decide, take their actions; the
    verdict and what was done.  multipart/form-data: ``file``, the
    references and the accounts, emails, urls and text as fields;
    application/json: ``signals``, the same references and signal fields."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json":
        raw = await request.body()
        done = await run_in_threadpool(_by_hashes, _service(request), raw, idempotency_key)
    elif media_type == "multipart/form-data":
        done = await _by_upload(request, idempotency_key)
    else:
        raise ApiError(
            415,
            "unsupported_media_type",
            "send multipart/form-data (a file) or application/json (signals)",
        )
    _count(request, done)
    return done.answer


@router.get("/submissions", summary="List submissions", response_model=SubmissionPage)
def list_submissions(
    request: Request,
    content_ref: str | None = Query(None, max_length=200, description="Only this content_ref."),
    user_ref: str | None = Query(None, max_length=200, description="Only this user_ref."),
    verdict: Verdict | None = Query(None, description="Only this verdict."),
    before: int | None = Query(None, ge=1, le=MAX_ID, description="Ids below this one."),
    limit: int = Query(100, ge=1, le=1000, description="At most this many."),
) -> dict[str, Any]:
    page = _submissions(request).list(
        content_ref=content_ref, user_ref=user_ref, verdict=verdict, before=before, limit=limit
    )
    last = page[-1]["submission_id"] if len(page) == limit else None
    return {"submissions": page, "next_before": last}


@router.get(
    "/submissions/{submission_id}",
    summary="A submission",
    response_model=SubmissionRecord,
    responses=error_responses(404),
)
def get_submission(
    request: Request, submission_id: int = Path(..., ge=1, le=MAX_ID)
) -> dict[str, Any]:
    return _submissions(request).get(submission_id)
