"""When to try a failed delivery again: exponential backoff with full jitter.

Attempt ``n`` (1-based) that failed waits a uniformly random time in
``[0, min(cap, base · 2^(n-1))]`` before attempt ``n+1`` ("full jitter": receivers that failed
together do not come back together); after ``max_attempts`` the event is dead-lettered.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: float = 1.0
    cap_seconds: float = 600.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_seconds < 0 or self.cap_seconds < self.base_seconds:
            raise ValueError("max_attempts ≥ 1 and 0 ≤ base_seconds ≤ cap_seconds")

    def ceiling(self, attempt: int) -> float:
        """The longest wait after failed attempt ``attempt``."""
        return min(self.cap_seconds, self.base_seconds * 2.0 ** min(attempt - 1, 60))

    def delay(self, attempt: int) -> float:
        """How long to wait after failed attempt ``attempt`` before the next one."""
        return self.rng.uniform(0.0, self.ceiling(attempt))

    def exhausted(self, attempt: int) -> bool:
        """Attempt ``attempt`` was the last one: dead-letter the event."""
        return attempt >= self.max_attempts
