"""What a finished report leaves behind: its ``report.filed`` event and audit
entry (in the transaction that finishes it), and the objects its evidence
package preserves (``reporting/evidence.py`` stores them).

    announce_filed(session, row, files)
    objects = evidence_objects(row, files, data, calls, submissions)
    # [("12-upload.jpg", b"..."), ("report.xml", ...), ("fileinfo-40.xml", ...),
    #  ("ncmec-responses.json", ...), ("submissions.json", ...)]
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.actions import outbox
from hashmatch.store.models import as_utc
from hashmatch.store.reporting_models import CybertipCall, CybertipFile, CybertipReport
from hashmatch.store.workflow import Submission

#: (report id, objects (name, bytes), actor) → the evidence package's id;
#: ``Evidence.preserve``, idempotent per report.
Preserve = Callable[[int, Sequence[tuple[str, bytes]], str], int]


def announce_filed(session: Session, row: CybertipReport, files: Sequence[CybertipFile]) -> None:
    """The ``report.filed`` event (docs/webhooks.md) and its audit entry."""
    classifications = Counter(f.classification for f in files if f.classification)
    outbox.enqueue(
        session,
        "report.filed",
        {
            "report": row.id,
            "ncmec_report_id": row.ncmec_report_id,
            "environment": row.environment,
            "user_ref": row.user_ref,
            "items": [f.item_key for f in files],
            "submissions": sorted({f.submission_id for f in files}),
            "classifications": dict(sorted(classifications.items())),
            "files": len(files),
        },
    )
    audit.record(
        session,
        "report.filed",
        f"report:{row.id}",
        after={
            "ncmec_report_id": row.ncmec_report_id,
            "environment": row.environment,
            "files": len(files),
        },
    )


def evidence_objects(
    row: CybertipReport,
    files: Sequence[CybertipFile],
    data: Mapping[int, bytes],
    calls: Sequence[CybertipCall],
    submissions: Sequence[Submission],
) -> list[tuple[str, bytes]]:
    """The reported files (named by their row id and original name), the
    report XML, every ``fileDetails`` sent, NCMEC's answers and the
    submissions' metadata."""
    objects = [(f"{file.id}-{file.filename}", data[file.id]) for file in files]
    objects.append(("report.xml", (row.xml or "").encode()))
    objects += [
        (f"fileinfo-{call.id}.xml", call.request.encode())
        for call in calls
        if call.endpoint == "fileinfo"
    ]
    objects.append(("ncmec-responses.json", _json([call_json(call) for call in calls])))
    objects.append(("submissions.json", _json([_submission_json(s) for s in submissions])))
    return objects


def call_json(call: CybertipCall) -> dict[str, Any]:
    """One call of a report's timeline (its request left out: the XML is kept apart)."""
    return {
        "endpoint": call.endpoint,
        "at": as_utc(call.at).isoformat(),
        "elapsed_ms": call.elapsed_ms,
        "http_status": call.http_status,
        "request_id": call.request_id,
        "response_code": call.response_code,
        "response_description": call.response_description,
        "response": call.response,
        "error": call.error,
    }


def _submission_json(submission: Submission) -> dict[str, Any]:
    uploaded = submission.uploaded_at
    return {
        "submission_id": submission.id,
        "content_ref": submission.content_ref,
        "user_ref": submission.user_ref,
        "uploaded_at": as_utc(uploaded).isoformat() if uploaded else None,
        "content_url": submission.content_url,
        "metadata": submission.extra,
        "signals": submission.signals,
        "matches": submission.matches,
    }


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).encode()
