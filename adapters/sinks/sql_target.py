"""A legacy SQL table as a write-back target: idempotent upserts, ledger and position in one
transaction, conflicts noticed by the row's fingerprint.

For each batch, in one transaction: skip events whose id the ledger already holds; lock and
read the rows the batch will write; write each event whose row is unchanged since the bus
last wrote it (or new); for a row a clerk changed meanwhile, or one the bus never wrote, apply
the conflict policy; read the written rows back and record their fingerprints, every event's
outcome and the next offsets. A crash before the commit leaves nothing; after it, the
positions make the batch the past.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from adapters.capture.rows import as_text, row_digest, text_row
from adapters.sinks.config import SinkConfig
from adapters.sinks.ledger import LedgerSql, ledger_sql
from adapters.sinks.model import Applied, Conflict, Outcome, Prepared, TargetUnavailable
from adapters.sinks.sql_engines import SqlEngine, sql_engine

__all__ = ["SqlTarget"]

log = logging.getLogger(__name__)
_CHUNK = 300
Image = dict[str, str | None]


class SqlTarget:
    def __init__(self, config: SinkConfig, engine: SqlEngine | None = None) -> None:
        self.config = config
        self.engine = engine or sql_engine(config.engine, config.connection)
        self.ledger: LedgerSql = ledger_sql(self.engine.engine)
        self.table = config.table
        self.key_columns = config.key_columns
        self.columns = config.mapping.column_names
        self._connection: Any = None
        self._upsert = self.engine.upsert(self.table, self.columns, self.key_columns)

    # -- connection ----------------------------------------------------------------------

    def open(self) -> None:
        self.close()
        connection = self.engine.connect()
        try:
            found = self.engine.columns(connection, self.table)
            if not found:
                raise TargetUnavailable(f"{self.config.name}: table {self.table} does not exist")
            missing = [c for c in self.columns if c not in found]
            if missing:
                raise TargetUnavailable(f"{self.config.name}: columns {missing} of the mapping are "
                                        f"not in {self.table} ({', '.join(found)})")
            self.engine.begin(connection)
            cursor = connection.cursor()
            for statement in self.ledger.ddl:
                cursor.execute(statement)
            cursor.close()
            connection.commit()
        except self.engine.unavailable as exc:
            connection.close()
            raise TargetUnavailable(f"{self.config.name}: {exc}") from exc
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    def _live(self) -> Any:
        if self._connection is None:
            self.open()
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception as exc:  # already broken: nothing left to release
                log.debug("closing %s: %s", self.config.name, exc)
            self._connection = None

    def commit(self) -> None:
        self._guarded(lambda: self._live().commit())

    def rollback(self) -> None:
        if self._connection is not None:
            try:
                self._connection.rollback()
            except Exception as exc:
                log.debug("rollback on %s failed: %s", self.config.name, exc)
                self.close()

    def _guarded(self, action: Any) -> Any:
        try:
            return action()
        except self.engine.unavailable as exc:
            self.close()
            raise TargetUnavailable(f"{self.config.name}: {exc}") from exc

    # -- positions and batches -----------------------------------------------------------

    def positions(self, topic: str) -> dict[int, int]:
        def read() -> dict[int, int]:
            connection = self._live()
            cursor = connection.cursor()
            cursor.execute(self.ledger.positions, (self.config.name, topic))
            found = {int(p): int(o) for p, o in cursor.fetchall()}
            cursor.close()
            connection.rollback()
            return found
        result: dict[int, int] = self._guarded(read)
        return result

    def apply(self, batch: Sequence[Prepared], topic: str, next_offsets: Mapping[int, int]) -> Applied:
        def run() -> Applied:
            connection = self._live()
            self.engine.begin(connection)
            cursor = connection.cursor()
            try:
                return self._apply(cursor, batch, topic, next_offsets)
            finally:
                cursor.close()
        result: Applied = self._guarded(run)
        return result

    def _apply(self, cursor: Any, batch: Sequence[Prepared], topic: str,
               next_offsets: Mapping[int, int]) -> Applied:
        applied = Applied()
        seen = self._seen(cursor, [p.event.event_id for p in batch])
        keys = {p.row.key_text: p.row.key for p in batch
                if p.row is not None and p.event.event_id not in seen}
        current = self._images(cursor, list(keys.values()), lock=True)
        hashes = self._hashes(cursor, list(keys))
        written: dict[str, str] = {}  # key text → id of the last event that wrote it
        rows: list[tuple[Any, ...]] = []
        ledger: list[tuple[Prepared, Outcome]] = []
        for prepared in batch:
            event_id = prepared.event.event_id
            if event_id in seen or event_id in applied.outcomes:
                applied.outcomes.setdefault(event_id, "replayed")
                continue
            outcome: Outcome
            if prepared.row is None:
                outcome = "quarantined"
            else:
                key = prepared.row.key_text
                image, ledger_hash = current.get(key), hashes.get(key)
                legacy_hash = row_digest(image) if image is not None else None
                fresh = image is None and ledger_hash is None
                if key in written or fresh or (image is not None and legacy_hash == ledger_hash):
                    outcome = "written"
                else:
                    overwrite = self.config.conflict_policy == "bus_wins"
                    outcome = "conflict_overwritten" if overwrite else "conflict_kept"
                    applied.conflicts.append(Conflict(
                        prepared.event, key, _reason(image, ledger_hash), image,
                        {c: None if v is None else str(v) for c, v in prepared.row.values.items()},
                        ledger_hash, legacy_hash, overwrite))
                if outcome != "conflict_kept":
                    rows.append(tuple(prepared.row.values[c] for c in self.columns))
                    written[key] = event_id
            applied.outcomes[event_id] = outcome
            ledger.append((prepared, outcome))
        if rows:
            self.engine.executemany(cursor, self._upsert, rows)
        after = {k: row_digest(image) for k, image in
                 self._images(cursor, [keys[k] for k in written], lock=False).items()}
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        self.engine.executemany(cursor, self.ledger.insert_event, [
            (p.event.event_id, self.config.name, self.table,
             p.row.key_text if p.row is not None else None, outcome,
             (after.get(p.row.key_text) if outcome != "conflict_kept" else
              hashes.get(p.row.key_text)) if p.row is not None else None,
             p.event.topic, p.event.partition, p.event.offset, now)
            for p, outcome in ledger])
        if after:
            self.engine.executemany(cursor, self.ledger.upsert_row, [
                (self.table, key, digest, written[key], now) for key, digest in after.items()])
        self.engine.executemany(cursor, self.ledger.upsert_position, [
            (self.config.name, topic, partition, offset)
            for partition, offset in sorted(next_offsets.items())])
        return applied

    # -- reads inside the batch's transaction --------------------------------------------

    def _seen(self, cursor: Any, event_ids: list[str]) -> set[str]:
        seen: set[str] = set()
        param = self.engine.param
        for start in range(0, len(event_ids), _CHUNK):
            chunk = event_ids[start:start + _CHUNK]
            cursor.execute(f"{self.ledger.seen_events}({', '.join([param] * len(chunk))})", chunk)
            seen.update(_text(r[0]) for r in cursor.fetchall())
        return seen

    def _hashes(self, cursor: Any, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        param = self.engine.param
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start:start + _CHUNK]
            cursor.execute(f"{self.ledger.row_hashes}({', '.join([param] * len(chunk))})",
                           (self.table, *chunk))
            found.update((_text(k), _text(h)) for k, h in cursor.fetchall())
        return found

    def _images(self, cursor: Any, keys: list[dict[str, str]], *, lock: bool) -> dict[str, Image]:
        """Current rows of ``keys`` as the capture renders them, by key text."""
        found: dict[str, Image] = {}
        q, param = self.engine.quote, self.engine.param
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start:start + _CHUNK]
            if len(self.key_columns) == 1:
                (column,) = self.key_columns
                where = f"{q(column)} IN ({', '.join([param] * len(chunk))})"
                params: list[Any] = [k[column] for k in chunk]
            else:
                one = "(" + " AND ".join(f"{q(c)} = {param}" for c in self.key_columns) + ")"
                where = " OR ".join([one] * len(chunk))
                params = [k[c] for k in chunk for c in self.key_columns]
            cursor.execute(f"SELECT * FROM {q(self.table)} WHERE {where}"
                           f"{self.engine.lock if lock else ''}", params)
            names = [d[0] for d in cursor.description]
            for values in cursor.fetchall():
                image, _ = text_row(names, values)
                found[_key_text(image, self.key_columns)] = image
        return found


def _text(value: object) -> str:
    """A ledger value as text (a SQL_ASCII PostgreSQL database hands text over as bytes)."""
    return as_text(value)[0] or ""


def _key_text(image: Image, key_columns: Sequence[str]) -> str:
    if len(key_columns) == 1:
        return image.get(key_columns[0]) or ""
    return "|".join(image.get(c) or "" for c in key_columns)


def _reason(image: Image | None, ledger_hash: str | None) -> str:
    if image is None:
        return "deleted_in_legacy"      # the bus wrote it, a clerk deleted it since
    if ledger_hash is None:
        return "not_written_by_bus"     # the row was there before the bus wrote anything
    return "changed_in_legacy"          # a clerk changed the row since the bus wrote it
