"""The settings page (admins, read-only, secrets masked) and the system page
(the figures of ``/status`` and ``/metrics``, for anyone who may read).

A setting is a secret when its name says so (password, secret, token, key,
credential) and it is not a number or a switch (``webhook_secret_grace_hours``
is shown): the page says only whether it is set.  A URL's password is masked
wherever it appears (``postgresql://user:***@host/db``).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from hashmatch import __version__
from hashmatch.actions.outbox import backlog
from hashmatch.api.metrics import Metrics
from hashmatch.settings import ENV_PREFIX, Settings
from hashmatch.web.access import PageRoute, Viewer, page, service_of
from hashmatch.web.dashboard import index_state
from hashmatch.web.rendering import render

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

SECRET_WORDS = ("password", "passwd", "secret", "token", "key", "credential")
MASK = "***"
#: scheme://user:password@ -> the password, in any text.
_URL_PASSWORD = re.compile(
    r"(?P<start>[a-z][a-z0-9+.-]*://[^/:@\s]*:)(?P<password>[^@\s/]+)@", re.I
)


@dataclass(frozen=True)
class SettingRow:
    name: str
    variable: str
    value: str
    secret: bool
    source: str
    description: str


def mask_urls(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _URL_PASSWORD.sub(lambda found: f"{found['start']}{MASK}@", text)


def is_secret(name: str, value: Any) -> bool:
    if isinstance(value, bool | int | float):
        return False
    return any(word in name.lower() for word in SECRET_WORDS)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(mask_urls(str(item)) for item in value) or "(none)"
    if value is None or value == "":
        return "(not set)"
    return mask_urls(str(value))


def _default(settings: Settings, name: str) -> Any:
    if name == "database_url":  # empty means SQLite in the data folder
        return f"sqlite:///{settings.data_dir / 'hashmatch.db'}"
    default = Settings.model_fields[name].get_default(call_default_factory=True)
    return default.expanduser() if isinstance(default, Path) else default


def _source(settings: Settings, name: str, value: Any) -> str:
    """Where a value came from, as far as this process can tell: a value the
    same as the default is called the default."""
    variable = f"{ENV_PREFIX}{name.upper()}"
    if value == _default(settings, name):
        return "default"
    if variable in os.environ:
        return "environment"
    return "config file or flag"


def setting_rows(settings: Settings) -> list[SettingRow]:
    """Every setting with its value as the page may show it."""
    rows = []
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        secret = is_secret(name, value)
        if secret:
            shown = "(set, hidden)" if value not in (None, "") else "(not set)"
        else:
            shown = _shown(value)
        rows.append(
            SettingRow(
                name=name,
                variable=f"{ENV_PREFIX}{name.upper()}",
                value=shown,
                secret=secret,
                source=_source(settings, name, value),
                description=field.description or "",
            )
        )
    return rows


@dataclass(frozen=True)
class RouteFigures:
    """This worker's requests to one route: how many, by status class, and how long."""

    method: str
    route: str
    requests: int
    by_status: dict[str, int]
    mean_ms: float
    #: The smallest latency bucket holding 95% of the requests ("≤ 50 ms").
    p95_ms: float | None


def route_figures(metrics: Metrics) -> list[RouteFigures]:
    """The request counter and latency histogram of ``/metrics``, per route,
    busiest first."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for family in metrics.requests.collect():
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            key = (sample.labels["method"], sample.labels["route"])
            status = sample.labels["status"][:1] + "xx"
            per_status = counts.setdefault(key, {})
            per_status[status] = per_status.get(status, 0) + int(sample.value)
    sums: dict[tuple[str, str], float] = {}
    buckets: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for family in metrics.latency.collect():
        for sample in family.samples:
            key = (sample.labels["method"], sample.labels["route"])
            if sample.name.endswith("_sum"):
                sums[key] = sample.value
            elif sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                buckets.setdefault(key, []).append((bound, sample.value))
    figures = []
    for key, per_status in counts.items():
        total = sum(per_status.values())
        seen = sorted(buckets.get(key, []))
        observed = seen[-1][1] if seen else 0
        p95 = next((bound for bound, count in seen if count >= 0.95 * observed), None)
        figures.append(
            RouteFigures(
                method=key[0],
                route=key[1],
                requests=total,
                by_status=dict(sorted(per_status.items())),
                mean_ms=1000 * sums.get(key, 0.0) / observed if observed else 0.0,
                p95_ms=None if p95 is None or math.isinf(p95) else p95 * 1000,
            )
        )
    return sorted(figures, key=lambda figure: (-figure.requests, figure.route, figure.method))


def labelled_counts(counter: Any, *labels: str) -> list[tuple[tuple[str, ...], int]]:
    """A counter's totals by its labels (matches by bank, actions by type and status)."""
    found = []
    for family in counter.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                found.append((tuple(sample.labels[label] for label in labels), int(sample.value)))
    return sorted(found)


@router.get("/settings")
def settings_page(request: Request, viewer: Viewer = Depends(page("admin"))) -> Response:
    settings = service_of(request).settings
    return render(request, "settings.html", viewer, settings=setting_rows(settings))


@router.get("/system")
def system_page(request: Request, viewer: Viewer = Depends(page("read"))) -> Response:
    service = service_of(request)
    metrics: Metrics = request.app.state.metrics
    return render(
        request,
        "system.html",
        viewer,
        index=index_state(service),
        outbox=backlog(service.database),
        version=__version__,
        engine=service.database.dialect,
        workers=service.settings.workers,
        pid=os.getpid(),
        routes=route_figures(metrics),
        matches=labelled_counts(metrics.matches, "bank"),
        actions=labelled_counts(metrics.actions, "action", "status"),
    )
