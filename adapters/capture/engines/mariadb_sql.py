"""MariaDB/MySQL through PyMySQL: connection settings, the SQL dialect, values as text, errors.

Everything here is shared by the generic SQL strategies (through :class:`MariaDbDialect`) and
by the binlog capture (:mod:`adapters.capture.engines.mariadb`). Values become text the way
the SQLite capture does it, and the same way whether they come from a ``SELECT`` or from a
binlog row image, so a snapshot row and a later update of it look alike:

* ``DATE`` → ``2020-01-02``; ``DATETIME`` → ``2020-01-02 03:04:05[.ffffff]``; ``TIME`` →
  ``HH:MM:SS[.ffffff]``; ``TIMESTAMP`` → UTC (sessions run with ``time_zone = '+00:00'``,
  the binlog stores UTC);
* ``DECIMAL`` → ``str(Decimal)`` (``12.50``); integers → ``str``; ``SET`` → ``a,b``;
* bytes (``BLOB``, ``BINARY``) → UTF-8, else GB18030, else the column is listed in
  ``Change.undecodable`` and carried with ``\\xff`` escapes (like every engine).
"""

from __future__ import annotations

import datetime
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pymysql

from adapters.capture.engines.mariadb_connection import MariaDbConnection
from adapters.capture.engines.mariadb_keys import column_types, reads_back, typed
from adapters.capture.engines.mariadb_rows import CaptureConnection
from adapters.capture.engines.mariadb_times import text_time_conversions
from adapters.capture.keys import text_order
from adapters.capture.rows import as_text
from adapters.capture.source import (
    Row,
    SourceError,
    SourceMisconfigured,
    SourceUnavailable,
    TableInfo,
)
from adapters.capture.sql import DbApiConnection, DbApiCursor, KeyOrder

#: PyMySQL/server error codes that mean "the server is not there right now".
_UNAVAILABLE = {1040, 1053, 1205, 1213, 2002, 2003, 2006, 2013, 2055}
_LOGIN_DENIED = 1045
_DATABASE_DENIED = 1044
_UNKNOWN_DATABASE = 1049
_TABLE_DENIED = {1142, 1143}
_PRIVILEGE_NEEDED = 1227
_NO_SUCH_TABLE = 1146
_BINLOG_READ_FAILED = 1236


@dataclass(frozen=True)
class MariaDbSettings:
    """How to reach one database of a MariaDB/MySQL server (from the adapter configuration)."""

    host: str
    port: int
    user: str
    password: str
    database: str
    connect_timeout: float = 10.0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def grant_target(self) -> str:
        return f"'{self.user}'@'<bus host>'"

    def pymysql_kwargs(self, *, with_database: bool = True) -> dict[str, Any]:
        """Keyword arguments for ``pymysql.connect`` (also used for the binlog stream)."""
        kwargs: dict[str, Any] = {
            "host": self.host, "port": self.port, "user": self.user, "password": self.password,
            "charset": "utf8mb4", "connect_timeout": self.connect_timeout,
            "init_command": "SET time_zone = '+00:00'",
        }
        if with_database:
            kwargs["database"] = self.database
        return kwargs


# -- errors --------------------------------------------------------------------------------


def grant_hint(message: str, settings: MariaDbSettings) -> str:
    """The GRANT statement a privilege error asks for, from the server's message."""
    upper = message.upper()
    who = settings.grant_target()
    if "REPLICATION SLAVE" in upper:
        return f"GRANT REPLICATION SLAVE ON *.* TO {who}"
    if "RELOAD" in upper:
        return f"GRANT RELOAD ON *.* TO {who}"
    if "BINLOG MONITOR" in upper or "REPLICATION CLIENT" in upper or "SUPER" in upper:
        return (f"GRANT BINLOG MONITOR ON *.* TO {who} "
                "(MySQL and MariaDB < 10.5: GRANT REPLICATION CLIENT)")
    return f"GRANT SELECT ON `{settings.database}`.* TO {who}"


def translate_error(error: BaseException, settings: MariaDbSettings) -> SourceError:
    """The SourceError a PyMySQL (or socket) error means; the message names what to change."""
    if isinstance(error, SourceError):
        return error
    code = _error_code(error)
    message = _error_message(error)
    where = f"MariaDB at {settings.address}"
    if code == _LOGIN_DENIED:
        return SourceMisconfigured(
            f"{where} refused the login of user {settings.user!r} ({message}); check the user "
            f"and password in the adapter configuration or CREATE USER {settings.grant_target()}")
    if code in (_DATABASE_DENIED, *_TABLE_DENIED) or code == _PRIVILEGE_NEEDED:
        return SourceMisconfigured(f"{where}: {message}; run {grant_hint(message, settings)}")
    if code == _UNKNOWN_DATABASE:
        return SourceMisconfigured(f"{where} has no database {settings.database!r} ({message}); "
                                   "check `database` in the adapter configuration")
    if code == _NO_SUCH_TABLE:
        return SourceMisconfigured(f"{where}: {message}; check the table name in the adapter "
                                   "configuration")
    if code == _BINLOG_READ_FAILED:
        return SourceMisconfigured(
            f"{where} cannot send the binlog from the stored position ({message}); the binlog "
            "was probably purged (expire_logs_days / binlog_expire_logs_seconds): raise the "
            "retention and delete this table's checkpoint to take a new snapshot")
    if code is None or code in _UNAVAILABLE or code >= 2000:
        return SourceUnavailable(f"{where} does not answer: {message}")
    return SourceUnavailable(f"{where} failed: {message}")


def _error_code(error: BaseException) -> int | None:
    if isinstance(error, pymysql.err.Error) and error.args and isinstance(error.args[0], int):
        return int(error.args[0])
    return None


def _error_message(error: BaseException) -> str:
    if isinstance(error, pymysql.err.Error) and len(error.args) > 1:
        return str(error.args[1])
    return str(error) or type(error).__name__


#: What a failing connection, query or binlog read may raise.
DRIVER_ERRORS: tuple[type[BaseException], ...] = (pymysql.err.Error, OSError, EOFError,
                                                   struct.error)


# -- values --------------------------------------------------------------------------------


def text_of(value: object) -> tuple[str | None, bool]:
    """A column value as text and whether it could be decoded."""
    if value is None:
        return None, True
    if isinstance(value, bytes | bytearray):
        # The same text as every other engine: undecodable bytes kept as \xff escapes.
        return as_text(bytes(value))
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" "), True
    if isinstance(value, datetime.date):
        return value.isoformat(), True
    if isinstance(value, datetime.timedelta):
        return _time_text(value), True
    if isinstance(value, Decimal):
        return str(value), True
    if isinstance(value, set | frozenset):
        return ",".join(sorted(str(v) for v in value)), True
    return str(value), True


def row_text(values: Mapping[str, object]) -> tuple[Row, tuple[str, ...]]:
    """A row as text and the columns that could not be decoded."""
    row: Row = {}
    undecodable: list[str] = []
    for name, value in values.items():
        text, ok = text_of(value)
        row[name] = text
        if not ok:
            undecodable.append(name)
    return row, tuple(undecodable)


def float32_text(value: float) -> str:
    """The shortest text of a single-precision FLOAT, as the server prints it (1.1, not 1.100…)."""
    packed = struct.pack("<f", value)
    for digits in range(1, 10):
        text = f"{value:.{digits}g}"
        if struct.pack("<f", float(text)) == packed:
            return text
    return repr(value)


def _time_text(value: datetime.timedelta) -> str:
    micros = value.days * 86_400_000_000 + value.seconds * 1_000_000 + value.microseconds
    sign = "-" if micros < 0 else ""
    seconds, fraction = divmod(abs(micros), 1_000_000)
    hours, rest = divmod(seconds, 3600)
    text = f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{text}.{fraction:06d}" if fraction else text


# -- the dialect -----------------------------------------------------------------------------


def quote_identifier(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


def connect(settings: MariaDbSettings, *, autocommit: bool = False,
            for_capture: bool = False) -> Any:
    """A PyMySQL connection; raises SourceUnavailable / SourceMisconfigured.

    ``for_capture``, for connections that only read what the capture publishes: dates and
    times arrive as the text the capture makes of them
    (:mod:`adapters.capture.engines.mariadb_times`) and rows are read in C
    (:mod:`adapters.capture.engines.mariadb_rows`).
    """
    try:
        if for_capture:
            return CaptureConnection(**settings.pymysql_kwargs(), autocommit=autocommit,
                                     conv=text_time_conversions())
        return MariaDbConnection(**settings.pymysql_kwargs(), autocommit=autocommit)
    except DRIVER_ERRORS as error:
        raise translate_error(error, settings) from error


class MariaDbDialect:
    """MariaDB/MySQL for the generic SQL strategies (snapshot, incremental, diff)."""

    engine = "mariadb"
    param = "%s"
    #: InnoDB reads one statement from one read view (a non-transactional table under a read
    #: lock held for the statement), so a poll's SELECT is consistent on its own.
    autocommit_reads = True

    def __init__(self, settings: MariaDbSettings) -> None:
        self.settings = settings
        self.database = settings.database

    def connect(self) -> DbApiConnection:
        connection: DbApiConnection = connect(self.settings, for_capture=True, autocommit=True)
        return connection

    def quote(self, identifier: str) -> str:
        return quote_identifier(identifier)

    def as_text(self, expression: str) -> str:
        # A binary collation orders by code point, as Python compares the checkpoint's keys;
        # the default utf8mb4 collations are case- and accent-insensitive.
        return f"CAST({expression} AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin"

    def key_order(self, connection: DbApiConnection, table: str, columns: Sequence[str]) -> KeyOrder:
        cursor = connection.cursor()
        try:
            types = column_types(cursor, self.database, table, columns)
        except DRIVER_ERRORS as error:
            raise translate_error(error, self.settings) from error
        finally:
            cursor.close()
        if not all(reads_back(t) for t in types):
            return text_order(self, columns)
        # Expanded comparisons, not row values: MariaDB does not turn (a, b) > (x, y) into an
        # index range.
        return KeyOrder("native", tuple(quote_identifier(c) for c in columns),
                        tuple(typed(t, "%s") for t in types))

    def begin_consistent_read(self, cursor: DbApiCursor) -> None:
        cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")

    def describe(self, connection: DbApiConnection, table: str) -> TableInfo:
        columns = _column_names(self._select(
            connection,
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (self.database, table)))
        if not columns:
            raise SourceMisconfigured(
                f"MariaDB at {self.settings.address} has no table {self.database}.{table} "
                "visible to the capture user; check the table name or "
                f"GRANT SELECT ON `{self.database}`.* TO {self.settings.grant_target()}")
        keys = _column_names(self._select(
            connection,
            "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND CONSTRAINT_NAME = 'PRIMARY' "
            "ORDER BY ORDINAL_POSITION", (self.database, table)))
        estimate = self._select(
            connection, "SELECT TABLE_ROWS FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s", (self.database, table))
        rows = estimate[0][0] if estimate and estimate[0][0] is not None else None
        return TableInfo(table, tuple(columns), tuple(keys),
                         None if rows is None else int(rows))

    def tables(self, connection: DbApiConnection) -> list[str]:
        return _column_names(self._select(
            connection, "SELECT TABLE_NAME FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
            (self.database,)))

    def _select(self, connection: DbApiConnection, sql: str,
                params: tuple[object, ...]) -> list[Any]:
        cursor = connection.cursor()
        try:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
        except DRIVER_ERRORS as error:
            raise translate_error(error, self.settings) from error
        finally:
            cursor.close()


def _column_names(rows: Iterable[Any]) -> list[str]:
    return [text_of(row[0])[0] or "" for row in rows]
