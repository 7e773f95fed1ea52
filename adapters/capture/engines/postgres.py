"""PostgreSQL capture: the SQL dialect (snapshot, incremental, diff) and log-based capture.

:class:`PostgresDialect` gives the generic SQL strategies what they need. Its connections are
read-only and return every value as PostgreSQL's own text output, so a polled row and the same
row from the log render identically.

:class:`PostgresLogSource` reads a table through logical decoding (``pgoutput``): it checks the
prerequisites (``wal_level``, REPLICATION, REPLICA IDENTITY), creates a publication and a slot,
takes a consistent snapshot exported by the slot — chunked by key and resumable — and then
streams the slot from the snapshot's consistent point, so nothing is missed or read twice at the
hand-over. The slot is confirmed only up to what :meth:`PostgresLogSource.acknowledge` was told
Kafka holds. See ``docs/capture-postgres.md``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.extensions

from adapters.capture.engines.postgres_connect import (
    catalog_row,
    catalog_rows,
    connect,
    database_name,
    translated_errors,
    value_text,
)
from adapters.capture.engines.postgres_keys import key_casts
from adapters.capture.engines.postgres_pgoutput import BYTEA_OID, lsn_text, parse_lsn
from adapters.capture.engines.postgres_resume import (
    covered_keys,
    segments_from_checkpoint,
    segments_to_checkpoint,
)
from adapters.capture.engines.postgres_stream import ReplicationStream, TableDecoder, Transaction
from adapters.capture.resume import CoveredKeys, ResumedSegment
from adapters.capture.source import (
    Batch,
    Change,
    Checkpoint,
    Row,
    SourceMisconfigured,
    State,
    TableInfo,
    TableSpec,
)
from adapters.capture.sql import DbApiConnection, DbApiCursor, KeyOrder
from adapters.capture.strategies.common import row_images

log = logging.getLogger(__name__)

__all__ = ["PostgresDialect", "PostgresLogSource", "TableFacts", "replication_name"]


def _flag(value: object) -> bool:
    """A boolean from our connections, which return PostgreSQL's text (``t``/``f``)."""
    return value is True or value == "t"


def quote_identifier(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def replication_name(spec: TableSpec) -> str:
    """Slot and publication name for a table: ``rongtong_<department>_<table>`` (≤ 63 chars)."""
    name = re.sub(r"[^a-z0-9_]", "_", f"rongtong_{spec.department}_{spec.table}".lower())
    if len(name) > 63:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
        name = f"{name[:54]}_{digest}"
    return name


@dataclass(frozen=True)
class TableFacts:
    """What the catalog says about a table, beyond :class:`TableInfo`."""

    schema: str
    table: str
    columns: tuple[str, ...]
    type_oids: tuple[int, ...]
    primary_key: tuple[str, ...]
    #: ``d`` default (primary key), ``f`` full, ``i`` index, ``n`` nothing.
    replica_identity: str
    owned_by_current_user: bool
    row_estimate: int | None


_FACTS_SQL = """
SELECT a.attname, a.atttypid::int
FROM pg_attribute a
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum"""
_PRIMARY_KEY_SQL = """
SELECT a.attname
FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indrelid = to_regclass(%s) AND i.indisprimary
ORDER BY array_position(i.indkey::int2[], a.attnum)"""
_CLASS_SQL = """
SELECT c.relreplident, pg_has_role(c.relowner, 'USAGE'), c.reltuples::bigint
FROM pg_class c WHERE c.oid = to_regclass(%s)"""


class PostgresDialect:
    """PostgreSQL for the generic SQL strategies, through psycopg2 (read-only connections)."""

    engine = "postgresql"
    param = "%s"
    #: A statement outside a transaction block reads one snapshot of its own, so a read is one
    #: round trip instead of four (BEGIN, SET TRANSACTION, the query, ROLLBACK), each of which
    #: also waited for the GIL in the worker thread. Nothing read through these connections
    #: spans statements; the log's snapshot has a transaction and connection of its own.
    autocommit_reads = True

    def __init__(self, dsn: str, *, schema: str = "public") -> None:
        self.dsn = dsn
        self.schema = schema
        self.database = database_name(dsn)

    def connect(self) -> DbApiConnection:
        """A read-only connection in autocommit; values come back as PostgreSQL's text
        output."""
        connection: Any = connect(self.dsn)
        connection.autocommit = True
        typed: DbApiConnection = connection
        return typed

    def quote(self, identifier: str) -> str:
        return quote_identifier(identifier)

    def qualified(self, table: str) -> str:
        return f"{quote_identifier(self.schema)}.{quote_identifier(table)}"

    def as_text(self, expression: str) -> str:
        # Byte order ("C" collation) equals Python's code-point order of the same text, so a key
        # compared in SQL and one compared in Python sort alike whatever the database's locale.
        return f'CAST({expression} AS TEXT) COLLATE "C"'

    def key_order(self, connection: DbApiConnection, table: str, columns: Sequence[str]) -> KeyOrder:
        # Every value's text output reads back as the same value, so a checkpoint's key text
        # cast to the column's type compares as the column does; row values use the index.
        with translated_errors(self.dsn, f"reading the key types of {self.schema}.{table}"):
            cursor = connection.cursor()
            try:
                params = key_casts(cursor, self.qualified(table), columns, ["%s"] * len(columns))
            finally:
                cursor.close()
                connection.rollback()
        return KeyOrder("native", tuple(quote_identifier(c) for c in columns), tuple(params),
                        row_values=True)

    def begin_consistent_read(self, cursor: DbApiCursor) -> None:
        """For a connection taken out of autocommit (:meth:`connect`'s reads need none)."""
        connection = getattr(cursor, "connection", None)
        if connection is not None and connection.info.transaction_status != \
                psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            connection.rollback()  # SET TRANSACTION must open the transaction
        with translated_errors(self.dsn, "starting a consistent read"):
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    def facts(self, connection: DbApiConnection, table: str) -> TableFacts:
        """Columns with their types, primary key and replication identity of ``table``."""
        name = self.qualified(table)
        with translated_errors(self.dsn, f"describing {self.schema}.{table}"):
            cursor = connection.cursor()
            try:
                cursor.execute(_FACTS_SQL, (name,))
                columns = catalog_rows(cursor.fetchall())
                if not columns:
                    raise SourceMisconfigured(
                        f"table {self.schema}.{table} not found in PostgreSQL database "
                        f"{self.database} (or the role may not see it); check 'table' and "
                        "'schema' in the adapter configuration")
                cursor.execute(_PRIMARY_KEY_SQL, (name,))
                key = tuple(str(r[0]) for r in catalog_rows(cursor.fetchall()))
                cursor.execute(_CLASS_SQL, (name,))
                identity, owned, estimate = catalog_row(cursor.fetchone())
            finally:
                cursor.close()
                connection.rollback()
        return TableFacts(
            self.schema, table, tuple(str(c[0]) for c in columns), tuple(int(c[1]) for c in columns),
            key, str(identity), _flag(owned), int(estimate) if int(estimate) >= 0 else None)

    def describe(self, connection: DbApiConnection, table: str) -> TableInfo:
        facts = self.facts(connection, table)
        return TableInfo(table, facts.columns, facts.primary_key, facts.row_estimate)

    def tables(self, connection: DbApiConnection) -> list[str]:
        with translated_errors(self.dsn, "listing tables"):
            cursor = connection.cursor()
            try:
                cursor.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                    "AND table_type = 'BASE TABLE' ORDER BY table_name", (self.schema,))
                return [str(r[0]) for r in catalog_rows(cursor.fetchall())]
            finally:
                cursor.close()
                connection.rollback()


# -- log-based capture ------------------------------------------------------------------------


def _stream_checkpoint(slot: str, lsn: int, resumed: Sequence[ResumedSegment[int]] = ()) -> Checkpoint:
    """Where the stream stands, and the resumed snapshot segments it has not passed yet."""
    checkpoint: Checkpoint = {"phase": "stream", "slot": slot, "lsn": lsn_text(lsn)}
    pending = [s for s in resumed if lsn < s.position]
    if pending:
        checkpoint["resumed"] = segments_to_checkpoint(pending)
    return checkpoint


class _SnapshotReader:
    """Reads a table in key order inside one REPEATABLE READ transaction (worker thread)."""

    def __init__(self, source: PostgresLogSource, facts: TableFacts, key: tuple[str, ...]) -> None:
        self.source = source
        self.facts = facts
        self.key = key
        self.connection: Any = None
        #: Where the stream starts: the permanent slot's consistent point.
        self.snapshot_lsn = 0
        #: The LSN of the snapshot now being read (later than snapshot_lsn after a resume).
        self.read_lsn = 0
        self.resumed: list[ResumedSegment[int]] = []
        self.after_key: list[str | None] | None = None
        self.rows_read = 0

    def begin(self, checkpoint: Checkpoint | None) -> None:
        """Resume the snapshot of ``checkpoint``, or create the slot and export its snapshot."""
        source = self.source
        slot = source.slot_state()
        if checkpoint is not None and slot is not None:
            self._resume(checkpoint)
            return
        if checkpoint is not None:
            log.warning("slot %s is gone; restarting the snapshot of %s from the beginning",
                        source.slot, source.spec.table)
        replication = connect(source.dsn, replication=True)
        try:
            cursor = replication.cursor()
            with translated_errors(source.dsn, f"creating replication slot {source.slot}"):
                if slot is not None:
                    cursor.execute(f"DROP_REPLICATION_SLOT {source.slot} WAIT")
                cursor.execute(f"CREATE_REPLICATION_SLOT {source.slot} LOGICAL pgoutput EXPORT_SNAPSHOT")
                _name, consistent_point, snapshot_name, _plugin = cursor.fetchone()
            self.snapshot_lsn = parse_lsn(str(consistent_point))
            self.read_lsn = self.snapshot_lsn
            self._open_transaction(str(snapshot_name))
        finally:
            replication.close()  # the imported snapshot lives on in our transaction

    def _resume(self, checkpoint: Checkpoint) -> None:
        """Read the rest of the table in a new snapshot, at a known LSN.

        The exported snapshot died with the previous process. A temporary slot exports a new
        one and says at which LSN it stands; the stream, which still starts at the permanent
        slot's consistent point, later skips the changes this snapshot already holds
        (:class:`CoveredKeys`). The temporary slot goes away with its connection.
        """
        source = self.source
        self.snapshot_lsn = parse_lsn(str(checkpoint["snapshot_lsn"]))
        after_key = checkpoint.get("after_key")
        self.after_key = after_key
        self.resumed = segments_from_checkpoint(checkpoint)
        temporary = f"{source.slot[:48]}_r{secrets.token_hex(4)}"
        replication = connect(source.dsn, replication=True)
        try:
            cursor = replication.cursor()
            with translated_errors(source.dsn, f"creating temporary replication slot {temporary}"):
                cursor.execute(
                    f"CREATE_REPLICATION_SLOT {temporary} TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT")
                _name, consistent_point, snapshot_name, _plugin = cursor.fetchone()
            self.read_lsn = parse_lsn(str(consistent_point))
            self._open_transaction(str(snapshot_name))
        finally:
            replication.close()
        self.resumed.append(ResumedSegment(
            None if after_key is None else tuple(after_key), self.read_lsn))
        log.info("resuming snapshot of %s after key %s at LSN %s", source.spec.table, after_key,
                 lsn_text(self.read_lsn))

    def _open_transaction(self, snapshot_name: str | None) -> None:
        self.connection = connect(self.source.dsn)
        with translated_errors(self.source.dsn, "starting the snapshot transaction"):
            cursor = self.connection.cursor()
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            if snapshot_name is not None:
                cursor.execute("SET TRANSACTION SNAPSHOT %s", (snapshot_name,))
            cursor.close()

    def chunk(self, size: int) -> tuple[list[Change], bool]:
        """The next ``size`` rows after the last key read, and whether the table is done."""
        q = quote_identifier
        # Qualified by the alias: a bare name in ORDER BY would mean the text output column.
        key = ", ".join(f"t.{q(c)}" for c in self.key)
        select = ", ".join(f"CAST(t.{q(c)} AS TEXT)" for c in self.facts.columns)
        where, params = "", []
        if self.after_key is not None:
            where = f"WHERE ({key}) > ({', '.join(['%s'] * len(self.key))})"
            params = list(self.after_key)
        sql = (f"SELECT {select} FROM {q(self.facts.schema)}.{q(self.facts.table)} AS t {where} "
               f"ORDER BY {key} LIMIT {int(size)}")
        with translated_errors(self.source.dsn, f"reading a snapshot chunk of {self.facts.table}"):
            cursor = self.connection.cursor()
            psycopg2.extensions.register_type(psycopg2.extensions.BYTES, cursor)
            cursor.execute(sql, params)
            raw_rows = cursor.fetchall()
            cursor.close()
        changes = self._changes(raw_rows, int(time.time() * 1000))
        if changes:
            self.after_key = [changes[-1].key[c] for c in self.key]
        self.rows_read += len(changes)
        return changes, len(raw_rows) < size

    def _changes(self, raw_rows: list[tuple[bytes | None, ...]], now_ms: int) -> list[Change]:
        """The snapshot changes of rows read in PostgreSQL's text output."""
        if BYTEA_OID in self.facts.type_oids:  # '\\x<hex>' needs value_text
            return [self._change(raw, now_ms) for raw in raw_rows]
        read, position = row_images(self.facts.columns, raw_rows, self.key), lsn_text(self.read_lsn)
        return [Change("r", key, None, row, position, now_ms, True, bad)
                for row, key, bad in zip(read.rows, read.keys, read.undecodable, strict=True)]

    def _change(self, raw: Sequence[bytes | None], now_ms: int) -> Change:
        row: Row = {}
        bad: list[str] = []
        for column, oid, value in zip(self.facts.columns, self.facts.type_oids, raw, strict=True):
            text, ok = value_text(value, oid)
            row[column] = text
            if not ok:
                bad.append(column)
        return Change(op="r", key={c: row[c] for c in self.key}, before=None, after=row,
                      position=lsn_text(self.read_lsn), commit_ts_ms=now_ms, snapshot=True,
                      undecodable=tuple(bad))

    def checkpoint(self, done: bool) -> Checkpoint:
        if done:
            return _stream_checkpoint(self.source.slot, self.snapshot_lsn, self.resumed)
        checkpoint: Checkpoint = {"phase": "snapshot", "slot": self.source.slot,
                                  "after_key": self.after_key,
                                  "snapshot_lsn": lsn_text(self.snapshot_lsn)}
        if self.resumed:
            checkpoint["resumed"] = segments_to_checkpoint(self.resumed)
        return checkpoint

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except psycopg2.Error:
                pass
            self.connection = None


class PostgresLogSource:
    """One PostgreSQL table captured from the write-ahead log (strategy ``log``).

    ``spec.options`` may name ``schema`` (default ``public``), ``slot`` and ``publication``
    (default both :func:`replication_name`). An existing publication is used as it is.
    """

    engine = "postgresql"
    #: The next batch never waits for an acknowledgement: an acknowledged LSN only lets the
    #: server recycle WAL (the stream sends it from its own thread when it holds the lock).
    reads_ahead = True

    def __init__(self, dsn: str, spec: TableSpec) -> None:
        if spec.strategy != "log":
            raise SourceMisconfigured(f"PostgresLogSource reads strategy 'log', not {spec.strategy!r}")
        self.dsn = dsn
        self.spec = spec
        self.dialect = PostgresDialect(dsn, schema=str(spec.options.get("schema", "public")))
        self.database = self.dialect.database
        self.slot = str(spec.options.get("slot") or replication_name(spec))
        if not re.fullmatch(r"[a-z0-9_]{1,63}", self.slot):
            raise SourceMisconfigured(f"replication slot name {self.slot!r}: use 1-63 characters "
                                      "a-z, 0-9 and _ ('slot' option)")
        self.publication = str(spec.options.get("publication") or replication_name(spec))
        self.state: State = "starting"
        self._stream: ReplicationStream | None = None
        self._ack_pending: int | None = None

    # -- CaptureSource ------------------------------------------------------------------

    async def check(self) -> None:
        await asyncio.to_thread(self._inspect, False)

    async def discover(self) -> list[TableInfo]:
        return await asyncio.to_thread(self._discover)

    async def read(self, checkpoint: Checkpoint | None) -> AsyncGenerator[Batch, None]:
        facts = await asyncio.to_thread(self._inspect, True)
        key = self._key_columns(facts)
        if checkpoint is None or checkpoint.get("phase") == "snapshot":
            self.state = "snapshotting"
            async for batch in self._snapshot(facts, key, checkpoint):
                checkpoint = batch.checkpoint
                yield batch
        assert checkpoint is not None
        self.state = "streaming"
        covered = covered_keys(self.dsn, self.dialect.qualified(facts.table), key,
                               segments_from_checkpoint(checkpoint))
        async for batch in self._streaming(facts, key, parse_lsn(str(checkpoint["lsn"])), covered):
            yield batch

    async def acknowledge(self, checkpoint: Checkpoint) -> None:
        if checkpoint.get("phase") != "stream":
            return  # during the snapshot the slot stays at its consistent point
        lsn = parse_lsn(str(checkpoint["lsn"]))
        self._ack_pending = max(lsn, self._ack_pending or 0)
        if self._stream is not None:
            await asyncio.to_thread(self._stream.request_ack, lsn)

    async def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await asyncio.to_thread(stream.close)
        self.state = "stopped"

    # -- prerequisites --------------------------------------------------------------------

    def _discover(self) -> list[TableInfo]:
        connection = self.dialect.connect()
        try:
            return [self.dialect.describe(connection, t) for t in self.dialect.tables(connection)]
        finally:
            connection.close()

    def _key_columns(self, facts: TableFacts) -> tuple[str, ...]:
        key = tuple(self.spec.key_columns) or facts.primary_key
        missing = [c for c in key if c not in facts.columns]
        if not key or missing:
            raise SourceMisconfigured(
                f"{facts.schema}.{facts.table} has no primary key and the adapter configuration "
                f"names no usable key ({missing or 'none'}); set 'key' for this table")
        return key

    def _inspect(self, create_publication: bool) -> TableFacts:
        """Check every prerequisite of log capture; create the publication when asked."""
        connection: Any = self.dialect.connect()
        try:
            with translated_errors(self.dsn, "checking log-capture prerequisites"):
                cursor = connection.cursor()
                self._check_server(cursor)
                facts = self.dialect.facts(connection, self.spec.table)
                self._check_identity(facts)
                self._check_slot(cursor)
                exists = self._check_publication(cursor, facts)
                cursor.close()
                connection.rollback()
        finally:
            connection.close()
        if create_publication and not exists:
            self._create_publication(facts)
        return facts

    def _check_server(self, cursor: Any) -> None:
        cursor.execute("SELECT current_setting('wal_level'), rolsuper OR rolreplication, current_user "
                       "FROM pg_roles WHERE rolname = current_user")
        wal_level, may_replicate, user = catalog_row(cursor.fetchone())
        if wal_level != "logical":
            raise SourceMisconfigured(
                f"PostgreSQL database {self.database}: wal_level is {wal_level!r}; log capture "
                "needs wal_level = logical in postgresql.conf (ALTER SYSTEM SET wal_level = "
                "'logical'), then a restart of PostgreSQL")
        if not _flag(may_replicate):
            raise SourceMisconfigured(
                f"PostgreSQL role {user!r} may not read the log: run ALTER ROLE {user} REPLICATION")

    def _check_identity(self, facts: TableFacts) -> None:
        key = self._key_columns(facts)
        name = f"{facts.schema}.{facts.table}"
        full = f"ALTER TABLE {name} REPLICA IDENTITY FULL"
        if facts.replica_identity == "n" or (facts.replica_identity == "d" and not facts.primary_key):
            raise SourceMisconfigured(
                f"{name} has no primary key, so PostgreSQL logs no key for updates and deletes: "
                f"run {full}")
        if facts.replica_identity == "d" and not set(key) <= set(facts.primary_key):
            raise SourceMisconfigured(
                f"{name}: the configured key {list(key)} is not the primary key, which is all a "
                f"delete logs: run {full}")

    def _check_slot(self, cursor: Any) -> None:
        cursor.execute("SELECT plugin, database FROM pg_replication_slots WHERE slot_name = %s",
                       (self.slot,))
        found = catalog_row(cursor.fetchone())
        if found is not None:
            plugin, database = found
            if plugin != "pgoutput" or database != self.database:
                raise SourceMisconfigured(
                    f"replication slot {self.slot} exists for {plugin} on database {database}; "
                    "name another slot ('slot' option) or drop it")
            return
        cursor.execute("SELECT current_setting('max_replication_slots')::int, "
                       "(SELECT count(*) FROM pg_replication_slots)")
        limit, used = catalog_row(cursor.fetchone())
        if used >= limit:
            raise SourceMisconfigured(
                f"all {limit} replication slots are in use: raise max_replication_slots in "
                "postgresql.conf (restart) or drop unused slots (pg_drop_replication_slot)")

    def _check_publication(self, cursor: Any, facts: TableFacts) -> bool:
        """Whether the publication exists (it must then include the table)."""
        cursor.execute("SELECT puballtables FROM pg_publication WHERE pubname = %s", (self.publication,))
        found = catalog_row(cursor.fetchone())
        name = f"{facts.schema}.{facts.table}"
        if found is None:
            cursor.execute("SELECT rolsuper OR (%s AND has_database_privilege(current_database(), "
                           "'CREATE')) FROM pg_roles WHERE rolname = current_user",
                           (facts.owned_by_current_user,))
            if not _flag(catalog_row(cursor.fetchone())[0]):
                raise SourceMisconfigured(
                    f"publication {self.publication} does not exist and this role may not create "
                    f"it: as the owner of {name} run CREATE PUBLICATION {self.publication} FOR "
                    f"TABLE {name}")
            return False
        cursor.execute("SELECT 1 FROM pg_publication_tables WHERE pubname = %s AND schemaname = %s "
                       "AND tablename = %s", (self.publication, facts.schema, facts.table))
        if cursor.fetchone() is None:
            raise SourceMisconfigured(
                f"publication {self.publication} does not include {name}: run ALTER PUBLICATION "
                f"{self.publication} ADD TABLE {name}")
        return True

    def _create_publication(self, facts: TableFacts) -> None:
        """The one write of log capture (besides the slot): ``CREATE PUBLICATION``."""
        connection = connect(self.dsn, read_only=False)
        try:
            connection.autocommit = True
            with translated_errors(self.dsn, f"creating publication {self.publication}"), \
                    connection.cursor() as cursor:
                cursor.execute(f"CREATE PUBLICATION {quote_identifier(self.publication)} FOR TABLE "
                               f"{self.dialect.qualified(facts.table)}")
            log.info("created publication %s for %s.%s", self.publication, facts.schema, facts.table)
        except psycopg2.errors.DuplicateObject:
            pass  # created concurrently
        finally:
            connection.close()

    def slot_state(self) -> tuple[str, bool] | None:
        """(confirmed flush LSN, active) of our slot, or None if it does not exist."""
        connection: Any = self.dialect.connect()
        try:
            with translated_errors(self.dsn, f"looking up slot {self.slot}"), \
                    connection.cursor() as cursor:
                cursor.execute("SELECT CAST(confirmed_flush_lsn AS TEXT), active FROM "
                               "pg_replication_slots WHERE slot_name = %s", (self.slot,))
                found = catalog_row(cursor.fetchone())
        finally:
            connection.close()
        return None if found is None else (str(found[0]), _flag(found[1]))

    # -- reading --------------------------------------------------------------------------

    async def _snapshot(self, facts: TableFacts, key: tuple[str, ...],
                        checkpoint: Checkpoint | None) -> AsyncIterator[Batch]:
        reader = _SnapshotReader(self, facts, key)
        try:
            await asyncio.to_thread(reader.begin, checkpoint)
            done = False
            while not done:
                changes, done = await asyncio.to_thread(reader.chunk, self.spec.batch_size)
                log.info("snapshot of %s: %d rows read (about %s in the table)", self.spec.table,
                         reader.rows_read, facts.row_estimate or "?")
                if done:  # end the snapshot transaction now: it holds a lock on the table
                    await asyncio.to_thread(reader.close)
                yield Batch(changes, reader.checkpoint(done), facts.columns, state="snapshotting")
        finally:
            await asyncio.to_thread(reader.close)

    async def _streaming(self, facts: TableFacts, key: tuple[str, ...], start_lsn: int,
                         covered: CoveredKeys[int]) -> AsyncIterator[Batch]:
        stream = ReplicationStream(self.dsn, self.slot, self.publication,
                                   TableDecoder(facts.schema, facts.table, key), start_lsn)
        if self._ack_pending is not None:
            stream.request_ack(self._ack_pending)
        await asyncio.to_thread(stream.open)
        self._stream = stream
        pending: deque[Transaction] = deque()
        columns, lsn = facts.columns, start_lsn
        try:
            while True:
                if not pending:
                    fetched = await asyncio.to_thread(
                        stream.fetch, self.spec.batch_size, self.spec.poll_interval)
                    if covered.segments and fetched:
                        fetched = await asyncio.to_thread(_uncovered, covered, fetched)
                    pending.extend(fetched)
                if pending:
                    changes, columns, lsn = _take_batch(pending, self.spec.batch_size)
                else:
                    changes, lsn = [], max(lsn, stream.idle_lsn())
                covered.passed(lsn)
                yield Batch(changes, _stream_checkpoint(self.slot, lsn, covered.segments), columns)
        finally:
            if self._stream is stream:
                self._stream = None
            await asyncio.to_thread(stream.close)


def _uncovered(covered: CoveredKeys[int], transactions: list[Transaction]) -> list[Transaction]:
    """``transactions`` without the changes a resumed snapshot segment already published."""
    kept = covered.filter([(tx.commit_lsn, tx.changes) for tx in transactions])
    return [Transaction(tx.end_lsn, tx.commit_ts_ms, tuple(changes), tx.columns, tx.commit_lsn)
            for tx, changes in zip(transactions, kept, strict=True) if changes]


def _take_batch(pending: deque[Transaction], size: int) -> tuple[list[Change], tuple[str, ...], int]:
    """Whole transactions with the same columns, about ``size`` changes (at least one)."""
    first = pending.popleft()
    changes, columns, lsn = list(first.changes), first.columns, first.end_lsn
    while pending and pending[0].columns == columns and len(changes) + len(pending[0].changes) <= size:
        tx = pending.popleft()
        changes.extend(tx.changes)
        lsn = tx.end_lsn
    return changes, columns, lsn
