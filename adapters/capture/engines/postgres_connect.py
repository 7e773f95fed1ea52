"""Reaching a legacy PostgreSQL database: connection options, error translation, value text.

Shared by the SQL dialect, the snapshot reader and the replication stream, so all of them
open connections the same way, report failures with the same clear messages and render
values as the same text (PostgreSQL's own text output, which is what ``pgoutput`` sends).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from adapters.capture.engines.postgres_pgoutput import BYTEA_OID
from adapters.capture.rows import as_text
from adapters.capture.source import SourceMisconfigured, SourceUnavailable

#: Session settings that make text output stable and identical on every connection.
SESSION_OPTIONS = ("-c DateStyle=ISO,YMD -c IntervalStyle=postgres -c bytea_output=hex "
                   "-c extra_float_digits=1")
APPLICATION_NAME = "rongtong-capture"

#: Types psycopg2 would turn into Python objects; the capture keeps PostgreSQL's own text
#: instead, so a snapshot and the log render a value identically (``t``, ``12.50``,
#: ``2024-03-07 08:00:00+08``, ``{1,2}``).
_TEXT_OUTPUT_OIDS = (
    16, 114, 700, 701, 790, 1082, 1083, 1114, 1184, 1186, 1266, 1700, 3802,  # scalars
    199, 1000, 1005, 1007, 1009, 1015, 1016, 1021, 1022, 1115, 1182, 1183, 1185, 1231,
    1270, 3807,  # arrays
)
_PG_TEXT = psycopg2.extensions.new_type(
    _TEXT_OUTPUT_OIDS, "RONGTONG_PG_TEXT", lambda value, _cursor: value)

_UNAVAILABLE_HINTS = (
    "connection refused", "could not connect", "timeout expired", "no route to host",
    "server closed the connection", "could not translate host name", "starting up",
    "shutting down", "in recovery mode", "terminating connection", "too many connections",
    "connection slots are reserved", "connection already closed", "ssl syscall error",
    "network is unreachable", "exceeds max_wal_senders", "connection timed out",
)


def server_address(dsn: str) -> str:
    params = psycopg2.extensions.parse_dsn(dsn)
    host = params.get("host") or params.get("hostaddr") or "localhost"
    return f"{host}:{params.get('port') or 5432}"


def database_name(dsn: str) -> str:
    params = psycopg2.extensions.parse_dsn(dsn)
    return str(params.get("dbname") or params.get("user") or "postgres")


def _misconfiguration(message: str, address: str, user: str) -> str | None:
    """What a person must change, when ``message`` is a configuration problem."""
    lowered = message.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return (f"PostgreSQL at {address} rejected the password of role {user!r}: fix the "
                f"password in the source DSN (adapter configuration)")
    if "no pg_hba.conf entry" in lowered:
        return (f"PostgreSQL at {address} has no pg_hba.conf entry for this host and role "
                f"{user!r}: add one for the database and reload")
    if re.search(r'role ".*" does not exist', lowered):
        return f"PostgreSQL at {address}: role {user!r} does not exist; create it or fix the DSN"
    if re.search(r'database ".*" does not exist', lowered):
        return f"PostgreSQL at {address}: {message.strip()}; fix dbname in the source DSN"
    if "permission denied for database" in lowered:
        return (f"PostgreSQL at {address}: {message.strip()}; "
                f"GRANT CONNECT ON DATABASE ... TO {user}")
    if "superuser or replication role" in lowered or "permission denied to start wal sender" in lowered:
        return (f"PostgreSQL at {address}: role {user!r} may not stream the log; run "
                f"ALTER ROLE {user} REPLICATION")
    if "can no longer get changes from replication slot" in lowered:
        return (f"PostgreSQL at {address}: {message.strip()} (max_slot_wal_keep_size exceeded); "
                "the changes since the checkpoint are gone: reset this table's checkpoint to "
                "take a new snapshot")
    return None


def translate(error: Exception, dsn: str, doing: str) -> Exception:
    """A SourceUnavailable or SourceMisconfigured for a psycopg2 error."""
    if isinstance(error, SourceUnavailable | SourceMisconfigured):
        return error
    address = server_address(dsn)
    user = str(psycopg2.extensions.parse_dsn(dsn).get("user") or "")
    message = str(error).strip() or type(error).__name__
    wrong = _misconfiguration(message, address, user)
    if wrong is not None:
        return SourceMisconfigured(wrong)
    if isinstance(error, psycopg2.errors.InsufficientPrivilege):
        return SourceMisconfigured(f"PostgreSQL at {address}: {message} (while {doing}); "
                                   f"grant role {user!r} the privilege")
    lowered = message.lower()
    if isinstance(error, psycopg2.OperationalError | psycopg2.InterfaceError) or any(
            hint in lowered for hint in _UNAVAILABLE_HINTS):
        return SourceUnavailable(f"PostgreSQL at {address} does not answer ({doing}): {message}")
    return SourceUnavailable(f"PostgreSQL at {address} failed while {doing}: {message}")


@contextlib.contextmanager
def translated_errors(dsn: str, doing: str) -> Iterator[None]:
    try:
        yield
    except psycopg2.Error as error:
        raise translate(error, dsn, doing) from error


def connect(dsn: str, *, read_only: bool = True, replication: bool = False) -> Any:
    """A psycopg2 connection with the capture's session settings (errors translated)."""
    options = SESSION_OPTIONS
    if read_only:
        options += " -c default_transaction_read_only=on"
    existing = psycopg2.extensions.parse_dsn(dsn).get("options")
    if existing:
        options = f"{existing} {options}"
    factory = psycopg2.extras.LogicalReplicationConnection if replication else None
    with translated_errors(dsn, "connecting"):
        connection = psycopg2.connect(dsn, options=options, application_name=APPLICATION_NAME,
                                      connection_factory=factory)
    if not replication:
        psycopg2.extensions.register_type(_PG_TEXT, connection)
        if connection.encoding == "SQLASCII":
            # Legacy databases declared SQL_ASCII often hold GBK bytes: let rows.as_text decode.
            psycopg2.extensions.register_type(psycopg2.extensions.BYTES, connection)
            psycopg2.extensions.register_type(psycopg2.extensions.BYTESARRAY, connection)
    return connection


def catalog_row(row: Any) -> Any:
    """A row of a catalog query with text as ``str``.

    Connections to ``SQL_ASCII`` databases return every text-like value as bytes (see
    :func:`connect`), catalog names and settings included; those are decoded here.
    """
    if row is None:
        return None
    return tuple(as_text(v)[0] if isinstance(v, bytes | memoryview) else v for v in row)


def catalog_rows(rows: Sequence[Any]) -> list[Any]:
    return [catalog_row(r) for r in rows]


def value_text(raw: bytes | None, type_oid: int) -> tuple[str | None, bool]:
    """A value in PostgreSQL's text output (bytes) as envelope text; False if undecodable.

    ``bytea`` arrives as ``\\x<hex>``: its bytes are decoded as UTF-8 or GB18030, like the
    SQLite capture does with blobs.
    """
    if raw is None:
        return None, True
    if type_oid == BYTEA_OID and raw.startswith(b"\\x"):
        return as_text(bytes.fromhex(raw[2:].decode("ascii")))
    return as_text(raw)
