"""The read store of a profile projection: contributions, versions, positions, outbox.

One transaction per batch of input events holds everything they change: the contributions of
each source record, every affected profile's new version, new conflicts, the messages to
publish (outbox) and the input positions. Within the batch each event is applied in log order
exactly as it would be alone — its own versions, believed at its own Kafka time — so a batch
writes the very history one-by-one application writes; only the commit is shared. An event at
or before the stored position changes nothing, so a redelivered event after a crash is
harmless, and a crash mid-batch leaves none of the batch behind.

Every version of a profile is kept with the time the bus came to believe it — the Kafka
timestamp of the event that caused it — so :meth:`ProfileStore.profile` can answer *as of* any
past time, and a rebuild from the log writes the very same versions.

The store runs on SQLite (a file, the default) or PostgreSQL (a schema per projection) with one
code path: the SQL is written once, and a small :class:`Database` seam per engine supplies
placeholders, DDL spelling, the layout version and how writers take turns (SQLite's
``BEGIN IMMEDIATE``, a PostgreSQL advisory lock — :mod:`projections.profiles.pg`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from projections.profiles.location import StoreLocation, live_store
from projections.profiles.model import Contribution, Provenance, derive
from projections.profiles.pg import PostgresDatabase, PostgresSchema
from projections.read_store import Database, ReadStore, SqliteConnection, connect

__all__ = ["FORMAT", "Change", "Database", "InputPosition", "ProfileStore", "StoredProfile",
           "connect", "open_database", "open_reader", "read_profile"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS contribution (
    source_topic TEXT NOT NULL,
    source_key   TEXT NOT NULL,
    subject      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    provenance   TEXT NOT NULL,
    scalars      TEXT NOT NULL,
    facet        TEXT,
    item         TEXT NOT NULL,
    PRIMARY KEY (source_topic, source_key, subject, seq)
);
CREATE INDEX IF NOT EXISTS contribution_by_subject ON contribution (subject);
CREATE TABLE IF NOT EXISTS profile (
    subject        TEXT PRIMARY KEY,
    version        INTEGER NOT NULL,
    believed_at_ms INTEGER NOT NULL,
    document       TEXT NOT NULL,
    checksum       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS profile_version (
    subject         TEXT NOT NULL,
    version         INTEGER NOT NULL,
    believed_at_ms  INTEGER NOT NULL,
    document        TEXT,
    cause_topic     TEXT NOT NULL,
    cause_partition INTEGER NOT NULL,
    cause_offset    INTEGER NOT NULL,
    PRIMARY KEY (subject, version)
);
CREATE TABLE IF NOT EXISTS conflict (
    key         TEXT PRIMARY KEY,
    subject     TEXT NOT NULL,
    document    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    key             TEXT NOT NULL,
    body            TEXT,
    cause_topic     TEXT NOT NULL,
    cause_partition INTEGER NOT NULL,
    cause_offset    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox_lease (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS profile_search (
    field   TEXT NOT NULL,
    value   TEXT NOT NULL,
    subject TEXT NOT NULL,
    PRIMARY KEY (field, value, subject)
);
CREATE INDEX IF NOT EXISTS profile_search_by_subject ON profile_search (subject);
CREATE TABLE IF NOT EXISTS projection_position (
    topic       TEXT NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
"""


@dataclass(frozen=True)
class InputPosition:
    """Where an input event sits in Kafka, and its Kafka timestamp."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int = 0


@dataclass(frozen=True)
class Change:
    """One input event for the store: what the record ``source_key`` of ``at.topic`` now says
    (``contributions`` None: the record is gone)."""

    at: InputPosition
    source_key: str
    contributions: Sequence[Contribution] | None


@dataclass(frozen=True)
class StoredProfile:
    subject: str
    version: int
    believed_at_ms: int
    document: dict[str, Any]


#: Fields a profile can be searched by (those of them the projection's survivorship governs).
SEARCHABLE = ("name", "birth_date", "division_code", "legal_rep_identity_number",
              "legal_rep_name", "status_code")


def searchable_text(value: object) -> str | None:
    """How a value is indexed and looked up: its text without any whitespace."""
    if value is None:
        return None
    text = "".join(str(value).split())
    return text or None


#: Layout version of the store file (``PRAGMA user_version``). A store of another layout is
#: set aside on open and rebuilt from the log — every read store is derived.
FORMAT = 3


def _open_current_format(path: Path) -> sqlite3.Connection:
    connection = connect(path)
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    tables = connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    if version == FORMAT or not tables:
        connection.execute(f"PRAGMA user_version = {FORMAT}")
        return connection
    connection.close()
    aside = path.with_name(f"{path.name}.format{version}")
    log.warning("%s has layout %s, not %s: set aside as %s; it is rebuilt from the log",
                path, version, FORMAT, aside.name)
    for suffix in ("", "-wal", "-shm"):
        old = Path(f"{path}{suffix}")
        if old.exists():
            old.replace(Path(f"{aside}{suffix}"))
    connection = connect(path)
    connection.execute(f"PRAGMA user_version = {FORMAT}")
    return connection


class SqliteDatabase(SqliteConnection):
    """A store file, set aside first if it has another layout (:data:`FORMAT`)."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        super().__init__(connect(path, readonly=True) if readonly else _open_current_format(path))


def open_database(location: StoreLocation) -> Database:
    """A writer's connection to the store at ``location``, its tables created."""
    if isinstance(location, PostgresSchema):
        postgres = PostgresDatabase(location)
        postgres.prepare(_SCHEMA, FORMAT)
        return postgres
    sqlite = SqliteDatabase(location)
    sqlite.connection.executescript(_SCHEMA)
    return sqlite


def open_reader(default: StoreLocation) -> Database | None:
    """A read-only connection to the live store of ``default`` (None: no store file yet)."""
    location = live_store(default)  # a rebuild may have switched readers to a new file
    if isinstance(location, PostgresSchema):
        return PostgresDatabase(location, readonly=True)
    if not location.exists():
        return None
    return SqliteDatabase(location, readonly=True)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class ProfileStore(ReadStore):
    """Writes one projection's profiles (a SQLite file or a PostgreSQL schema); each instance
    holds one connection, and instances in any process take turns writing (positions, the
    outbox lease: :class:`~projections.read_store.ReadStore`)."""

    def __init__(self, path: StoreLocation, authority: Mapping[str, str]) -> None:
        self.path = path
        self.authority = dict(authority)
        self._searchable = tuple(f for f in SEARCHABLE if f in self.authority)
        super().__init__(open_database(path))

    # -- applying events ------------------------------------------------------------------

    def apply(self, at: InputPosition, source_key: str,
              contributions: Sequence[Contribution] | None) -> list[str] | None:
        """Replace what the record ``source_key`` of ``at.topic`` says (None: it is gone).

        Returns the subjects whose profile changed, or None when ``at`` was applied before.
        """
        return self.apply_batch([Change(at, source_key, contributions)])[0]

    def apply_batch(self, changes: Sequence[Change]) -> list[list[str] | None]:
        """Apply ``changes`` in order in one transaction; per change what :meth:`apply` returns.

        The positions are written once per partition at the end of the transaction; they are
        tracked in memory meanwhile, so a change at or before an earlier one of the batch (or the
        stored position) is skipped just as it would be in a transaction of its own.
        """
        results: list[list[str] | None] = []
        with self._writing() as db:
            batch = _Batch(self)
            for change in changes:
                at = change.at
                if at.offset < batch.next_offset(at.topic, at.partition):
                    results.append(None)
                    continue
                affected = batch.replace(at.topic, change.source_key, change.contributions or ())
                results.append([s for s in sorted(affected) if self._rederive(s, at, batch)])
                batch.advance(at)
            for (topic, partition), next_offset in batch.advanced.items():
                db.execute(
                    "INSERT INTO projection_position (topic, partition, next_offset) "
                    "VALUES (?, ?, ?) ON CONFLICT (topic, partition) "
                    "DO UPDATE SET next_offset = excluded.next_offset",
                    (topic, partition, next_offset))
        return results

    def _rederive(self, subject: str, at: InputPosition, batch: _Batch) -> bool:
        """Derive ``subject`` again; store a new version (and outbox messages) if it changed."""
        db = self._db
        current = db.execute("SELECT version, checksum FROM profile WHERE subject = ?",
                             (subject,)).fetchone()
        contributions = batch.contributions(subject)
        if current is not None:
            version = int(current["version"]) + 1
        else:  # a profile deleted earlier may come back: its versions go on, never restart
            last = db.execute("SELECT MAX(version) FROM profile_version WHERE subject = ?",
                              (subject,)).fetchone()[0]
            version = int(last or 0) + 1
        if not contributions:
            if current is None:
                return False
            db.execute("DELETE FROM profile WHERE subject = ?", (subject,))
            db.execute("DELETE FROM profile_search WHERE subject = ?", (subject,))
            self._version(subject, version, at, None)
            self._resolve_conflicts(subject, set())
            return True
        profile, conflicts = derive(subject, contributions, self.authority)
        document = profile.document()  # built once: it is O(facet size) for a large employer
        text = _dumps(document)
        checksum = hashlib.sha256(text.encode()).hexdigest()
        if current is not None and current["checksum"] == checksum:
            self._resolve_conflicts(subject, {c.key for c in conflicts})
            return False
        db.execute(
            "INSERT INTO profile VALUES (?, ?, ?, ?, ?) ON CONFLICT (subject) DO UPDATE SET "
            "version = excluded.version, believed_at_ms = excluded.believed_at_ms, "
            "document = excluded.document, checksum = excluded.checksum",
            (subject, version, at.timestamp_ms, text, checksum))
        self._index(subject, document)
        self._version(subject, version, at, text)
        known = self._resolve_conflicts(subject, {c.key for c in conflicts})
        for conflict in conflicts:
            if conflict.key not in known:
                body = _dumps(conflict.as_json())
                db.execute("INSERT INTO conflict VALUES (?, ?, ?)", (conflict.key, subject, body))
                self._outbox("conflict", conflict.key, body, at)
        return True

    def _index(self, subject: str, document: Mapping[str, Any]) -> None:
        """The subject's searchable values (:mod:`projections.profiles.search`), replaced."""
        self._db.execute("DELETE FROM profile_search WHERE subject = ?", (subject,))
        fields = document.get("fields", {})
        for field in self._searchable:
            value = searchable_text((fields.get(field) or {}).get("value"))
            if value is not None:
                self._db.execute("INSERT INTO profile_search VALUES (?, ?, ?)", (field, value, subject))

    def _version(self, subject: str, version: int, at: InputPosition, document: str | None) -> None:
        self._db.execute("INSERT INTO profile_version VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (subject, version, at.timestamp_ms, document, at.topic, at.partition,
                          at.offset))
        body = None if document is None else (
            f'{{"believed_at_ms":{at.timestamp_ms},"document":{document},"version":{version}}}')
        self._outbox("profile", subject, body, at)

    def _outbox(self, kind: str, key: str, body: str | None, at: InputPosition) -> None:
        self._db.execute("INSERT INTO outbox (kind, key, body, cause_topic, cause_partition, "
                         "cause_offset) VALUES (?, ?, ?, ?, ?, ?)",
                         (kind, key, body, at.topic, at.partition, at.offset))

    def _resolve_conflicts(self, subject: str, still: set[str]) -> set[str]:
        """Forget conflicts of ``subject`` that are gone; the keys of those that remain."""
        known = {str(r[0]) for r in self._db.execute(
            "SELECT key FROM conflict WHERE subject = ?", (subject,))}
        for key in known - still:
            self._db.execute("DELETE FROM conflict WHERE key = ?", (key,))
        return known & still

    # -- outbox ---------------------------------------------------------------------------

    def pending(self, limit: int = 500) -> list[tuple[int, str, str, str | None]]:
        """Messages to publish, oldest first: (id, kind, key, body)."""
        return [(int(r["id"]), str(r["kind"]), str(r["key"]), r["body"]) for r in self._db.execute(
            "SELECT id, kind, key, body FROM outbox ORDER BY id LIMIT ?", (limit,))]

    def forget_published_before(self, positions: Mapping[tuple[str, int], int]) -> int:
        """Drop outbox messages caused by events before ``positions`` (another store already
        holds — and publishes — those); how many were dropped."""
        dropped = 0
        with self._writing() as db:
            for (topic, partition), next_offset in positions.items():
                dropped += db.execute(
                    "DELETE FROM outbox WHERE cause_topic = ? AND cause_partition = ? "
                    "AND cause_offset < ?", (topic, partition, next_offset)).rowcount
        return dropped

    # -- reading --------------------------------------------------------------------------

    def profile(self, subject: str, as_of_ms: int | None = None) -> StoredProfile | None:
        return read_profile(self._db, subject, as_of_ms)

    def checksum(self) -> str:
        """One digest of every current profile (to compare a rebuild with the live store)."""
        digest = hashlib.sha256()
        for row in self._db.execute("SELECT subject, checksum FROM profile ORDER BY subject"):
            digest.update(f"{row['subject']}={row['checksum']};".encode())
        return digest.hexdigest()


_RecordKey = tuple[str, str]  # (source topic, source key)


def _contribution(row: Sequence[Any]) -> Contribution:
    """A ``contribution`` row (in column order) as the model's value."""
    return Contribution(str(row[2]), Provenance.from_json(json.loads(row[4])), json.loads(row[5]),
                        row[6], json.loads(row[7]))


class _Batch:
    """What one transaction of :meth:`ProfileStore.apply_batch` knows beyond the database.

    Positions advance in memory and are written once at the end. The contributions of each
    subject the batch derives are read (and JSON-decoded) once and then kept up to date by the
    batch's own replacements — the transaction holds the store's write lock, so nobody else
    changes them meanwhile. A subject with many contributions (an employer's insured employees)
    touched by many events of a batch is so decoded once per batch, not once per event.
    """

    def __init__(self, store: ProfileStore) -> None:
        self._db = store._db
        self._positions: dict[tuple[str, int], int] = {}
        self.advanced: dict[tuple[str, int], int] = {}
        self._subjects: dict[str, dict[_RecordKey, list[Contribution]]] = {}

    def next_offset(self, topic: str, partition: int) -> int:
        key = (topic, partition)
        if key not in self._positions:
            row = self._db.execute("SELECT next_offset FROM projection_position "
                                   "WHERE topic = ? AND partition = ?", key).fetchone()
            self._positions[key] = int(row["next_offset"]) if row else 0
        return self._positions[key]

    def advance(self, at: InputPosition) -> None:
        key = (at.topic, at.partition)
        self._positions[key] = self.advanced[key] = at.offset + 1

    def replace(self, topic: str, source_key: str, contributions: Iterable[Contribution]) -> set[str]:
        """Replace the record's contributions; the subjects it spoke or speaks about."""
        db = self._db
        record = (topic, source_key)
        affected = {str(r[0]) for r in db.execute(
            "SELECT DISTINCT subject FROM contribution WHERE source_topic = ? AND source_key = ?",
            record)}
        db.execute("DELETE FROM contribution WHERE source_topic = ? AND source_key = ?", record)
        for subject in affected:
            self._subjects.get(subject, {}).pop(record, None)
        seq: dict[str, int] = {}
        for contribution in contributions:
            subject = contribution.subject
            n = seq[subject] = seq.get(subject, -1) + 1
            row = (topic, source_key, subject, n, _dumps(contribution.provenance.as_json()),
                   _dumps(dict(contribution.scalars)), contribution.facet,
                   _dumps(dict(contribution.item)))
            db.execute("INSERT INTO contribution VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
            if subject in self._subjects:  # as read back from the row: same types, same order
                self._subjects[subject].setdefault(record, []).append(_contribution(row))
            affected.add(subject)
        return affected

    def contributions(self, subject: str) -> list[Contribution]:
        """``subject``'s contributions in the store's order (source topic, key, seq)."""
        records = self._subjects.get(subject)
        if records is None:
            records = self._subjects[subject] = {}
            for r in self._db.execute("SELECT * FROM contribution WHERE subject = ? "
                                      "ORDER BY source_topic, source_key, seq", (subject,)):
                records.setdefault((str(r[0]), str(r[1])), []).append(_contribution(tuple(r)))
        return [c for _record, items in sorted(records.items()) for c in items]


def read_profile(db: Database, subject: str, as_of_ms: int | None = None
                 ) -> StoredProfile | None:
    """The current profile of ``subject``, or what the store held at ``as_of_ms``."""
    if as_of_ms is None:
        row = db.execute("SELECT subject, version, believed_at_ms, document FROM profile "
                         "WHERE subject = ?", (subject,)).fetchone()
    else:
        row = db.execute(
            "SELECT subject, version, believed_at_ms, document FROM profile_version "
            "WHERE subject = ? AND believed_at_ms <= ? ORDER BY version DESC LIMIT 1",
            (subject, as_of_ms)).fetchone()
    if row is None or row["document"] is None:
        return None
    return StoredProfile(str(row["subject"]), int(row["version"]), int(row["believed_at_ms"]),
                         json.loads(row["document"]))
