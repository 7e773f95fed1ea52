"""Log-based capture of one MariaDB/MySQL table from the binlog (strategy ``log``).

``MariaDbBinlogSource`` implements :class:`adapters.capture.source.CaptureSource`:

1. **Snapshot** (no checkpoint): one consistent read of the table, in key order and chunks of
   ``spec.batch_size`` rows (op ``r``), pinned to the binlog position of that read. MariaDB
   reports the position of a ``START TRANSACTION WITH CONSISTENT SNAPSHOT`` itself
   (``Binlog_snapshot_file`` / ``Binlog_snapshot_position``), so no lock is taken; MySQL gets
   ``FLUSH TABLES WITH READ LOCK`` for the instant it takes to start the transaction and read
   ``SHOW MASTER STATUS``. Each chunk's checkpoint is ``{phase: "snapshot", after_key,
   binlog_file, binlog_pos}``.
2. **Stream** from exactly that position with ``pymysqlreplication``: row events become ``c``,
   ``u``, ``d`` changes. Checkpoints are ``{phase: "stream", binlog_file, binlog_pos}`` at the
   end of a complete transaction only (after its XID or ``COMMIT``, or after a DDL statement),
   so a batch never splits a transaction and a resume never starts inside one.

An interrupted snapshot resumes after its last chunk in a *new* consistent read, whose binlog
position the checkpoint records under ``resumed``; the stream still starts at the *original*
position and skips, for the keys the new read covered, the transactions that read already held
(:mod:`adapters.capture.resume`). Every row is published once, never an older image after a
newer one.

The stream is pushed: the reader keeps one blocking binlog dump open, and the server sends each
transaction as it commits plus a heartbeat after every ``HEARTBEAT_PERIOD`` without one, so a
read never waits longer than that. A batch ends at the batch size, at a heartbeat (the binlog
went quiet) or ``BATCH_LINGER`` after its first transaction; an idle stream yields an empty
batch every ``spec.poll_interval``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from pymysql.constants import FIELD_TYPE
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import (
    HeartbeatLogEvent,
    QueryEvent,
    RotateEvent,
    XidEvent,
)
from pymysqlreplication.row_event import (
    DeleteRowsEvent,
    UpdateRowsEvent,
    WriteRowsEvent,
)

from adapters.capture.engines.mariadb_binlog_rows import BinlogImages, Image
from adapters.capture.engines.mariadb_connection import MariaDbConnection
from adapters.capture.engines.mariadb_resume import (
    BinlogPosition,
    covered_keys,
    in_snapshot,
    segments_from_checkpoint,
    segments_to_checkpoint,
)
from adapters.capture.engines.mariadb_sql import (
    DRIVER_ERRORS,
    MariaDbDialect,
    MariaDbSettings,
    connect,
    float32_text,
    quote_identifier,
    row_text,
    text_of,
    translate_error,
)
from adapters.capture.resume import CoveredKeys, ResumedSegment
from adapters.capture.source import (
    Batch,
    Change,
    Checkpoint,
    SourceMisconfigured,
    TableInfo,
    TableSpec,
    key_of,
)
from adapters.capture.strategies.common import Images, row_images

__all__ = [
    "BinlogPosition",
    "MariaDbBinlogSource",
    "MariaDbDialect",
    "MariaDbSettings",
    "binlog_setting_problems",
    "default_server_id",
]

log = logging.getLogger(__name__)

ENGINE = "mariadb"
_ROW_EVENTS = (WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent)
_STREAM_EVENTS = [*_ROW_EVENTS, XidEvent, QueryEvent, RotateEvent]
#: Seconds of binlog silence after which the server sends a heartbeat: the longest a read blocks.
HEARTBEAT_PERIOD = 0.05
#: Seconds a batch with changes waits for more while transactions keep arriving.
BATCH_LINGER = 0.1
#: Statements of the binlog that do not end a transaction (everything else does: COMMIT,
#: ROLLBACK, DDL — DDL commits implicitly and is logged outside any transaction).
_INSIDE_TRANSACTION = ("BEGIN", "SAVEPOINT", "ROLLBACK TO", "XA START", "XA END")
#: Variables whose value a binlog capture needs, with the value and what to do otherwise.
_REQUIRED = {
    "log_bin": ("ON", "start the server with log_bin (log-bin=<path> in [mysqld]) and restart"),
    "binlog_format": ("ROW", "set binlog_format=ROW in [mysqld] and restart (or SET GLOBAL "
                             "binlog_format='ROW'; sessions already open keep their format)"),
    "binlog_row_image": ("FULL", "set binlog_row_image=FULL in [mysqld]"),
    "binlog_row_metadata": ("FULL", "set binlog_row_metadata=FULL in [mysqld] (column names "
                                    "in row events)"),
    "log_bin_compress": ("OFF", "set log_bin_compress=OFF in [mysqld] (compressed binlog "
                                "events cannot be decoded)"),
    "binlog_transaction_compression": ("OFF", "set binlog_transaction_compression=OFF in "
                                              "[mysqld]"),
}


Segments = Sequence[ResumedSegment[BinlogPosition]]


def stream_checkpoint(position: BinlogPosition, resumed: Segments = ()) -> Checkpoint:
    """Where the stream stands, and the resumed snapshot segments it has not passed yet."""
    checkpoint: Checkpoint = {"phase": "stream", "binlog_file": position.file,
                              "binlog_pos": position.pos}
    pending = [s for s in resumed if in_snapshot(position, s.position)]
    if pending:
        checkpoint["resumed"] = segments_to_checkpoint(pending)
    return checkpoint


def snapshot_checkpoint(position: BinlogPosition, after_key: list[str | None] | None,
                        resumed: Segments = ()) -> Checkpoint:
    checkpoint: Checkpoint = {"phase": "snapshot", "after_key": after_key,
                              "binlog_file": position.file, "binlog_pos": position.pos}
    if resumed:
        checkpoint["resumed"] = segments_to_checkpoint(resumed)
    return checkpoint


def parse_checkpoint(checkpoint: Checkpoint | None
                     ) -> tuple[str, BinlogPosition | None, list[str | None] | None]:
    """(phase, binlog position, last snapshot key) of a stored checkpoint."""
    if not checkpoint:
        return "snapshot", None, None
    position = BinlogPosition(str(checkpoint["binlog_file"]), int(checkpoint["binlog_pos"]))
    after = checkpoint.get("after_key")
    after_key = None if after is None else [None if v is None else str(v) for v in after]
    return str(checkpoint.get("phase", "stream")), position, after_key


def default_server_id(spec: TableSpec) -> int:
    """A stable replica id for this table's capture (set ``options.server_id`` to choose one).

    Every binlog reader of a server needs an id no other replica uses; the default is derived
    from the table's owner name, in a range real servers rarely use.
    """
    return 1_000_000 + zlib.crc32(f"rongtong:{spec.owner}".encode()) % 1_000_000_000


def binlog_setting_problems(variables: Mapping[str, str]) -> list[str]:
    """What is wrong with the server's settings for binlog capture (empty: nothing)."""
    problems = []
    for name, (wanted, remedy) in _REQUIRED.items():
        value = variables.get(name)
        if value is None:
            continue  # not a variable of this server version
        normalized = {"1": "ON", "0": "OFF"}.get(value.upper(), value.upper())
        if normalized != wanted:
            problems.append(f"{name} is {value}, must be {wanted}: {remedy}")
    if "log_bin" not in variables:
        problems.append("log_bin is unknown: the binary log is not enabled")
    return problems


class MariaDbBinlogSource:
    """A MariaDB/MySQL table read from its binlog after a consistent snapshot."""

    engine = ENGINE
    #: Acknowledgements release nothing here (see :meth:`acknowledge`): read ahead freely.
    reads_ahead = True

    def __init__(self, spec: TableSpec, settings: MariaDbSettings, *,
                 server_id: int | None = None) -> None:
        self.spec = spec
        self.settings = settings
        self.database = settings.database
        self.dialect = MariaDbDialect(settings)
        option = spec.options.get("server_id")
        self.server_id = server_id or (int(option) if option else default_server_id(spec))
        self._resources: set[_Closable] = set()

    # -- the port ----------------------------------------------------------------------------

    async def check(self) -> None:
        await asyncio.to_thread(self._check)

    async def discover(self) -> list[TableInfo]:
        return await asyncio.to_thread(self._discover)

    async def read(self, checkpoint: Checkpoint | None) -> AsyncGenerator[Batch, None]:
        info, flavour = await asyncio.to_thread(self._prepare)
        keys = self._key_columns(info)
        phase, position, after_key = parse_checkpoint(checkpoint)
        resumed = segments_from_checkpoint(checkpoint)
        if phase == "snapshot" or position is None:
            async for batch in self._snapshot(info, keys, flavour, position, after_key, resumed):
                yield batch
                position = BinlogPosition(batch.checkpoint["binlog_file"],
                                          batch.checkpoint["binlog_pos"])
        assert position is not None
        covered = covered_keys(self.settings, self.spec.table, keys, resumed)
        async for batch in self._stream(info, keys, position, covered):
            yield batch

    async def acknowledge(self, checkpoint: Checkpoint) -> None:
        """Nothing to release: the server purges binlogs by age, never by our acknowledgement."""
        del checkpoint

    async def close(self) -> None:
        resources, self._resources = self._resources, set()
        for resource in resources:
            await asyncio.to_thread(resource.close)

    # -- checks ------------------------------------------------------------------------------

    def _check(self) -> None:
        self._prepare()
        probe = _BinlogTail(self, (), self._master_position(), probe=True, idle_wait=None)
        try:
            probe.poll(1)
        finally:
            probe.close()

    def _prepare(self) -> tuple[TableInfo, str]:
        """The table's description and the server flavour, after checking the settings."""
        connection = connect(self.settings, autocommit=True)
        try:
            variables, flavour = _server_variables(connection, self.settings)
            problems = binlog_setting_problems(variables)
            if variables.get("server_id") == str(self.server_id):
                problems.append(f"server_id of the server is {self.server_id}, the same as the "
                                "capture's: set options.server_id of the table to another value")
            if problems:
                raise SourceMisconfigured(
                    f"MariaDB at {self.settings.address} is not set up for binlog capture: "
                    + "; ".join(problems))
            return self.dialect.describe(connection, self.spec.table), flavour
        finally:
            connection.close()

    def _discover(self) -> list[TableInfo]:
        connection = self.dialect.connect()
        try:
            return [self.dialect.describe(connection, name)
                    for name in self.dialect.tables(connection)]
        finally:
            connection.close()

    def _key_columns(self, info: TableInfo) -> tuple[str, ...]:
        keys = self.spec.key_columns or info.key_columns
        if not keys:
            raise SourceMisconfigured(
                f"table {self.database}.{self.spec.table} has no primary key: declare "
                "key_columns for it in the adapter configuration")
        return tuple(keys)

    def _master_position(self) -> BinlogPosition:
        connection = connect(self.settings, autocommit=True)
        try:
            return _show_master_status(connection.cursor(), self.settings)
        finally:
            connection.close()

    # -- snapshot ----------------------------------------------------------------------------

    async def _snapshot(
        self, info: TableInfo, keys: tuple[str, ...], flavour: str,
        position: BinlogPosition | None, after_key: list[str | None] | None,
        resumed: list[ResumedSegment[BinlogPosition]],
    ) -> AsyncGenerator[Batch, None]:
        snapshot = _Snapshot(self.settings, self.spec.table, keys, self.spec.batch_size)
        self._resources.add(snapshot)
        try:
            started = await asyncio.to_thread(snapshot.begin, flavour)
            if position is not None:
                # A resume: this read stands later in the binlog than the stream will start.
                resumed.append(ResumedSegment(None if after_key is None else tuple(after_key),
                                              started))
                log.info("resuming snapshot of %s after key %s at %s", self.spec.table,
                         after_key, started)
            position = position or started
            ts_ms = int(time.time() * 1000)
            while True:
                read = await asyncio.to_thread(snapshot.chunk, after_key)
                rows = read.rows
                if rows:
                    after_key = [rows[-1].get(k) for k in keys]
                done = len(rows) < self.spec.batch_size
                checkpoint = (stream_checkpoint(position, resumed) if done
                              else snapshot_checkpoint(position, after_key, resumed))
                where = f"snapshot:{started}"
                changes = [Change("r", key, None, row, where, ts_ms, True, bad)
                           for row, key, bad in zip(rows, read.keys, read.undecodable, strict=True)]
                columns = tuple(rows[0]) if rows else info.columns
                yield Batch(changes, checkpoint, columns, state="snapshotting")
                if done:
                    return
        finally:
            self._resources.discard(snapshot)
            await asyncio.to_thread(snapshot.close)

    # -- stream ------------------------------------------------------------------------------

    async def _stream(self, info: TableInfo, keys: tuple[str, ...], position: BinlogPosition,
                      covered: CoveredKeys[BinlogPosition]) -> AsyncGenerator[Batch, None]:
        tail = _BinlogTail(self, keys, position, covered=covered, idle_wait=self.spec.poll_interval)
        self._resources.add(tail)
        try:
            await asyncio.to_thread(tail.verify_position)
            while True:
                started = time.monotonic()
                changes, at, _at_end = await asyncio.to_thread(tail.poll, self.spec.batch_size)
                covered.passed(at)
                yield Batch(changes, stream_checkpoint(at, covered.segments),
                            _columns_of(changes, info.columns))
                if tail.ended:  # the server closed the dump (a rotation or a restart): pace retries
                    idle = self.spec.poll_interval - (time.monotonic() - started)
                    await asyncio.sleep(max(idle, 0.0))
        finally:
            self._resources.discard(tail)
            await asyncio.to_thread(tail.close)


class _Closable:
    def close(self) -> None:
        raise NotImplementedError


class _Snapshot(_Closable):
    """One consistent read of a table, in key order and chunks, on its own connection."""

    def __init__(self, settings: MariaDbSettings, table: str, keys: Sequence[str],
                 chunk_size: int) -> None:
        self.settings = settings
        self.table = table
        self.keys = tuple(keys)
        self.chunk_size = chunk_size
        self._connection: Any = None

    def begin(self, flavour: str) -> BinlogPosition:
        """Start the consistent read; the binlog position it corresponds to."""
        self._connection = connect(self.settings, for_capture=True)
        cursor = self._connection.cursor()
        try:
            if flavour == "mariadb":
                return self._begin_mariadb(cursor)
            return self._begin_with_global_lock(cursor)
        except DRIVER_ERRORS as error:
            raise translate_error(error, self.settings) from error
        finally:
            cursor.close()

    def _begin_mariadb(self, cursor: Any) -> BinlogPosition:
        """MariaDB tells the binlog position of a consistent snapshot: no lock needed."""
        _start_consistent_read(cursor)
        cursor.execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
        status = {str(name).lower(): str(value) for name, value in cursor.fetchall()}
        return BinlogPosition(status["binlog_snapshot_file"],
                              int(status["binlog_snapshot_position"]))

    def _begin_with_global_lock(self, cursor: Any) -> BinlogPosition:
        """MySQL: block commits for the instant it takes to start the read and note the position."""
        cursor.execute("FLUSH TABLES WITH READ LOCK")
        try:
            _start_consistent_read(cursor)
            return _show_master_status(cursor, self.settings)
        finally:
            cursor.execute("UNLOCK TABLES")

    def chunk(self, after_key: Sequence[str | None] | None) -> Images:
        """The next rows after ``after_key`` in key order, as text with undecodable columns."""
        order = ", ".join(quote_identifier(k) for k in self.keys)
        where, params = ("", []) if after_key is None else _after_key(self.keys, after_key)
        sql = (f"SELECT * FROM {quote_identifier(self.table)}{where} "
               f"ORDER BY {order} LIMIT {int(self.chunk_size)}")
        cursor = self._connection.cursor()
        try:
            cursor.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return row_images(names, cursor.fetchall(), tuple(dict.fromkeys(self.keys)),
                              text=text_of)
        except DRIVER_ERRORS as error:
            raise translate_error(error, self.settings) from error
        finally:
            cursor.close()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.rollback()
            connection.close()
        except DRIVER_ERRORS:
            pass


class _BinlogTail(_Closable):
    """Reads the binlog after a transaction boundary and turns row events into changes.

    With ``idle_wait`` (seconds) the dump blocks and the server sends heartbeats; without, the
    tail reads what the binlog holds now and stops at its end (the prerequisite probe).
    """

    def __init__(self, source: MariaDbBinlogSource, keys: Sequence[str],
                 position: BinlogPosition, *, idle_wait: float | None, probe: bool = False,
                 covered: CoveredKeys[BinlogPosition] | None = None) -> None:
        self.settings = source.settings
        self.server_id = source.server_id
        self.table = source.spec.table
        self.keys = tuple(keys)
        self.position = position
        self._probe = probe
        self._covered = covered
        self.idle_wait = idle_wait
        #: Whether the last poll met the end of the dump (the connection will be reopened).
        self.ended = False
        self._reader: Any = None
        self._pending: list[Change] = []
        self._images = BinlogImages()

    def verify_position(self) -> None:
        """Fail clearly when the binlog file of the position was purged."""
        connection = connect(self.settings, autocommit=True)
        try:
            cursor = connection.cursor()
            cursor.execute("SHOW BINARY LOGS")
            files = [str(row[0]) for row in cursor.fetchall()]
        except DRIVER_ERRORS as error:
            raise translate_error(error, self.settings) from error
        finally:
            connection.close()
        if self.position.file not in files:
            raise SourceMisconfigured(
                f"MariaDB at {self.settings.address} no longer has binlog {self.position.file} "
                f"(oldest: {files[0] if files else 'none'}); it was purged before the capture "
                "read it (expire_logs_days / binlog_expire_logs_seconds): raise the retention "
                "and delete this table's checkpoint to take a new snapshot")

    def poll(self, limit: int) -> tuple[list[Change], BinlogPosition, bool]:
        """Complete transactions after the position, about ``limit`` changes at most.

        Returns the changes, the boundary they end at, and whether the end of the binlog was
        reached. A transaction larger than ``limit`` comes whole.
        """
        ready: list[tuple[BinlogPosition, list[Change]]] = []
        count, at_end, self.ended = 0, False, False
        started = time.monotonic()
        first_ready: float | None = None
        try:
            while count < limit:
                event = self._next_event()
                if event is None:
                    self._end_of_binlog()
                    at_end = self.ended = True
                    break
                now = time.monotonic()
                if isinstance(event, HeartbeatLogEvent):
                    if ready or now - started >= (self.idle_wait or 0.0):
                        at_end = True
                        break
                    continue
                taken = self._take(event, ready)
                count += taken
                if taken and first_ready is None:
                    first_ready = now
                if (first_ready is not None and now - first_ready >= BATCH_LINGER) or (
                        not ready and now - started >= (self.idle_wait or 0.0)):
                    break
            kept = ([c for _at, changes in ready for c in changes]
                    if self._covered is None or not self._covered.segments
                    else [c for changes in self._covered.filter(ready) for c in changes])
        except DRIVER_ERRORS as error:
            self.close()
            raise translate_error(error, self.settings) from error
        return kept, self.position, at_end

    def _next_event(self) -> Any:
        if self._reader is None:
            self._reader = self._open_reader()
        return self._reader.fetchone()

    def _open_reader(self) -> Any:
        return BinLogStreamReader(
            connection_settings=self.settings.pymysql_kwargs(with_database=False),
            server_id=self.server_id, resume_stream=True, blocking=self.idle_wait is not None,
            slave_heartbeat=None if self.idle_wait is None else HEARTBEAT_PERIOD,
            log_file=self.position.file, log_pos=self.position.pos,
            only_events=[*_STREAM_EVENTS, HeartbeatLogEvent], only_schemas=[self.settings.database],
            only_tables=[self.table], enable_logging=False,
            # Servers without binlog_row_metadata (MariaDB < 10.5, MySQL < 8.0.14) name
            # the columns from information_schema instead.
            use_column_name_cache=True, pymysql_wrapper=MariaDbConnection,
        )

    def _take(self, event: Any, ready: list[tuple[BinlogPosition, list[Change]]]) -> int:
        """Feed one event; returns how many changes became ready (a transaction ended)."""
        reader = self._reader
        if isinstance(event, _ROW_EVENTS):
            if not self._probe and event.schema == self.settings.database \
                    and event.table == self.table:
                self._pending.extend(self._changes(event, reader.log_file))
        elif isinstance(event, XidEvent) or (
                isinstance(event, QueryEvent) and _ends_transaction(event)):
            self.position = BinlogPosition(reader.log_file, int(reader.log_pos))
            done, self._pending = self._pending, []
            if done:
                ready.append((self.position, done))
            return len(done)
        elif isinstance(event, RotateEvent) and not self._pending:
            self.position = BinlogPosition(event.next_binlog, int(event.position))
        return 0

    def _end_of_binlog(self) -> None:
        """The server sent all it has. It writes transactions whole, so nothing should be
        pending; if something is, read that transaction again from its start next time."""
        if self._pending:
            self._pending.clear()
            self.close()

    def _changes(self, event: Any, log_file: str) -> list[Change]:
        """The changes of one row event, a list built per kind of event (a 500-row event
        made 500 sets, sorts and tuples of undecodable columns, nearly all empty)."""
        position = f"{log_file}:{event.packet.log_pos}"
        ts_ms = int(event.timestamp) * 1000
        rows = self._images.images(event)
        if rows is None:
            rows = _python_images(event)
        keys = self.keys
        if isinstance(event, UpdateRowsEvent):
            return [Change("u", key_of(after, keys), before, after, position, ts_ms,
                           undecodable=_undecodable(before_bad, after_bad))
                    for (before, before_bad), (after, after_bad) in rows]
        if isinstance(event, WriteRowsEvent):
            return [Change("c", key_of(after, keys), None, after, position, ts_ms,
                           undecodable=_undecodable(bad)) for ((after, bad),) in rows]
        return [Change("d", key_of(before, keys), before, None, position, ts_ms,
                       undecodable=_undecodable(bad)) for ((before, bad),) in rows]

    def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            try:
                reader.close()
            except DRIVER_ERRORS:
                pass


def _undecodable(*columns: tuple[str, ...]) -> tuple[str, ...]:
    """The columns of a change's images that did not decode, each once, sorted."""
    if not any(columns):
        return ()
    return tuple(sorted({column for names in columns for column in names}))


def _python_images(event: Any) -> list[tuple[Image, ...]]:
    """The row images as mysql-replication reads them, turned into capture text."""
    floats = {c.name for c in event.columns if c.type == FIELD_TYPE.FLOAT}
    if isinstance(event, UpdateRowsEvent):
        return [(_image(row["before_values"], floats), _image(row["after_values"], floats))
                for row in event.rows]
    return [(_image(row["values"], floats),) for row in event.rows]


def _image(values: Mapping[str, object], floats: set[str]) -> Image:
    converted = {name: float32_text(value) if name in floats and isinstance(value, float)
                 else value for name, value in values.items()}
    return row_text(converted)


def _ends_transaction(event: Any) -> bool:
    statement = str(event.query).lstrip().upper()
    return not statement.startswith(_INSIDE_TRANSACTION)


def _columns_of(changes: Sequence[Change], default: tuple[str, ...]) -> tuple[str, ...]:
    """Every column of the batch's row images, in first-seen order (a column added midway
    is included; rows that predate it leave it null).

    Every image of one row event has that event's columns, and its changes share one position
    string (:meth:`_BinlogTail._changes`): one change per event is enough to look at.
    """
    if not changes:
        return default
    seen: dict[str, None] = {}
    position = None
    for change in changes:
        if change.position is position:
            continue
        position = change.position
        for image in (change.before, change.after):
            if image:
                seen.update(dict.fromkeys(image))
    return tuple(seen)


def _after_key(keys: Sequence[str], after: Sequence[str | None]) -> tuple[str, list[str | None]]:
    """``WHERE`` clause for rows after ``after`` in key order (expanded, index-friendly)."""
    clauses: list[str] = []
    params: list[str | None] = []
    for i, key in enumerate(keys):
        equal = [f"{quote_identifier(k)} = %s" for k in keys[:i]]
        clauses.append("(" + " AND ".join([*equal, f"{quote_identifier(key)} > %s"]) + ")")
        params += [*after[:i], after[i]]
    return " WHERE " + " OR ".join(clauses), params


def _start_consistent_read(cursor: Any) -> None:
    cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")


def _show_master_status(cursor: Any, settings: MariaDbSettings) -> BinlogPosition:
    try:
        try:
            cursor.execute("SHOW BINARY LOG STATUS")  # MySQL >= 8.4
        except DRIVER_ERRORS:
            cursor.execute("SHOW MASTER STATUS")
        row = cursor.fetchone()
    except DRIVER_ERRORS as error:
        raise translate_error(error, settings) from error
    if not row:
        raise SourceMisconfigured(f"MariaDB at {settings.address} has no binary log: start it "
                                  "with log_bin (log-bin=<path> in [mysqld]) and restart")
    return BinlogPosition(str(row[0]), int(row[1]))


def _server_variables(connection: Any, settings: MariaDbSettings) -> tuple[dict[str, str], str]:
    names = ("log_bin", "server_id", "version", *_REQUIRED)
    marks = ", ".join(["%s"] * len(names))
    cursor = connection.cursor()
    try:
        cursor.execute(f"SHOW GLOBAL VARIABLES WHERE Variable_name IN ({marks})", names)
        variables = {str(name).lower(): text_of(value)[0] or "" for name, value in cursor.fetchall()}
    except DRIVER_ERRORS as error:
        raise translate_error(error, settings) from error
    finally:
        cursor.close()
    flavour = "mariadb" if "mariadb" in variables.get("version", "").lower() else "mysql"
    return variables, flavour
