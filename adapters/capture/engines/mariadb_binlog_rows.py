"""The row images of binlog row events, read in C (``bus/_speedups_binlog.c``).

mysql-replication reads every value of every row image in Python (a struct unpack, a
``datetime``, a ``Decimal``) and ``mariadb._image`` then turns each into text: together most of
what a MariaDB ``log`` stream costs. ``binlog_images`` reads the rows of a WRITE/UPDATE/DELETE
event straight from the event's bytes into that text, for tables whose columns are all of the
kinds it knows (integers, YEAR, FLOAT, DOUBLE, DECIMAL, strings and blobs, DATE, DATETIME,
TIMESTAMP, ENUM). Any other table, any event it cannot read exactly as mysql-replication does,
and every event without the extension, goes the Python way: ``images`` returns None.
``tests/integration/test_mariadb_binlog_rows.py`` compares the two on a real server's binlog.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pymysqlreplication.constants import BINLOG, FIELD_TYPE
from pymysqlreplication.row_event import RowsEvent, UpdateRowsEvent

from adapters.capture.engines.mariadb_sql import float32_text
from adapters.capture.rows import as_text
from adapters.capture.source import Row
from bus.speedups import speedups

#: One row image as mariadb._image makes it: text per column, undecodable column names.
Image = tuple[Row, tuple[str, ...]]

# The kinds of bus/_speedups_binlog.c.
_INT, _UINT, _YEAR, _FLOAT, _DOUBLE, _DECIMAL, _STRING = 1, 2, 3, 4, 5, 6, 7
_DATE, _DATETIME2, _TIMESTAMP2, _ENUM = 8, 9, 10, 11

_INT_BYTES = {FIELD_TYPE.TINY: 1, FIELD_TYPE.SHORT: 2, FIELD_TYPE.INT24: 3,
              FIELD_TYPE.LONG: 4, FIELD_TYPE.LONGLONG: 8}

ColumnPlan = tuple[str, int, int, int, Any]


def _decimal_text(digits: str) -> str:
    return str(Decimal(digits))


_HELPERS: tuple[Callable[..., Any], ...] = (as_text, float32_text, _decimal_text)


def string_encoding(column: Any) -> str | None:
    """The codec mysql-replication decodes a string column with; None: it keeps the bytes."""
    if column.character_set_name is None:
        return "utf-8"  # its default for servers that do not say
    encoding = RowsEvent.charset_to_encoding(column.character_set_name)
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        return None
    return "utf-8" if info.name == "utf-8" else encoding


def column_plan(column: Any) -> ColumnPlan | None:
    """How the C reader reads one column, or None when it does not know the type."""
    name, kind = column.name, column.type
    if not name or not isinstance(name, str):
        return None
    if kind in _INT_BYTES:
        return (name, _UINT if column.unsigned else _INT, _INT_BYTES[kind], 0, None)
    if kind == FIELD_TYPE.YEAR:
        return (name, _YEAR, 0, 0, None)
    if kind == FIELD_TYPE.FLOAT:
        return (name, _FLOAT, 0, 0, None)
    if kind == FIELD_TYPE.DOUBLE:
        return (name, _DOUBLE, 0, 0, None)
    if kind == FIELD_TYPE.NEWDECIMAL:
        return (name, _DECIMAL, column.precision, column.decimals, None)
    if kind in (FIELD_TYPE.VARCHAR, FIELD_TYPE.STRING):
        return (name, _STRING, 2 if column.max_length > 255 else 1, 0, string_encoding(column))
    if kind == FIELD_TYPE.BLOB:
        return (name, _STRING, column.length_size, 0, string_encoding(column))
    if kind == FIELD_TYPE.DATE:
        return (name, _DATE, 0, 0, None)
    if kind == FIELD_TYPE.DATETIME2:
        return (name, _DATETIME2, column.fsp, 0, None)
    if kind == FIELD_TYPE.TIMESTAMP2:
        return (name, _TIMESTAMP2, column.fsp, 0, None)
    if kind == FIELD_TYPE.ENUM:
        values = column.enum_values
        if values and not all(isinstance(v, str) for v in values):
            return None
        return (name, _ENUM, column.size, 0, tuple(values) if values else None)
    return None


class BinlogImages:
    """Reads row events' images in C; remembers the plan of the last table map it saw."""

    def __init__(self) -> None:
        self._columns: Any = None
        self._plan: tuple[ColumnPlan, ...] | None = None

    def images(self, event: Any) -> list[tuple[Image, ...]] | None:
        """Per row its images (before and after for updates), or None: read it in Python."""
        accelerated = speedups()
        if accelerated is None or event.event_type == BINLOG.PARTIAL_UPDATE_ROWS_EVENT:
            return None
        plan = self._plan_of(event)
        wrapper = event.packet
        # Bytes pushed back into the wrapper (none after a rows event's header) would come
        # first; a mysql-replication without this attribute reads the event itself.
        pushed_back: Any = getattr(wrapper, "_BinLogPacketWrapper__data_buffer", None)
        if plan is None or pushed_back is None or pushed_back:
            return None
        if not event.complete:
            return []
        packet = wrapper.packet
        start = packet._position
        end = start + event.event_size - wrapper.read_bytes
        bitmaps = ((event.columns_present_bitmap, event.columns_present_bitmap2)
                   if isinstance(event, UpdateRowsEvent) else (event.columns_present_bitmap,))
        rows: list[tuple[Image, ...]] | None = accelerated.binlog_images(
            packet.get_all_data(), start, end, plan, bitmaps, _HELPERS)
        return rows

    def _plan_of(self, event: Any) -> tuple[ColumnPlan, ...] | None:
        columns = event.columns
        if columns is not self._columns:
            plans = [column_plan(c) for c in columns]
            self._plan = (None if event.number_of_columns != len(columns) or None in plans
                          else tuple(p for p in plans if p is not None))
            self._columns = columns
        return self._plan
