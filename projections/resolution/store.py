"""The live resolver's store (SQLite): records, blocking index, pair states, decisions, outbox.

One transaction per input event holds everything it changes — the records it mentions, their
blocking keys, the decisions taken (each pair's state, the decision history, the outbox) — and
the input position (the worker wraps a batch of events in one outer transaction, which the
events' own join), so a redelivered event after a crash changes nothing
(``projections.resolution.live``). Every decision on ``std.link_decision`` is applied once, by
its ``decision_id``; the pair state follows ``Clusters``: the latest applicable decision, a
reviewer's pinning the pair against later engine decisions.

Readers (the review API) open it read-only from any thread.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from projections.read_store import connect
from projections.resolution.decisions import DecisionKind, LinkDecision
from projections.resolution.model import FieldWeight
from projections.resolution.records import PersonRecord, RecordRef

__all__ = ["PairState", "ResolutionStore", "decision_from_json", "decision_to_json", "record_from_json",
           "record_to_json"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS record (
    ref_key      TEXT PRIMARY KEY,
    source_topic TEXT NOT NULL,
    source_key   TEXT NOT NULL,
    valid_number TEXT,
    body         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS record_by_source ON record (source_topic, source_key);
CREATE TABLE IF NOT EXISTS block (
    key     TEXT NOT NULL,
    ref_key TEXT NOT NULL,
    PRIMARY KEY (key, ref_key)
);
CREATE INDEX IF NOT EXISTS block_by_ref ON block (ref_key);
CREATE TABLE IF NOT EXISTS pair (
    pair_id     TEXT PRIMARY KEY,
    left_key    TEXT NOT NULL,
    right_key   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    by_reviewer INTEGER NOT NULL,
    score       REAL,
    decision    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pair_by_left ON pair (left_key);
CREATE INDEX IF NOT EXISTS pair_by_right ON pair (right_key);
CREATE INDEX IF NOT EXISTS pair_by_kind ON pair (kind, score);
CREATE TABLE IF NOT EXISTS decision (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    decision_id TEXT NOT NULL UNIQUE,
    pair_id     TEXT NOT NULL,
    applied     INTEGER NOT NULL,
    body        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    pair_id  TEXT NOT NULL,
    body     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox_lease (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS projection_position (
    topic       TEXT NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
"""


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def decision_to_json(decision: LinkDecision) -> str:
    value = decision.to_avro()
    value["decided_at"] = int(decision.decided_at.timestamp() * 1000)
    return _dumps(value)


def decision_from_json(text: str) -> LinkDecision:
    value = json.loads(text)
    value["decided_at"] = datetime.fromtimestamp(value["decided_at"] / 1000, UTC)
    return LinkDecision.from_avro(value)


def record_to_json(record: PersonRecord) -> str:
    birth = record.birth_date if record.birth_date is None or isinstance(record.birth_date, str) \
        else record.birth_date.isoformat()
    return _dumps({"ref": [record.ref.department, record.ref.table, record.ref.record_key, record.ref.role],
                   "identity_number": record.identity_number, "name": record.name, "birth_date": birth,
                   "sex": record.sex, "division": record.division, "address": record.address})


def record_from_json(text: str) -> PersonRecord:
    value = json.loads(text)
    return PersonRecord(RecordRef(*value["ref"]), value["identity_number"], value["name"],
                        value["birth_date"], value["sex"], value["division"], value["address"])


@dataclass(frozen=True, slots=True)
class PairState:
    """A pair's current decision."""

    decision: LinkDecision

    @property
    def kind(self) -> DecisionKind:
        return self.decision.kind

    @property
    def pinned(self) -> bool:
        return self.decision.by_reviewer


#: ``record_from_json`` remembered by the stored text (a pure function of it): block mates are
#: read again for every event that shares a block with them.
_record_from_json = functools.lru_cache(maxsize=32_768)(record_from_json)


class ResolutionStore:
    """The live resolver's state; one writer connection per agent, SQLite serializes them."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self._depth = 0  # transactions open on this connection (nested ones join the outer)
        self._db = connect(path, readonly=readonly)
        if not readonly:
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction; inside another it joins that one (a batch of events commits once,
        and a failure anywhere in it rolls the whole batch back)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._db.execute("ROLLBACK")
            raise
        self._depth = 0
        self._db.execute("COMMIT")

    # -- positions ------------------------------------------------------------------------

    def next_offset(self, topic: str, partition: int) -> int:
        row = self._db.execute(
            "SELECT next_offset FROM projection_position WHERE topic = ? AND partition = ?",
            (topic, partition)).fetchone()
        return int(row["next_offset"]) if row else 0

    def advance(self, topic: str, partition: int, offset: int) -> None:
        self._db.execute(
            "INSERT INTO projection_position (topic, partition, next_offset) VALUES (?, ?, ?) "
            "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
            (topic, partition, offset + 1))

    # -- records and blocks ---------------------------------------------------------------

    def record(self, ref_key: str) -> PersonRecord | None:
        row = self._db.execute("SELECT body FROM record WHERE ref_key = ?", (ref_key,)).fetchone()
        return None if row is None else _record_from_json(row["body"])

    def valid_number(self, ref_key: str) -> str | None:
        row = self._db.execute("SELECT valid_number FROM record WHERE ref_key = ?", (ref_key,)).fetchone()
        return None if row is None else row["valid_number"]

    def record_source(self, ref_key: str) -> str | None:
        """The topic the record was last read from."""
        row = self._db.execute("SELECT source_topic FROM record WHERE ref_key = ?", (ref_key,)).fetchone()
        return None if row is None else str(row["source_topic"])

    def refs_of_source(self, topic: str, source_key: str) -> list[str]:
        return [str(r[0]) for r in self._db.execute(
            "SELECT ref_key FROM record WHERE source_topic = ? AND source_key = ? ORDER BY 1",
            (topic, source_key))]

    def put_record(self, record: PersonRecord, topic: str, source_key: str, valid_number: str | None,
                   keys: list[str]) -> None:
        ref = record.ref.key
        self._db.execute(
            "INSERT INTO record VALUES (?, ?, ?, ?, ?) ON CONFLICT (ref_key) DO UPDATE SET "
            "source_topic = excluded.source_topic, source_key = excluded.source_key, "
            "valid_number = excluded.valid_number, body = excluded.body",
            (ref, topic, source_key, valid_number, record_to_json(record)))
        self._db.execute("DELETE FROM block WHERE ref_key = ?", (ref,))
        self._db.executemany("INSERT OR IGNORE INTO block VALUES (?, ?)", [(k, ref) for k in keys])

    def set_source(self, ref_key: str, topic: str, source_key: str) -> None:
        self._db.execute("UPDATE record SET source_topic = ?, source_key = ? WHERE ref_key = ?",
                         (topic, source_key, ref_key))

    def delete_record(self, ref_key: str) -> None:
        self._db.execute("DELETE FROM record WHERE ref_key = ?", (ref_key,))
        self._db.execute("DELETE FROM block WHERE ref_key = ?", (ref_key,))

    def block_mates(self, ref_key: str) -> list[str]:
        """Records sharing at least one blocking key with ``ref_key`` (every one: no block is cut)."""
        return [str(r[0]) for r in self._db.execute(
            "SELECT DISTINCT other.ref_key FROM block mine JOIN block other ON other.key = mine.key "
            "WHERE mine.ref_key = ? AND other.ref_key != ? ORDER BY 1", (ref_key, ref_key))]

    def record_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM record").fetchone()[0])

    # -- pairs and decisions --------------------------------------------------------------

    def pair(self, pair_id: str) -> PairState | None:
        row = self._db.execute("SELECT decision FROM pair WHERE pair_id = ?", (pair_id,)).fetchone()
        return None if row is None else PairState(decision_from_json(row["decision"]))

    def pairs_of(self, ref_key: str) -> list[PairState]:
        return [PairState(decision_from_json(r["decision"])) for r in self._db.execute(
            "SELECT decision FROM pair WHERE left_key = ? OR right_key = ? ORDER BY pair_id",
            (ref_key, ref_key))]

    def linked(self, ref_key: str) -> list[str]:
        return [str(r[0]) for r in self._db.execute(
            "SELECT right_key FROM pair WHERE left_key = ? AND kind = 'accepted' UNION "
            "SELECT left_key FROM pair WHERE right_key = ? AND kind = 'accepted' ORDER BY 1",
            (ref_key, ref_key))]

    def cluster(self, ref_key: str) -> set[str]:
        """The records connected to ``ref_key`` by accepted links (itself included)."""
        seen, todo = {ref_key}, [ref_key]
        while todo:
            for other in self.linked(todo.pop()):
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
        return seen

    def clusters(self) -> dict[str, tuple[str, ...]]:
        """Every cluster of two records or more: smallest member → sorted members."""
        keys = sorted({str(r[0]) for r in self._db.execute(
            "SELECT left_key FROM pair WHERE kind = 'accepted' UNION "
            "SELECT right_key FROM pair WHERE kind = 'accepted'")})
        done: set[str] = set()
        result: dict[str, tuple[str, ...]] = {}
        for key in keys:
            if key not in done:
                members = self.cluster(key)
                done |= members
                result[min(members)] = tuple(sorted(members))
        return result

    def known_decision(self, decision_id: str) -> bool:
        row = self._db.execute("SELECT 1 FROM decision WHERE decision_id = ?", (decision_id,)).fetchone()
        return row is not None

    def apply(self, decision: LinkDecision, *, publish: bool) -> bool:
        """Record ``decision`` (once) and apply it unless a reviewer pinned the pair against the
        engine; ``publish`` also queues it in the outbox. True when it changed the pair's state."""
        if self.known_decision(decision.decision_id):
            return False
        current = self.pair(decision.pair_id)
        applied = not (current is not None and current.pinned and not decision.by_reviewer)
        body = decision_to_json(decision)
        self._db.execute("INSERT INTO decision (decision_id, pair_id, applied, body) VALUES (?, ?, ?, ?)",
                         (decision.decision_id, decision.pair_id, int(applied), body))
        if publish:
            self._db.execute("INSERT INTO outbox (pair_id, body) VALUES (?, ?)", (decision.pair_id, body))
        if applied:
            self._db.execute(
                "INSERT INTO pair VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (pair_id) DO UPDATE SET "
                "kind = excluded.kind, by_reviewer = excluded.by_reviewer, score = excluded.score, "
                "decision = excluded.decision",
                (decision.pair_id, decision.left.key, decision.right.key, decision.kind.value,
                 int(decision.by_reviewer), decision.score, body))
        return applied

    def history(self) -> list[LinkDecision]:
        """Every decision recorded, in the order it was recorded."""
        rows = self._db.execute("SELECT body FROM decision ORDER BY seq")
        return [decision_from_json(r["body"]) for r in rows]

    def pending(self, limit: int, after: tuple[float, str] | None = None) -> list[LinkDecision]:
        """Pairs waiting for a reviewer: highest score first, then pair id; ``after`` the last seen."""
        if after is None:
            rows = self._db.execute(
                "SELECT decision FROM pair WHERE kind = 'proposed' "
                "ORDER BY -coalesce(score, 0), pair_id LIMIT ?", (limit,))
        else:
            rows = self._db.execute(
                "SELECT decision FROM pair WHERE kind = 'proposed' AND "
                "(-coalesce(score, 0) > ? OR (-coalesce(score, 0) = ? AND pair_id > ?)) "
                "ORDER BY -coalesce(score, 0), pair_id LIMIT ?", (-after[0], -after[0], after[1], limit))
        return [decision_from_json(r["decision"]) for r in rows]

    # -- outbox ---------------------------------------------------------------------------

    def lease(self, holder: str, now_ms: int, ttl_ms: int) -> bool:
        """Whether ``holder`` may publish now (one publisher at a time keeps a pair's order)."""
        with self.transaction():
            row = self._db.execute(
                "SELECT holder, expires_ms FROM outbox_lease WHERE name = 'outbox'").fetchone()
            mine = row is None or row["holder"] == holder or int(row["expires_ms"]) < now_ms
            if mine:
                self._db.execute("INSERT INTO outbox_lease VALUES ('outbox', ?, ?) ON CONFLICT (name) "
                                 "DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms",
                                 (holder, now_ms + ttl_ms))
        return mine

    def outbox(self, limit: int = 500) -> list[tuple[int, LinkDecision]]:
        return [(int(r["id"]), decision_from_json(r["body"])) for r in self._db.execute(
            "SELECT id, body FROM outbox ORDER BY id LIMIT ?", (limit,))]

    def published(self, up_to_id: int) -> None:
        self._db.execute("DELETE FROM outbox WHERE id <= ?", (up_to_id,))


def weights_json(weights: tuple[FieldWeight, ...]) -> list[dict[str, Any]]:
    return [{"field": w.field, "level": w.level, "weight": w.weight} for w in weights]
