"""Turning legacy values into the text the change envelope carries, and hashing rows."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from decimal import Decimal

from adapters.capture.source import Row

_LEGACY_ENCODINGS = ("utf-8", "gb18030")


def as_text(value: object) -> tuple[str | None, bool]:
    """A legacy value as text, and whether it decoded cleanly.

    Bytes are tried as UTF-8 then GB18030 (a superset of GBK); what decodes as neither is kept
    with backslash escapes so nothing is lost, and flagged for quarantine.
    """
    if value is None:
        return None, True
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        for encoding in _LEGACY_ENCODINGS:
            try:
                return raw.decode(encoding), True
            except UnicodeDecodeError:
                continue
        return raw.decode("utf-8", errors="backslashreplace"), False
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat(), True
    if isinstance(value, Decimal):
        return format(value, "f"), True
    if isinstance(value, float) and value.is_integer():
        return str(value), True
    return str(value), True


def text_row(columns: Sequence[str], values: Sequence[object]) -> tuple[Row, tuple[str, ...]]:
    """A row as text, and the columns that could not be decoded."""
    row: Row = {}
    bad: list[str] = []
    for column, value in zip(columns, values, strict=True):
        if value is None or type(value) is str:  # most legacy values: nothing to convert
            row[column] = value
            continue
        text, ok = as_text(value)
        row[column] = text
        if not ok:
            bad.append(column)
    return row, tuple(bad)


def row_digest(row: Mapping[str, str | None]) -> str:
    """A short, order-independent fingerprint of a row image."""
    return hashlib.sha256(repr(sorted(row.items())).encode("utf-8")).hexdigest()[:16]
