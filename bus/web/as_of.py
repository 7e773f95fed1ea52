"""The ``as_of`` query parameter: read what the bus believed at a past time."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web


class InvalidAsOf(ValueError):
    """``as_of`` is not an ISO 8601 time."""


def as_of(request: web.Request) -> datetime | None:
    """``?as_of=2024-03-07T08:00:00+08:00`` (a time without zone is UTC); None when absent."""
    raw = request.query.get("as_of")
    if raw is None or raw == "":
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidAsOf(f"as_of must be an ISO 8601 time, e.g. 2024-03-07T08:00:00+08:00; "
                          f"got {raw[:40]!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
