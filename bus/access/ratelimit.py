"""Per-client rate limits: a token bucket per client (or citizen), in the API process."""

from __future__ import annotations

import time
from collections import OrderedDict

__all__ = ["RateLimiter"]


class RateLimiter:
    """``rate`` requests per second on average, bursts up to ``burst``.

    Buckets live in memory, least recently used forgotten past ``max_clients`` (a forgotten
    bucket starts full again, which only ever errs towards letting a request through).
    """

    def __init__(self, rate: float, burst: int, *, max_clients: int = 100_000) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst ≥ 1")
        self.rate, self.burst, self.max_clients = rate, burst, max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, who: str, now: float | None = None) -> float | None:
        """None when ``who`` may go on; else the seconds until it may try again."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(who, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        wait = None
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[who] = (tokens, now)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait
