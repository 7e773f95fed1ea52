"""The pgoutput stream of one replication slot, assembled into whole transactions.

Runs in a worker thread (psycopg2 is blocking); :class:`ReplicationStream` is used by one
thread at a time except :meth:`ReplicationStream.request_ack`, which only records the LSN to
confirm — the reading thread sends it. Only whole transactions leave :meth:`fetch`, so a
checkpoint always sits on a transaction boundary (the commit's end LSN).
"""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg2
import psycopg2.extras

from adapters.capture.engines.postgres_connect import connect, translated_errors, value_text
from adapters.capture.engines.postgres_pgoutput import (
    UNCHANGED,
    Begin,
    Commit,
    Relation,
    RowChange,
    Truncate,
    Value,
    lsn_text,
    parse_message,
)
from adapters.capture.rows import as_text
from adapters.capture.source import Change, Op, Row, SourceMisconfigured, SourceUnavailable
from adapters.capture.strategies.common import row_images
from bus.speedups import speedups

#: The first byte of Insert, Update and Delete messages.
_ROW_TAGS = (b"I", b"U", b"D")
#: How long to wait for a previous reader of the slot to let go of it.
SLOT_RELEASE_WAIT = 10.0


@dataclass(frozen=True)
class Transaction:
    """The changes of one committed transaction to the captured table."""

    end_lsn: int
    commit_ts_ms: int
    changes: tuple[Change, ...]
    columns: tuple[str, ...]
    #: Where the commit record starts: a snapshot exported at LSN L holds the transaction
    #: exactly when ``commit_lsn < L``.
    commit_lsn: int


@dataclass
class _Open:
    begin: Begin
    changes: list[Change] = field(default_factory=list)
    columns: tuple[str, ...] = ()


class TableDecoder:
    """Turns pgoutput row messages of one table into :class:`Change` values."""

    def __init__(self, schema: str, table: str, key_columns: Sequence[str]) -> None:
        self.schema = schema
        self.table = table
        self.key_columns = tuple(key_columns)
        self.relations: dict[int, Relation] = {}

    def ours(self, relation_oid: int) -> Relation | None:
        relation = self.relations.get(relation_oid)
        if relation is None or (relation.namespace, relation.name) != (self.schema, self.table):
            return None
        return relation

    def _row(self, relation: Relation, values: Sequence[Value], fallback: Row | None,
             bad: set[str]) -> Row:
        if not relation.has_bytea and UNCHANGED not in values:
            # The common row, in one call (C where built); bytea needs value_text.
            read = row_images(relation.column_names, [values], ())
            bad.update(read.undecodable[0])
            return read.rows[0]
        row: Row = {}
        for column, value in zip(relation.columns, values, strict=True):
            if value is UNCHANGED:
                if fallback is None or column.name not in fallback:
                    bad.add(column.name)  # TOASTed, unchanged, not sent: REPLICA IDENTITY FULL
                row[column.name] = None if fallback is None else fallback.get(column.name)
                continue
            text, ok = value_text(value if isinstance(value, bytes) else None, column.type_oid)
            row[column.name] = text
            if not ok:
                bad.add(column.name)
        return row

    def _key(self, row: Row) -> Row:
        return {column: row.get(column) for column in self.key_columns}

    def changes(self, message: RowChange, position: str, commit_ts_ms: int) -> list[Change]:
        relation = self.ours(message.relation_oid)
        if relation is None:
            return []
        bad: set[str] = set()
        before = None if message.old is None else self._row(relation, message.old, None, bad)
        if message.old_kind == "K":
            bad.difference_update(c.name for c in relation.columns if not c.is_key)
        after = None if message.new is None else self._row(relation, message.new, before, bad)
        return self._changes(message.kind, before, after, bad, position, commit_ts_ms)

    def native_changes(self, payload: bytes, position: str, commit_ts_ms: int
                       ) -> tuple[Relation, list[Change]] | None:
        """What :meth:`changes` makes of ``parse_message(payload)``, read in one C call
        (``pgoutput_row``) for rows of this table without bytea or unchanged TOASTed values;
        None for every other message (and without the extension): read it in Python."""
        accelerated = speedups()
        relation = self.ours(int.from_bytes(payload[1:5], "big")) if len(payload) > 5 else None
        if accelerated is None or relation is None or relation.has_bytea:
            return None
        read = accelerated.pgoutput_row(payload, relation.oid, relation.column_names, as_text)
        if read is None:
            return None
        kind, old_kind, old, new = read
        bad: set[str] = set()
        before = after = None
        if old is not None:
            before, undecodable = old
            bad.update(undecodable)
        if old_kind == "K":
            bad.difference_update(c.name for c in relation.columns if not c.is_key)
        if new is not None:
            after, undecodable = new
            bad.update(undecodable)
        return relation, self._changes(kind, before, after, bad, position, commit_ts_ms)

    def _changes(self, kind: str, before: Row | None, after: Row | None, bad: set[str],
                 position: str, commit_ts_ms: int) -> list[Change]:
        undecodable = tuple(sorted(bad))

        def change(op: Op, key_row: Row, old: Row | None, new: Row | None) -> Change:
            return Change(op=op, key=self._key(key_row), before=old, after=new,
                          position=position, commit_ts_ms=commit_ts_ms, undecodable=undecodable)

        if kind == "I" and after is not None:
            return [change("c", after, None, after)]
        if kind == "D" and before is not None:
            return [change("d", before, before, None)]
        assert after is not None
        if before is not None and self._key(before) != self._key(after):
            # The key changed: the old key's row is gone, a row with the new key appears.
            return [change("d", before, before, None), change("c", after, None, after)]
        return [change("u", after, before, after)]


class ReplicationStream:
    """Streams one logical slot through pgoutput from ``start_lsn``."""

    def __init__(self, dsn: str, slot: str, publication: str, decoder: TableDecoder,
                 start_lsn: int) -> None:
        self.dsn = dsn
        self.slot = slot
        self.publication = publication
        self.decoder = decoder
        self.start_lsn = start_lsn
        self._connection: Any = None
        self._cursor: Any = None
        self._open: _Open | None = None
        self._lock = threading.Lock()
        self._ack_pending: int | None = None
        self._acked = 0
        self._failure: Exception | None = None
        self.last_end_lsn = start_lsn

    # -- connection ---------------------------------------------------------------------

    def open(self) -> None:
        deadline = time.monotonic() + SLOT_RELEASE_WAIT
        while True:
            try:
                self._start()
                return
            except psycopg2.errors.ObjectInUse:
                self.close()
                if time.monotonic() > deadline:
                    raise SourceUnavailable(
                        f"replication slot {self.slot} is used by another process; stop the "
                        f"other reader (pg_stat_replication) or wait") from None
                time.sleep(0.2)
            except psycopg2.errors.UndefinedObject as error:
                self.close()
                raise SourceMisconfigured(
                    f"replication slot or publication missing: {error}".strip()
                    + f"; the changes since LSN {lsn_text(self.start_lsn)} are no longer kept: "
                    "reset this table's checkpoint to take a new snapshot") from error

    def _start(self) -> None:
        self._connection = connect(self.dsn, replication=True)
        self._cursor = self._connection.cursor()
        with translated_errors(self.dsn, f"starting replication from slot {self.slot}"):
            try:
                self._cursor.start_replication(
                    slot_name=self.slot, decode=False, start_lsn=self.start_lsn,
                    options={"proto_version": "1", "publication_names": self.publication},
                    status_interval=5)
            except (psycopg2.errors.ObjectInUse, psycopg2.errors.UndefinedObject):
                raise
        self._send_ack()

    def close(self) -> None:
        connection, self._connection, self._cursor = self._connection, None, None
        if connection is not None:
            try:
                connection.close()
            except psycopg2.Error:
                pass

    # -- acknowledgements ----------------------------------------------------------------

    def request_ack(self, lsn: int) -> None:
        """Confirm ``lsn`` to the server as flushed (sent by the reading thread, or now)."""
        if lsn <= self._acked:
            return
        self._ack_pending = lsn
        if self._lock.acquire(blocking=False):
            try:
                self._send_ack()
            finally:
                self._lock.release()

    def _send_ack(self) -> None:
        lsn = self._ack_pending
        if lsn is None or self._cursor is None or lsn <= self._acked:
            return
        with translated_errors(self.dsn, f"confirming LSN {lsn_text(lsn)} to slot {self.slot}"):
            self._cursor.send_feedback(write_lsn=lsn, flush_lsn=lsn, force=True)
        self._acked = lsn

    # -- reading -------------------------------------------------------------------------

    def idle_lsn(self) -> int:
        """A safe checkpoint while nothing of ours is open: the server's sent position."""
        if self._open is not None or self._cursor is None:
            return self.last_end_lsn
        return max(self.last_end_lsn, int(self._cursor.wal_end or 0))

    def fetch(self, max_changes: int, timeout: float) -> list[Transaction]:
        """Whole transactions received within ``timeout`` (returns early once some arrived)."""
        if self._failure is not None:
            raise self._failure
        with self._lock, translated_errors(self.dsn, f"streaming slot {self.slot}"):
            return self._fetch(max_changes, time.monotonic() + timeout)

    def _fetch(self, max_changes: int, deadline: float) -> list[Transaction]:
        done: list[Transaction] = []
        count = 0
        while self._failure is None and count < max_changes:
            self._send_ack()
            message = self._cursor.read_message()
            if message is not None:
                finished = self._feed(message.payload, message.data_start)
                if finished is not None:
                    done.append(finished)
                    count += len(finished.changes)
                continue
            remaining = deadline - time.monotonic()
            if done or remaining <= 0:
                break
            select.select([self._cursor], [], [], min(remaining, 0.2))
        return done

    def _feed(self, payload: bytes, data_start: int) -> Transaction | None:
        if self._open is not None and payload[:1] in _ROW_TAGS:
            native = self.decoder.native_changes(payload, lsn_text(data_start),
                                                 self._open.begin.commit_ts_ms)
            if native is not None:
                self._open.columns = native[0].column_names
                self._open.changes.extend(native[1])
                return None
        message = parse_message(payload)
        if isinstance(message, Relation):
            self.decoder.relations[message.oid] = message
        elif isinstance(message, Begin):
            self._open = _Open(message)
        elif isinstance(message, RowChange) and self._open is not None:
            relation = self.decoder.ours(message.relation_oid)
            if relation is not None:
                self._open.columns = relation.column_names
            self._open.changes.extend(self.decoder.changes(
                message, lsn_text(data_start), self._open.begin.commit_ts_ms))
        elif isinstance(message, Truncate):
            self._truncated(message)
        elif isinstance(message, Commit):
            return self._commit(message)
        return None

    def _truncated(self, message: Truncate) -> None:
        if any(self.decoder.ours(oid) for oid in message.relation_oids):
            self._failure = SourceMisconfigured(
                f"TRUNCATE of {self.decoder.schema}.{self.decoder.table} after LSN "
                f"{lsn_text(self.last_end_lsn)}: the log does not say which rows went; reset "
                "this table's checkpoint to take a new snapshot (the slot is kept)")

    def _commit(self, message: Commit) -> Transaction | None:
        current, self._open = self._open, None
        if message.end_lsn <= self.start_lsn or self._failure is not None:
            return None  # already delivered before the restart (or stopped at a TRUNCATE)
        self.last_end_lsn = max(self.last_end_lsn, message.end_lsn)
        if current is None or not current.changes:
            return None
        return Transaction(message.end_lsn, message.commit_ts_ms, tuple(current.changes),
                           current.columns, message.commit_lsn)
