"""Token buckets keyed by client or token; bounded memory (least recently used keys are dropped)."""

from __future__ import annotations

import math
from collections import OrderedDict

from core.clock import Clock


class RateLimiter:
    def __init__(self, clock: Clock, rate_per_s: float, burst: int, capacity: int = 10000) -> None:
        self._clock = clock
        self.rate = rate_per_s
        self.burst = float(burst)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, last time)
        self._capacity = capacity

    def take(self, key: str, cost: float = 1.0) -> float:
        """Spend cost tokens; return 0 when allowed, else the seconds to wait (for Retry-After)."""
        now = self._clock.monotonic()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= cost:
            self._buckets[key] = (tokens - cost, now)
            self._buckets.move_to_end(key)
            self._evict()
            return 0.0
        self._buckets[key] = (tokens, now)
        return (cost - tokens) / self.rate

    def _evict(self) -> None:
        while len(self._buckets) > self._capacity:
            self._buckets.popitem(last=False)


def retry_after_header(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))
