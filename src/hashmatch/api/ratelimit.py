"""A per-key rate limit: a token bucket for each API key, in each worker process.

    limiter = RateLimiter(per_second=50, burst=100)
    wait = limiter.wait_for("key-prefix")   # 0.0: go ahead; else seconds to wait

Each worker keeps its own buckets, so with N workers a key may make up to N
times the rate in all; that keeps the check free of any shared state.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, per_second: float, burst: int) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("a rate limit needs per_second > 0 and burst >= 1")
        self.per_second = per_second
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def wait_for(self, key: str, now: float | None = None) -> float:
        """Take one request from ``key``'s bucket: 0.0 if it may go now, else how
        many seconds until it may."""
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            bucket.tokens = min(
                float(self.burst), bucket.tokens + (now - bucket.updated) * self.per_second
            )
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.per_second
