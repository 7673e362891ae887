"""Per-key rate limits: a token bucket per API key, in each worker process.

Buckets live in process memory, so the limit holds per worker: with N gunicorn
workers a key can get up to N times the configured rate. That keeps the check
off the database (it runs on every request); a shared limit would need Redis or a
database round trip, which the issues do not ask for.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate_per_second
        self.burst = burst
        self._monotonic = monotonic
        self._buckets: dict[object, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, key: object) -> float:
        """Take one token for ``key``: 0.0 if allowed, else seconds until one is free."""
        if self.rate <= 0:
            return 0.0
        now = self._monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate

    @staticmethod
    def retry_after(seconds: float) -> str:
        """Retry-After is whole seconds; round up so a client never comes back early."""
        return str(max(1, math.ceil(seconds)))
