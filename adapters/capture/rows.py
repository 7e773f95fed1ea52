"""Turning legacy values into the text the change envelope carries, and hashing rows."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from adapters.capture.source import Row
from bus.speedups import speedups

_LEGACY_ENCODINGS = ("utf-8", "gb18030")
#: Value types kept as they are (most legacy values), and those only needing ``str()``.
_PLAIN: frozenset[type] = frozenset({str, type(None)})
_INTEGERS: frozenset[type] = frozenset({int, type(None)})
_CLEAN: tuple[str, ...] = ()


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


def text_rows(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], *, skip: int = 0,
    text: Callable[[object], tuple[str | None, bool]] = as_text,
) -> tuple[list[Row], list[tuple[str, ...]]]:
    """:func:`text_row` of every row of a fetched batch, column by column.

    ``skip`` leading values of each row are left out (e.g. a rowid selected before the
    columns). A column whose values are all text or NULL — most of them — is taken as it is;
    one of integers is formatted with ``str``; any other goes value by value through ``text``
    (:func:`as_text`). The images and undecodable columns equal those of :func:`text_row`.
    """
    if not rows:
        return [], []
    values_by_column = list[Sequence[Any]](zip(*rows, strict=True))[skip:]
    if len(values_by_column) != len(columns):
        raise ValueError(f"{len(columns)} columns named for rows of {len(values_by_column)} values")
    if not columns:
        return [{} for _ in rows], [_CLEAN] * len(rows)
    bad_by_row: dict[int, list[str]] = {}
    for index, values in enumerate(values_by_column):
        kinds = set(map(type, values))
        if kinds <= _PLAIN:
            continue
        if kinds <= _INTEGERS:
            values_by_column[index] = [None if v is None else str(v) for v in values]
            continue
        texts: list[str | None] = []
        for row_number, value in enumerate(values):
            if value is None or type(value) is str:
                texts.append(value)
                continue
            converted, ok = text(value)
            texts.append(converted)
            if not ok:
                bad_by_row.setdefault(row_number, []).append(columns[index])
        values_by_column[index] = texts
    # Every column holds one value per row: the lengths are equal by construction.
    images: list[Row] = [dict(zip(columns, values, strict=False))
                         for values in zip(*values_by_column, strict=True)]
    undecodable = [_CLEAN] * len(images)
    for row_number, bad in bad_by_row.items():
        undecodable[row_number] = tuple(bad)
    return images, undecodable


def row_digest(row: Mapping[str, str | None]) -> str:
    """A short, order-independent fingerprint of a row image."""
    accelerated = speedups()
    if accelerated is not None and type(row) is dict:  # the same digest (bus/_speedups.c)
        digest: str = accelerated.row_digest(row)
        return digest
    return hashlib.sha256(repr(sorted(row.items())).encode("utf-8")).hexdigest()[:16]
