"""The webhook store: registrations, each webhook's log positions, and the delivery log.

One SQLite file (``$BUS_STATE_DIR/webhooks/webhooks.sqlite``, WAL, mode 0600: it holds the
signing secrets, which HMAC needs in clear) shared by the API, which registers webhooks, and
the dispatcher, which delivers. The dispatcher writes an event's last attempt and the webhook's
next position in one transaction, so a restart resumes right after the last event that was
delivered or dead-lettered: an event is never skipped, and one already answered 2xx is not sent
again.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bus.webhooks.signing import new_secret

__all__ = ["Attempt", "Webhook", "WebhookStore"]

Positions = dict[tuple[str, int], int]
_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook (
    id TEXT PRIMARY KEY,
    client TEXT NOT NULL,
    url TEXT NOT NULL,
    filters TEXT NOT NULL,
    purpose TEXT,
    description TEXT NOT NULL,
    start TEXT NOT NULL,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_until_ms INTEGER,
    state TEXT NOT NULL,
    state_reason TEXT,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_by_client ON webhook (client, created_ms);
CREATE TABLE IF NOT EXISTS position (
    webhook TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (webhook, topic, partition)
);
CREATE TABLE IF NOT EXISTS delivery (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    duration_ms REAL NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS delivery_by_webhook ON delivery (webhook, seq);
CREATE INDEX IF NOT EXISTS delivery_by_event ON delivery (webhook, event_id);
"""
#: What an attempt came to: the event is done (``delivered``, ``dead_lettered``), will be tried
#: again (``failed``), or ended the webhook (``disabled``, on 410 Gone).
OUTCOMES = ("delivered", "failed", "dead_lettered", "disabled")


@dataclass(frozen=True)
class Webhook:
    id: str
    client: str
    url: str
    types: tuple[str, ...]
    subject: str | None
    department: str | None
    purpose: str | None
    description: str
    start: str
    state: str
    state_reason: str | None
    created_ms: int
    secrets: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        """What the API shows (never the secret)."""
        return {"id": self.id, "url": self.url,
                "filters": {"types": list(self.types), "subject": self.subject,
                            "department": self.department},
                "purpose": self.purpose, "description": self.description, "start": self.start,
                "state": self.state, "state_reason": self.state_reason,
                "created": _iso(self.created_ms)}


@dataclass(frozen=True)
class Attempt:
    """One POST of one event to one webhook, as the delivery log keeps it."""

    webhook: str
    event_id: str
    event_type: str
    topic: str
    partition: int
    offset: int
    attempt: int
    at_ms: int
    status: int | None
    error: str | None
    duration_ms: float
    outcome: str

    def as_json(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "event_type": self.event_type,
                "position": f"{self.topic}:{self.partition}:{self.offset}",
                "attempt": self.attempt, "at": _iso(self.at_ms), "status": self.status,
                "error": self.error, "duration_ms": round(self.duration_ms, 1),
                "outcome": self.outcome}


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def _now_ms() -> int:
    return int(time.time() * 1000)


class WebhookStore:
    """The webhooks file; safe to share between the event loop and worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not path.exists()
        self._lock = threading.Lock()
        # writes open BEGIN IMMEDIATE implicitly; ``with self._db`` commits or rolls back
        self._db = sqlite3.connect(path, isolation_level="IMMEDIATE", check_same_thread=False,
                                   timeout=10)
        self._db.row_factory = sqlite3.Row
        if fresh:
            os.chmod(path, 0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._db:
            yield self._db

    def _query(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # registrations (the API)

    def register(self, client: str, url: str, types: list[str], subject: str | None,
                 department: str | None, *, purpose: str | None = None, description: str = "",
                 start: str = "end") -> tuple[Webhook, str]:
        """A new webhook and its secret (shown once)."""
        webhook_id = "wh_" + uuid.uuid4().hex
        secret = new_secret()
        filters = json.dumps({"types": types, "subject": subject, "department": department},
                             ensure_ascii=False)
        with self._transaction() as db:
            db.execute("INSERT INTO webhook (id, client, url, filters, purpose, description, start, "
                       "secret, state, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?)",
                       (webhook_id, client, url, filters, purpose, description, start, secret,
                        _now_ms()))
        found = self.get(webhook_id)
        assert found is not None
        return found, secret

    def get(self, webhook_id: str) -> Webhook | None:
        rows = self._query("SELECT * FROM webhook WHERE id = ?", webhook_id)
        return _webhook(rows[0]) if rows else None

    def of_client(self, client: str) -> list[Webhook]:
        return [_webhook(r) for r in self._query(
            "SELECT * FROM webhook WHERE client = ? ORDER BY created_ms, id", client)]

    def active(self) -> list[Webhook]:
        return [_webhook(r) for r in self._query(
            "SELECT * FROM webhook WHERE state = 'active' ORDER BY created_ms, id")]

    def delete(self, webhook_id: str) -> bool:
        with self._transaction() as db:
            gone = db.execute("DELETE FROM webhook WHERE id = ?", (webhook_id,)).rowcount
            db.execute("DELETE FROM position WHERE webhook = ?", (webhook_id,))
            db.execute("DELETE FROM delivery WHERE webhook = ?", (webhook_id,))
        return bool(gone)

    def rotate(self, webhook_id: str, *, grace_seconds: float) -> str | None:
        """A new secret; the old one keeps signing too for ``grace_seconds``."""
        secret = new_secret()
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE webhook SET previous_secret = secret, previous_until_ms = ?, secret = ? "
                "WHERE id = ?", (_now_ms() + int(grace_seconds * 1000), secret, webhook_id)).rowcount
        return secret if changed else None

    # positions and the delivery log (the dispatcher)

    def positions(self, webhook_id: str) -> Positions:
        return {(r["topic"], r["partition"]): r["next_offset"] for r in self._query(
            "SELECT topic, partition, next_offset FROM position WHERE webhook = ?", webhook_id)}

    def save_positions(self, webhook_id: str, positions: Mapping[tuple[str, int], int]) -> None:
        with self._transaction() as db:
            _save(db, webhook_id, positions)

    def attempts_made(self, webhook_id: str, event_id: str) -> int:
        rows = self._query("SELECT max(attempt) FROM delivery WHERE webhook = ? AND event_id = ?",
                           webhook_id, event_id)
        return int(rows[0][0] or 0)

    def record(self, attempt: Attempt, positions: Mapping[tuple[str, int], int] | None = None,
               *, disable: str | None = None) -> None:
        """Log ``attempt``; in the same transaction move the webhook to ``positions`` (the event
        is done) and, with ``disable``, turn the webhook off with that reason."""
        if attempt.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {attempt.outcome!r}")
        with self._transaction() as db:
            logged = db.execute(
                "INSERT INTO delivery (webhook, event_id, event_type, topic, partition, offset, "
                "attempt, at_ms, status, error, duration_ms, outcome) "
                "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS "
                "(SELECT 1 FROM webhook WHERE id = ?)",
                (attempt.webhook, attempt.event_id, attempt.event_type, attempt.topic,
                 attempt.partition, attempt.offset, attempt.attempt, attempt.at_ms,
                 attempt.status, attempt.error, attempt.duration_ms, attempt.outcome,
                 attempt.webhook)).rowcount
            if not logged:
                return  # deleted meanwhile: nothing to keep
            if positions is not None:
                _save(db, attempt.webhook, positions)
            if disable is not None:
                db.execute("UPDATE webhook SET state = 'disabled', state_reason = ? WHERE id = ?",
                           (disable, attempt.webhook))

    def disable(self, webhook_id: str, reason: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE webhook SET state = 'disabled', state_reason = ? WHERE id = ?",
                       (reason, webhook_id))

    def deliveries(self, webhook_id: str, *, before: int | None = None, limit: int = 50
                   ) -> tuple[list[Attempt], int | None]:
        """The log, newest first, ``limit`` at a time; the cursor of the next page (or None)."""
        rows = self._query(
            "SELECT * FROM delivery WHERE webhook = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
            webhook_id, before if before is not None else 2**62, limit + 1)
        page = rows[:limit]
        attempts = [Attempt(r["webhook"], r["event_id"], r["event_type"], r["topic"], r["partition"],
                            r["offset"], r["attempt"], r["at_ms"], r["status"], r["error"],
                            r["duration_ms"], r["outcome"]) for r in page]
        return attempts, (int(page[-1]["seq"]) if len(rows) > limit else None)


def _save(db: sqlite3.Connection, webhook_id: str, positions: Mapping[tuple[str, int], int]) -> None:
    db.executemany("INSERT INTO position (webhook, topic, partition, next_offset) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (webhook, topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
                   [(webhook_id, topic, partition, offset)
                    for (topic, partition), offset in positions.items()])


def _webhook(row: sqlite3.Row) -> Webhook:
    filters = json.loads(row["filters"])
    secrets = [row["secret"]]
    if row["previous_secret"] and (row["previous_until_ms"] or 0) > _now_ms():
        secrets.append(row["previous_secret"])
    return Webhook(row["id"], row["client"], row["url"], tuple(filters["types"]), filters["subject"],
                   filters["department"], row["purpose"], row["description"], row["start"],
                   row["state"], row["state_reason"], row["created_ms"], tuple(secrets))
