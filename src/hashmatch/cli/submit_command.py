"""``hashmatch submit``, ``hashmatch submissions ...`` and ``hashmatch media-key new``:
submissions from the command line (back-filling a platform's history), and
the key that encrypts kept media."""

from __future__ import annotations

import json
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from hashmatch.cli.context import open_database, settings_of
from hashmatch.cli.errors import EXIT_FAILED, reported_errors
from hashmatch.cli.progress import kernel_notice, say, tracked
from hashmatch.errors import HashmatchError

if TYPE_CHECKING:
    from hashmatch.actions.submissions import Submissions
    from hashmatch.hashing import FileHashes


class RefFrom(StrEnum):
    name = "name"
    path = "path"
    sha256 = "sha256"


class Verdict(StrEnum):
    allow = "allow"
    review = "review"
    block = "block"


def _print_line(record: dict[str, Any]) -> None:
    typer.echo(json.dumps(record))


def _submissions(ctx: typer.Context) -> Submissions:
    from hashmatch.actions.media_vault import load_vault
    from hashmatch.actions.submissions import Submissions

    database = open_database(ctx)
    settings = settings_of(ctx)
    with reported_errors():
        return Submissions(database, settings, load_vault(settings))


def content_ref_of(result: FileHashes, source: RefFrom) -> str:
    """The content_ref a file is submitted under."""
    if source is RefFrom.sha256:
        return result.signals["sha256"]
    return Path(result.path).name if source is RefFrom.name else result.path


def submit_files_command(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(
        ..., exists=True, metavar="PATH", help="Files and folders (recursive)."
    ),
    content_ref_from: RefFrom = typer.Option(
        RefFrom.path,
        "--content-ref-from",
        help="Each file's content_ref: its path as given, its file name, or its SHA-256.",
    ),
    user_ref: str | None = typer.Option(None, "--user-ref", help="The uploader, for every file."),
    keep_media: bool | None = typer.Option(
        None,
        "--keep-media/--no-keep-media",
        help="Keep the bytes (encrypted) where a review or report needs them "
        "(default: setting keep_media).",
    ),
    jobs: int | None = typer.Option(
        None, "--jobs", "-j", min=1, help="Files hashed in parallel (default: all cores)."
    ),
) -> None:
    """Submit files as the platform's uploads: match, decide by the rules, act.

    Prints one JSON line per file: {"path", "submission_id", "verdict",
    "matches", "actions", "replayed"} ("replayed": the content_ref was
    submitted within the window already, and that answer is given), or
    {"path", "error"}.  A progress bar is drawn on stderr.  Exits 1 if a file
    could not be submitted.
    """
    from hashmatch.actions.submissions import References
    from hashmatch.hashing import HashRequest, default_jobs, hash_files, iter_files
    from hashmatch.matching import Matcher
    from hashmatch.media.limits import DecodeLimits
    from hashmatch.media.video import VideoLimits

    settings = settings_of(ctx)
    submissions = _submissions(ctx)
    with reported_errors():
        matcher = Matcher.configured(submissions.database, settings)
    request = HashRequest(
        dihedral=True,
        query_cleanup=settings.match_query_cleanup,
        feature_query=bool(matcher.features),
        limits=DecodeLimits.from_settings(settings),
        video_limits=VideoLimits.from_settings(settings),
    )
    files = list(iter_files(paths))
    verdicts: Counter[str] = Counter()
    results = tracked(
        hash_files(files, request, jobs=jobs or default_jobs()),
        len(files),
        "submitting",
        show=len(files) > 1,
    )
    with kernel_notice():
        for result in results:
            if not result.ok:
                verdicts["failed"] += 1
                _print_line(result.to_json())
                continue
            refs = References(
                content_ref_of(result, content_ref_from), user_ref=user_ref, keep_media=keep_media
            )
            path = Path(result.path)
            try:
                done = submissions.submit_file(matcher, refs, result, path, path.name)
            except HashmatchError as error:
                verdicts["failed"] += 1
                _print_line({"path": result.path, "error": f"{result.path}: {error}"})
                continue
            verdicts[done.answer["verdict"]] += 1
            _print_line({"path": result.path, **done.answer, "replayed": done.replayed})
    outcomes = ("block", "review", "allow", "failed")
    counts = ", ".join(f"{verdicts[name]} {name}" for name in outcomes)
    say(f"submitted {len(files)} file(s): {counts}")
    if verdicts["failed"]:
        raise typer.Exit(EXIT_FAILED)


submissions_app = typer.Typer(
    help="Read the submissions made (docs/submissions.md).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@submissions_app.command("list")
def list_command(
    ctx: typer.Context,
    content_ref: str | None = typer.Option(None, "--content-ref", help="Only this content_ref."),
    user_ref: str | None = typer.Option(None, "--user-ref", help="Only this user_ref."),
    verdict: Verdict | None = typer.Option(None, "--verdict", help="Only this verdict."),
    before: int | None = typer.Option(None, "--before", min=1, help="Ids below this one."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=1000, help="At most this many."),
) -> None:
    """Submissions, newest first, one JSON line each."""
    for record in _submissions(ctx).list(
        content_ref=content_ref,
        user_ref=user_ref,
        verdict=verdict.value if verdict else None,
        before=before,
        limit=limit,
    ):
        _print_line(record)


@submissions_app.command("show")
def show_command(
    ctx: typer.Context,
    submission_id: int = typer.Argument(..., metavar="ID", min=1, help="The submission's id."),
) -> None:
    """One submission: its references, hashes, matches, verdict and actions."""
    submissions = _submissions(ctx)
    with reported_errors():
        typer.echo(json.dumps(submissions.get(submission_id), indent=2))


media_key_app = typer.Typer(
    help="The key that encrypts kept media (docs/submissions.md, 'Kept media').",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@media_key_app.command("new")
def new_key_command(
    path: Path = typer.Argument(..., metavar="PATH", help="The key file to write (a new file)."),
) -> None:
    """Write a fresh random key (base64, mode 0600); never overwrites a file.

    Point the setting media_key_file at it, and keep a copy somewhere safe:
    media kept under a lost key cannot be read.
    """
    from hashmatch.actions.media_vault import write_new_key

    with reported_errors():
        write_new_key(path)
    say(f"wrote a new media key to {path}; set media_key_file to use it")
