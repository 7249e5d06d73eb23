"""Prometheus metrics at ``/metrics``: requests, latencies, index size, matches.

Each process keeps its own registry (a scrape of several workers sees each
worker's figures).  Routes are recorded by their template (``/v1/banks/{name}``)
so a metric never carries user input.
"""

from __future__ import annotations

from fastapi import Response
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
        self.outbox_depth = Gauge(
            "hashmatch_outbox_depth",
            "Webhook deliveries waiting (pending), read at each scrape",
            registry=self.registry,
        )
        self.outbox_oldest = Gauge(
            "hashmatch_outbox_oldest_pending_seconds",
            "How long the oldest pending webhook delivery has waited, read at each scrape",
            registry=self.registry,
        )
        self.actions = Counter(
            "hashmatch_actions",
            "Actions taken on submissions, by type and status",
            ["action", "status"],
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one response and its time, by route template (called by the
        access log's middleware, which times every request once for both)."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


def exposition(metrics: Metrics) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
