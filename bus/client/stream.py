"""What a subscription keeps between connections: the SSE frames, its cursor, its backoff.

Pure bookkeeping, no I/O: :class:`SseParser` turns lines of ``text/event-stream`` into frames,
:class:`Resume` holds the cursor of the last event handed to the application (the
``Last-Event-ID`` of the next connection) and the ids of recent events (so an event the log
holds twice — a producer's retry — is not handed out twice), :class:`Backoff` spaces reconnects.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

__all__ = ["Backoff", "Resume", "SseFrame", "SseParser"]

_HELLO = "subscribed "


@dataclass(frozen=True)
class SseFrame:
    """One dispatched SSE event (``comment`` set for a comment line instead)."""

    id: str | None = None
    event: str | None = None
    data: str | None = None
    comment: str | None = None

    @property
    def hello_cursor(self) -> str | None:
        """The start cursor the bus announces when a subscription opens (``: subscribed …``)."""
        if self.comment is not None and self.comment.startswith(_HELLO):
            return self.comment[len(_HELLO):].strip() or None
        return None


@dataclass
class SseParser:
    """Lines of an event stream (the W3C EventSource rules the bus uses) → frames."""

    _id: str | None = None
    _event: str | None = None
    _data: list[str] = field(default_factory=list)

    def feed(self, line: str) -> SseFrame | None:
        """The frame a line completes (a blank line ends an event), or None."""
        line = line.rstrip("\r\n")
        if line == "":
            if not self._data:
                self._event = None
                return None
            frame = SseFrame(id=self._id, event=self._event, data="\n".join(self._data))
            self._id, self._event, self._data = None, None, []
            return frame
        if line.startswith(":"):
            return SseFrame(comment=line[1:].lstrip(" "))
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            self._id = value
        elif name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None  # retry: and unknown fields are ignored

    def reset(self) -> None:
        """Forget a half-received event (the connection dropped in its middle)."""
        self._id, self._event, self._data = None, None, []


@dataclass
class Resume:
    """The cursor to resume from and the ids already handed out.

    ``cursor`` only moves when an event is handed to the application (:meth:`delivered`) or
    when a connection announces where it starts (:meth:`started`, before any event of it), so a
    reconnect asks for exactly the events after the last one the application saw.
    """

    cursor: str | None = None
    remember: int = 10_000
    #: Events passed over because their id was handed out before.
    duplicates: int = 0
    _recent: deque[str] = field(default_factory=deque)
    _seen: set[str] = field(default_factory=set)

    def started(self, cursor: str | None) -> None:
        if cursor:
            self.cursor = cursor

    def is_new(self, event_id: str | None) -> bool:
        """Whether an event with this id was not handed out yet (no id: new)."""
        return event_id is None or event_id not in self._seen

    def delivered(self, event_id: str | None, cursor: str | None) -> None:
        if cursor:
            self.cursor = cursor
        if event_id is None or event_id in self._seen:
            return
        self._recent.append(event_id)
        self._seen.add(event_id)
        while len(self._recent) > self.remember:
            self._seen.discard(self._recent.popleft())

    def skipped(self, cursor: str | None) -> None:
        """A duplicate was passed over: resume after it too."""
        self.duplicates += 1
        if cursor:
            self.cursor = cursor


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: attempt ``n`` waits uniformly in
    ``[0, min(cap, base · factor**n)]``; ``max_attempts`` None retries forever."""

    base: float = 0.2
    cap: float = 10.0
    factor: float = 2.0
    max_attempts: int | None = None

    def ceiling(self, attempt: int) -> float:
        return float(min(self.cap, self.base * self.factor ** min(attempt, 64)))

    def delay(self, attempt: int, rng: random.Random | None = None,
              retry_after: float | None = None) -> float:
        """Seconds to wait before reconnect ``attempt`` (0-based); never less than the bus's
        ``Retry-After`` when it gave one."""
        jittered = (rng or random).uniform(0.0, self.ceiling(attempt))
        return max(jittered, retry_after or 0.0)

    def gives_up(self, attempt: int) -> bool:
        return self.max_attempts is not None and attempt >= self.max_attempts
