"""Prometheus metrics at ``/metrics``: requests, latencies, index size, matches.

Each process keeps its own registry (a scrape of several workers sees each
worker's figures).  Routes are recorded by their template (``/v1/banks/{name}``)
so a metric never carries user input.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "hashmatch_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "hashmatch_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.index_hashes = Gauge(
            "hashmatch_index_pdq_hashes", "PDQ hashes in the index", registry=self.registry
        )
        self.matches = Counter(
            "hashmatch_matches", "Matches reported, by bank", ["bank"], registry=self.registry
        )


def _route(request: Request) -> str:
    """The matched route's template (set by the router), never the raw path."""
    route = request.scope.get("route")
    return str(getattr(route, "path", "unmatched"))


def install(app: FastAPI, metrics: Metrics) -> None:
    @app.middleware("http")
    async def _measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = _route(request)
        metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        metrics.latency.labels(request.method, route).observe(time.perf_counter() - started)
        return response


def exposition(metrics: Metrics) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
