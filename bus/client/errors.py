"""The SDK's errors: one hierarchy, mapped from the bus's problem+json answers (RFC 9457)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["BusError", "FieldError", "NotAuthorized", "NotFound", "RateLimited", "Unavailable",
           "ValidationFailed", "error_from"]


@dataclass(frozen=True)
class FieldError:
    """One field that does not fit the event's schema or the data standard."""

    field: str
    message: str


class BusError(Exception):
    """An answer of the bus that is not a success; ``problem`` is its problem+json body."""

    def __init__(self, status: int, problem: Mapping[str, Any] | None = None) -> None:
        self.status = status
        self.problem: dict[str, Any] = dict(problem or {})
        self.type: str = str(self.problem.get("type", "about:blank"))
        self.title: str = str(self.problem.get("title", f"HTTP {status}"))
        self.detail: str | None = self.problem.get("detail")
        super().__init__(f"{status} {self.title}" + (f": {self.detail}" if self.detail else ""))


class NotAuthorized(BusError):
    """401 (no or a bad key) or 403 (not granted: projection, classification, purpose, publish)."""


class NotFound(BusError):
    """404: no such profile, or no such event type."""


class ValidationFailed(BusError):
    """400/422: a parameter or an event the bus refused; ``errors`` lists every field error."""

    def __init__(self, status: int, problem: Mapping[str, Any] | None = None) -> None:
        super().__init__(status, problem)
        raw = self.problem.get("errors") or []
        self.errors: list[FieldError] = [FieldError(str(e.get("field", "")), str(e.get("message", "")))
                                         for e in raw if isinstance(e, Mapping)]
        if not self.errors and "parameter" in self.problem:
            self.errors = [FieldError(str(self.problem["parameter"]), self.detail or self.title)]


class RateLimited(BusError):
    """429: the client's token bucket is empty; ``retry_after`` seconds until it is not."""

    def __init__(self, status: int, problem: Mapping[str, Any] | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(status, problem)
        self.retry_after = retry_after


class Unavailable(BusError):
    """503 (Kafka, the audit log or a projection not there yet) or no connection at all;
    ``retry_after`` is the bus's hint, when it gave one."""

    def __init__(self, status: int, problem: Mapping[str, Any] | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(status, problem)
        self.retry_after = retry_after


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds (only the delta-seconds form is sent by the bus)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def error_from(status: int, body: Any, headers: Mapping[str, str] | None = None) -> BusError:
    """The exception for an answer of ``status`` with problem+json ``body`` (any JSON, or None)."""
    problem: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    retry_after = retry_after_seconds((headers or {}).get("Retry-After"))
    if status in (401, 403):
        return NotAuthorized(status, problem)
    if status == 404:
        return NotFound(status, problem)
    if status in (400, 422):
        return ValidationFailed(status, problem)
    if status == 429:
        return RateLimited(status, problem, retry_after)
    if status in (502, 503, 504):
        return Unavailable(status, problem, retry_after)
    return BusError(status, problem)
