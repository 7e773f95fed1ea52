"""Projection positions on responses, and ``min_position``: read-your-writes on request.

A position is ``topic:partition:next_offset`` per input partition, comma-separated — the store
has applied every event before ``next_offset``. A response's ``X-Projection-Position`` was read
before its data, so the data reflects at least that. An application that just published an
event at offset ``o`` asks ``min_position=<topic>:<partition>:<o+1>`` and the request waits
(bounded) until the projection got there, else ``503`` with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping

from projections.profiles.history import read_positions
from projections.profiles.readers import Readers

__all__ = ["InvalidPosition", "caught_up", "format_positions", "parse_positions"]

_ENTRY = re.compile(r"([A-Za-z0-9._-]{1,249}):(\d{1,6}):(\d{1,19})")
MAX_ENTRIES = 256
Positions = dict[tuple[str, int], int]


class InvalidPosition(ValueError):
    """Not a list of ``topic:partition:offset``."""


def parse_positions(text: str) -> Positions:
    entries = [part.strip() for part in text.split(",") if part.strip()]
    if not entries or len(entries) > MAX_ENTRIES:
        raise InvalidPosition(f"min_position must list 1–{MAX_ENTRIES} topic:partition:offset")
    wanted: Positions = {}
    for entry in entries:
        match = _ENTRY.fullmatch(entry)
        if match is None:
            raise InvalidPosition(f"min_position entries are topic:partition:offset, e.g. "
                                  f"std.person:0:1234; got {entry[:60]!r}")
        key = (match.group(1), int(match.group(2)))
        wanted[key] = max(wanted.get(key, 0), int(match.group(3)))
    return wanted


def format_positions(positions: Mapping[tuple[str, int], int]) -> str:
    return ",".join(f"{t}:{p}:{o}" for (t, p), o in sorted(positions.items()))


def reached(positions: Mapping[tuple[str, int], int], wanted: Mapping[tuple[str, int], int]) -> bool:
    return all(positions.get(key, 0) >= offset for key, offset in wanted.items())


async def caught_up(readers: Readers, wanted: Positions | None, timeout: float
                    ) -> Positions | None:
    """The store's positions once they reach ``wanted`` (None: not within ``timeout``)."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        positions = (await asyncio.to_thread(read_positions, readers) if readers.blocking
                     else read_positions(readers))
        if wanted is None or reached(positions, wanted):
            return positions
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.25)
