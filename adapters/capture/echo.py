"""Echo suppression: rows the write-back sinks wrote are not published again as new changes.

A write-back sink (:mod:`adapters.sinks`) records, in the legacy database's ledger table
``rongtong_writeback_row``, the fingerprint (:func:`adapters.capture.rows.row_digest`) of each
row it wrote, as the capture renders it. When a capture then reads a row whose after-image has
that same fingerprint for that table and key, the change is the sink's own write coming back:
the runner drops it (counted as an echo, logged at debug). A clerk's later change makes another
image, so it is published as usual; deletes are never echoes.

The check costs one indexed query per batch of inserts and updates for the keys of the batch
(none for empty polls and deletes). While the database has no ledger table it is one catalog
lookup instead: the lookup runs after the batch was read, and a sink creates its ledger before
it writes a row, so a batch holding a sink's row always finds the ledger. Once found, the ledger
is remembered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from adapters.capture.rows import as_text, row_digest
from adapters.capture.source import CaptureSource, Change, SourceUnavailable, key_text
from adapters.capture.sql import DbApiConnection, SqlDialect

__all__ = ["LEDGER_ROW_TABLE", "EchoFilter", "LedgerEchoes", "echo_filter_for"]

log = logging.getLogger(__name__)
#: The sinks' table of the last fingerprint they wrote per legacy table and key.
LEDGER_ROW_TABLE = "rongtong_writeback_row"
_CHUNK = 500


class EchoFilter(Protocol):
    async def drop_echoes(self, table: str, changes: Sequence[Change]) -> list[Change]:
        """``changes`` without those that are a write-back sink's own rows."""

    def close(self) -> None: ...


class LedgerEchoes:
    """Reads the sinks' ledger of one legacy database through the capture's own dialect."""

    def __init__(self, dialect: SqlDialect) -> None:
        self.dialect = dialect
        self._connection: DbApiConnection | None = None
        self._ledger_found = False
        #: Batches are checked concurrently (the runner's pipeline); the connection is one.
        self._lock: asyncio.Lock | None = None

    async def drop_echoes(self, table: str, changes: Sequence[Change]) -> list[Change]:
        if not any(c.op != "d" and c.after is not None for c in changes):
            return list(changes)
        if self._lock is None:
            self._lock = asyncio.Lock()
        try:
            async with self._lock:
                if not self._ledger_found:  # the keys are gathered only once there is a ledger
                    self._ledger_found = await asyncio.to_thread(self._look_for_ledger)
                    if not self._ledger_found:
                        return list(changes)
                candidates = {key_text(c.key) for c in changes
                              if c.op != "d" and c.after is not None}
                written = await asyncio.to_thread(self._written, table, sorted(candidates))
        except SourceUnavailable:
            raise
        except Exception as exc:
            self.close()
            raise SourceUnavailable(f"reading the write-back ledger: {exc}") from exc
        kept = []
        for change in changes:
            if (change.op != "d" and change.after is not None
                    and written.get(key_text(change.key)) == row_digest(change.after)):
                log.debug("%s %s: the write-back sink's own row, not published",
                          table, key_text(change.key))
                continue
            kept.append(change)
        return kept

    def _look_for_ledger(self) -> bool:
        connection = self._connected()
        cursor: Any = connection.cursor()
        try:
            return self._has_ledger(cursor)
        finally:
            cursor.close()
            if not self.dialect.autocommit_reads:
                connection.rollback()  # end the read transaction: the next batch sees new writes

    def _connected(self) -> DbApiConnection:
        if self._connection is None:
            self._connection = self.dialect.connect()
        return self._connection

    def _written(self, table: str, keys: list[str]) -> dict[str, str]:
        """Fingerprints the sinks wrote for ``keys``."""
        connection = self._connected()
        cursor: Any = connection.cursor()
        try:
            found: dict[str, str] = {}
            param, quote = self.dialect.param, self.dialect.quote
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start:start + _CHUNK]
                cursor.execute(
                    f"SELECT record_key, row_hash FROM {quote(LEDGER_ROW_TABLE)} "
                    f"WHERE table_name = {param} AND record_key IN "
                    f"({', '.join([param] * len(chunk))})", (table, *chunk))
                # as_text: a SQL_ASCII PostgreSQL database hands text over as bytes
                found.update((as_text(k)[0] or "", as_text(h)[0] or "") for k, h in cursor.fetchall())
            return found
        finally:
            cursor.close()
            if not self.dialect.autocommit_reads:
                connection.rollback()  # end the read transaction: the next batch sees new writes

    def _has_ledger(self, cursor: Any) -> bool:
        if self.dialect.engine == "sqlite":
            cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                           (LEDGER_ROW_TABLE,))
        elif self.dialect.engine == "postgresql":
            cursor.execute("SELECT 1 FROM pg_catalog.pg_tables WHERE tablename = %s "
                           "AND schemaname = ANY (current_schemas(false))", (LEDGER_ROW_TABLE,))
        else:
            cursor.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() "
                           "AND table_name = %s", (LEDGER_ROW_TABLE,))
        return bool(cursor.fetchall())

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception as exc:  # a dead connection is being dropped anyway
                log.debug("closing the ledger connection: %s", exc)
            self._connection = None


def echo_filter_for(source: CaptureSource) -> EchoFilter | None:
    """The echo filter of a SQL source (every strategy reads through a dialect); None for files."""
    dialect = getattr(source, "dialect", None)
    return LedgerEchoes(dialect) if dialect is not None else None
