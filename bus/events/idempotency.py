"""Idempotency keys of published events: the same key and body answer the same, once.

A request's intent (client, key, body digest, event id) is stored before the event is sent,
its Kafka position after. A retry with the same key and body gets the stored answer — or, if
the first attempt died between the two, sends the event again with the same event id (``ce_id``),
which consumers treat as the same event. The same key with another body is refused.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Claim", "IdempotencyStore", "KeyReused"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS publication (
    client     TEXT NOT NULL,
    key        TEXT NOT NULL,
    digest     TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    answer     TEXT,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (client, key)
);
"""


class KeyReused(Exception):
    """The idempotency key was used before with another body."""


@dataclass(frozen=True)
class Claim:
    event_id: str
    #: The answer of an earlier, completed request with this key (None: send the event).
    answer: dict[str, Any] | None


class IdempotencyStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def claim(self, client: str, key: str, digest: str, event_id: str) -> Claim:
        with self._lock:
            row = self._db.execute("SELECT digest, event_id, answer FROM publication "
                                   "WHERE client = ? AND key = ?", (client, key)).fetchone()
            if row is None:
                self._db.execute("INSERT INTO publication VALUES (?, ?, ?, ?, NULL, ?)",
                                 (client, key, digest, event_id, int(time.time() * 1000)))
                return Claim(event_id, None)
        if row[0] != digest:
            raise KeyReused(key)
        return Claim(str(row[1]), None if row[2] is None else json.loads(row[2]))

    def complete(self, client: str, key: str, answer: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("UPDATE publication SET answer = ? WHERE client = ? AND key = ?",
                             (json.dumps(answer, ensure_ascii=False), client, key))

    def close(self) -> None:
        self._db.close()
