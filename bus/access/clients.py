"""Client applications and departments allowed to call the bus, and their API keys.

Each client is one identity (an application, a department's system, an operator) with what it
was granted: projections, field classifications, purposes and roles. Nothing is granted by
default. The store is a SQLite file in the state directory; keys are kept as digests only,
and a rotation lets the old key live on for a grace period so callers can switch.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bus.access.credentials import matches, new_api_key, parse_api_key

__all__ = ["CLASSIFICATIONS", "ROLES", "Client", "ClientError", "ClientStore", "IssuedKey"]

#: PIPL-based classification, least to most sensitive (as in the canonical schemas).
CLASSIFICATIONS = ("public", "internal", "personal", "sensitive_personal")
#: ``reader`` queries and subscribes; ``operator`` also acts (replay, rebuild, ops pages).
ROLES = ("reader", "operator")
_ID = re.compile(r"[a-z0-9][a-z0-9._-]{1,62}")
_PURPOSE = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS client (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    roles           TEXT NOT NULL,
    projections     TEXT NOT NULL,
    classifications TEXT NOT NULL,
    purposes        TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    revoked_ms      INTEGER,
    publishes       TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS api_key (
    key_id      TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES client (id),
    digest      TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER
);
"""


class ClientError(ValueError):
    """A request to the client store that cannot be carried out (bad name, unknown client)."""


@dataclass(frozen=True)
class Client:
    id: str
    name: str
    roles: frozenset[str] = field(default_factory=frozenset)
    projections: frozenset[str] = field(default_factory=frozenset)
    classifications: frozenset[str] = field(default_factory=frozenset)
    purposes: frozenset[str] = field(default_factory=frozenset)
    created_ms: int = 0
    revoked_ms: int | None = None
    #: Canonical entities it may publish events of (``POST /v1/events/…``).
    publishes: frozenset[str] = field(default_factory=frozenset)

    @property
    def active(self) -> bool:
        return self.revoked_ms is None

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "roles": sorted(self.roles),
                "projections": sorted(self.projections),
                "classifications": [c for c in CLASSIFICATIONS if c in self.classifications],
                "purposes": sorted(self.purposes), "publishes": sorted(self.publishes),
                "created_ms": self.created_ms, "revoked_ms": self.revoked_ms}


@dataclass(frozen=True)
class IssuedKey:
    client: Client
    key_id: str
    text: str


def _now_ms() -> int:
    return int(time.time() * 1000)


def _checked(values: Iterable[str], allowed: Iterable[str] | None, what: str,
             pattern: re.Pattern[str] | None = None) -> frozenset[str]:
    chosen = frozenset(v.strip() for v in values if v.strip())
    if allowed is not None:
        unknown = sorted(chosen - set(allowed))
        if unknown:
            raise ClientError(f"unknown {what}: {', '.join(unknown)} "
                              f"(one of: {', '.join(allowed)})")
    if pattern is not None:
        bad = sorted(v for v in chosen if not pattern.fullmatch(v))
        if bad:
            raise ClientError(f"invalid {what}: {', '.join(bad)} (lower-case letters, digits, . _ -)")
    return chosen


class ClientStore:
    """The clients file; safe to share between the event loop and worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        self._db.row_factory = sqlite3.Row
        #: key id → (digest, expiry, client), valid while the file is unchanged.
        self._keys: dict[str, tuple[str, int | None, Client]] = {}
        self._version: int | None = None
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        columns = {str(r[1]) for r in self._db.execute("PRAGMA table_info(client)")}
        if "publishes" not in columns:  # a store written before publishing existed
            self._db.execute("ALTER TABLE client ADD COLUMN publishes TEXT NOT NULL DEFAULT '[]'")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._keys.clear()

    def add(self, client_id: str, name: str, *, roles: Iterable[str] = ("reader",),
            projections: Iterable[str] = (), classifications: Iterable[str] = (),
            purposes: Iterable[str] = (), known_projections: Iterable[str] | None = None,
            publishes: Iterable[str] = (), known_entities: Iterable[str] | None = None
            ) -> IssuedKey:
        """Register a client and issue its first key (shown once)."""
        if not _ID.fullmatch(client_id):
            raise ClientError(f"invalid client id {client_id!r}: 2–63 lower-case letters, digits, "
                              ". _ -, starting with a letter or digit")
        client = Client(
            client_id, name.strip() or client_id, _checked(roles, ROLES, "role"),
            _checked(projections, None if known_projections is None else tuple(known_projections),
                     "projection"),
            _checked(classifications, CLASSIFICATIONS, "classification"),
            _checked(purposes, None, "purpose", _PURPOSE), _now_ms(),
            publishes=_checked(publishes, None if known_entities is None else tuple(known_entities),
                               "entity"))
        key = new_api_key()
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM client WHERE id = ?", (client_id,)).fetchone():
                raise ClientError(f"a client {client_id!r} exists already")
            db.execute("INSERT INTO client VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)", (
                client.id, client.name, *(json.dumps(sorted(s)) for s in (
                    client.roles, client.projections, client.classifications, client.purposes)),
                client.created_ms, json.dumps(sorted(client.publishes))))
            db.execute("INSERT INTO api_key VALUES (?, ?, ?, ?, NULL)",
                       (key.key_id, client.id, key.digest, client.created_ms))
        return IssuedKey(client, key.key_id, key.text)

    def get(self, client_id: str) -> Client | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM client WHERE id = ?", (client_id,)).fetchone()
        return None if row is None else _client(row)

    def clients(self) -> list[tuple[Client, int]]:
        """Every client with its number of usable keys."""
        now = _now_ms()
        with self._lock:
            rows = self._db.execute(
                "SELECT c.*, (SELECT count(*) FROM api_key k WHERE k.client_id = c.id AND "
                "(k.expires_ms IS NULL OR k.expires_ms > ?)) AS usable FROM client c ORDER BY c.id",
                (now,)).fetchall()
        return [(_client(row), int(row["usable"])) for row in rows]

    def revoke(self, client_id: str) -> Client:
        """Revoke the client and every key of it, at once."""
        now = _now_ms()
        with self._transaction() as db:
            if db.execute("UPDATE client SET revoked_ms = COALESCE(revoked_ms, ?) WHERE id = ?",
                          (now, client_id)).rowcount == 0:
                raise ClientError(f"no client {client_id!r}")
            db.execute("UPDATE api_key SET expires_ms = ? WHERE client_id = ? AND "
                       "(expires_ms IS NULL OR expires_ms > ?)", (now, client_id, now))
        client = self.get(client_id)
        assert client is not None
        return client

    def rotate(self, client_id: str, *, grace_seconds: float = 0) -> IssuedKey:
        """A new key; the client's current keys stop working after ``grace_seconds``."""
        now = _now_ms()
        key = new_api_key()
        with self._transaction() as db:
            row = db.execute("SELECT * FROM client WHERE id = ?", (client_id,)).fetchone()
            if row is None:
                raise ClientError(f"no client {client_id!r}")
            if row["revoked_ms"] is not None:
                raise ClientError(f"client {client_id!r} is revoked; add a new one instead")
            until = now + int(grace_seconds * 1000)
            db.execute("UPDATE api_key SET expires_ms = ? WHERE client_id = ? AND "
                       "(expires_ms IS NULL OR expires_ms > ?)", (until, client_id, until))
            db.execute("INSERT INTO api_key VALUES (?, ?, ?, ?, NULL)",
                       (key.key_id, client_id, key.digest, now))
        return IssuedKey(_client(row), key.key_id, key.text)

    def authenticate(self, key_text: str) -> Client | None:
        """The active client owning this unexpired key, or None (never says which part failed)."""
        parsed = parse_api_key(key_text)
        if parsed is None:
            return None
        key_id, secret = parsed
        with self._lock:
            self._forget_if_changed()
            known = self._keys.get(key_id)
            if known is None:
                row = self._db.execute(
                    "SELECT k.digest AS key_digest, k.expires_ms AS key_expires_ms, c.* "
                    "FROM api_key k JOIN client c ON c.id = k.client_id WHERE k.key_id = ?",
                    (key_id,)).fetchone()
                if row is None:
                    return None
                known = self._keys[key_id] = (row["key_digest"], row["key_expires_ms"], _client(row))
        digest, expires_ms, client = known
        if not matches(secret, digest):
            return None
        if expires_ms is not None and expires_ms <= _now_ms():
            return None
        return client if client.active else None

    def _forget_if_changed(self) -> None:
        """Drop remembered keys when any connection changed the file since (``data_version``
        moves on every commit of another connection; this one's own writes clear it too)."""
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self._keys.clear()
            self._version = version


def _client(row: sqlite3.Row) -> Client:
    roles, projections, classifications, purposes, publishes = (
        frozenset(json.loads(str(row[name]))) for name in (
            "roles", "projections", "classifications", "purposes", "publishes"))
    revoked = row["revoked_ms"]
    return Client(str(row["id"]), str(row["name"]), roles, projections, classifications, purposes,
                  int(row["created_ms"]), None if revoked is None else int(revoked), publishes)
