"""The Debezium-like change envelope (op, before, after, source) as an Avro schema and record.

The row schema is derived from the legacy table's columns at run time — every column a
nullable string, as the legacy system stores it — so a column added to a legacy table yields
a new, backward-compatible schema version instead of a failure.
"""

from __future__ import annotations

import functools
import hashlib
import operator
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

OPS = ("c", "u", "d", "r")
_EVENT_ID_NAMESPACE = uuid.UUID("8f7d1c1e-52e4-4c43-9b8b-7e0d5e1a2b11")
#: A hex digit with its top two bits set to 10 (the RFC 4122 variant).
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


@dataclass(frozen=True)
class SourceInfo:
    """Where a change happened (Debezium's ``source`` block)."""

    department: str
    engine: str
    database: str
    table: str
    position: str
    snapshot: bool
    ts_ms: int

    def as_record(self) -> dict[str, Any]:
        return {
            "department": self.department, "engine": self.engine, "database": self.database,
            "table": self.table, "position": self.position, "snapshot": self.snapshot,
            "ts_ms": self.ts_ms,
        }


@functools.lru_cache(maxsize=4096)
def avro_name(text: str) -> str:
    """A valid Avro name for a legacy identifier (letters, digits, underscore)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return name if re.match(r"[A-Za-z_]", name) else f"_{name}"


def _record_name(table: str) -> str:
    return "".join(part.capitalize() for part in avro_name(table).split("_") if part) or "Row"


def change_value_schema(department: str, table: str, columns: Sequence[str]) -> dict[str, Any]:
    namespace = f"rongtong.legacy.{avro_name(department)}"
    row_name = f"{_record_name(table)}Row"
    row = {
        "type": "record",
        "name": row_name,
        "doc": f"A row of the legacy table {department}.{table}, every column as text.",
        "fields": [
            {"name": avro_name(c), "type": ["null", "string"], "default": None} for c in columns
        ],
    }
    return {
        "type": "record",
        "name": f"{_record_name(table)}Change",
        "namespace": namespace,
        "doc": f"A change of one row of {department}.{table} (Debezium-like envelope).",
        "fields": [
            {"name": "op", "type": "string", "doc": "c create, u update, d delete, r snapshot read."},
            {"name": "before", "type": ["null", row], "default": None,
             "doc": "Row image before the change, when the capture knows it."},
            {"name": "after", "type": ["null", row_name], "default": None,
             "doc": "Row image after the change; null for deletes."},
            {"name": "source", "type": {
                "type": "record", "name": "Source", "namespace": "rongtong.legacy",
                "fields": [
                    {"name": "department", "type": "string"},
                    {"name": "engine", "type": "string"},
                    {"name": "database", "type": "string"},
                    {"name": "table", "type": "string"},
                    {"name": "position", "type": "string",
                     "doc": "Opaque capture position of this change."},
                    {"name": "snapshot", "type": "boolean"},
                    {"name": "ts_ms", "type": "long",
                     "doc": "Commit or update time of the change in the legacy system."},
                ]}},
            {"name": "ts_ms", "type": "long", "doc": "When the bus captured the change."},
        ],
    }


def change_key_schema(department: str, table: str, key_columns: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "record",
        "name": f"{_record_name(table)}Key",
        "namespace": f"rongtong.legacy.{avro_name(department)}",
        "fields": [{"name": avro_name(c), "type": "string"} for c in key_columns],
    }


def row_record(row: Mapping[str, str | None]) -> dict[str, str | None]:
    return {avro_name(k): v for k, v in row.items()}


def change_record(
    op: str, before: Mapping[str, str | None] | None, after: Mapping[str, str | None] | None,
    source: SourceInfo, captured_ms: int,
) -> dict[str, Any]:
    if op not in OPS:
        raise ValueError(f"unknown change operation {op!r}")
    return {
        "op": op,
        "before": None if before is None else row_record(before),
        "after": None if after is None else row_record(after),
        "source": source.as_record(),
        "ts_ms": captured_ms,
    }


def change_event_id(department: str, table: str, key: str, row: Mapping[str, str | None]) -> str:
    """Deterministic event id: the same row image captured twice has the same id."""
    digest = hashlib.sha256(repr(sorted(row.items())).encode("utf-8")).hexdigest()
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, f"{department}.{table}:{key}:{digest}"))


def event_id_prefix(department: str, table: str) -> bytes:
    """What every uuid5 name of a table's event ids is hashed after (namespace, table)."""
    return _EVENT_ID_NAMESPACE.bytes + f"{department}.{table}:".encode()


class ChangeEventIds:
    """:func:`change_event_id` of one table, with the per-table work done once.

    The same ids, cheaper: the uuid5 namespace and table prefix are hashed once, the sorted
    column order is remembered per column set, and the UUID text is formatted directly.
    :meth:`of_change` also spares building the row with its ``op``: per column set it keeps
    the text ``repr`` gives of the sorted pairs, with a slot for each value's ``repr``.
    """

    def __init__(self, department: str, table: str) -> None:
        self._prefix = hashlib.sha1(event_id_prefix(department, table))
        self._orders: dict[tuple[str, ...], list[str]] = {}
        self._forms: dict[tuple[str, ...], PairsForm] = {}

    def __call__(self, key: str, row: Mapping[str, str | None]) -> str:
        names = tuple(row)
        order = self._orders.get(names)
        if order is None:
            order = self._orders[names] = sorted(names)
        return self._id(key, repr([(name, row[name]) for name in order]))

    def of_change(self, key: str, op: str, image: Mapping[str, str | None]) -> str:
        """``self(key, {"op": op, **image})``: the id of a change with row image ``image``."""
        shape = (op, *image)
        form = self._forms.get(shape)
        if form is None:
            form = self._forms[shape] = PairsForm(op, shape[1:])
        return self._id(key, form.text % tuple(map(repr, form.values(image))))

    def _id(self, key: str, pairs: str) -> str:
        digest = hashlib.sha256(pairs.encode("utf-8"))
        name_hash = self._prefix.copy()
        name_hash.update(f"{key}:{digest.hexdigest()}".encode())
        text = name_hash.hexdigest()
        # Version 5 (13th hex digit) and the RFC 4122 variant (top bits 10 of the 17th).
        return f"{text[:8]}-{text[8:12]}-5{text[13:16]}-{_VARIANT[text[16]]}{text[17:20]}-{text[20:32]}"


class PairsForm:
    """``repr`` of the sorted (name, value) pairs of ``{"op": op, **image}`` for one column set.

    ``text % tuple(map(repr, values(image)))`` is that ``repr``: the names, brackets and
    commas are fixed, only the values' own ``repr`` is filled in (``op`` too when the image
    has no column of that name). ``fragments`` is the fixed text around the slots, unescaped.
    """

    def __init__(self, op: str, names: tuple[str, ...]) -> None:
        order = sorted({*names, "op"})
        filled = [name for name in order if name in names]
        #: The image's columns whose values fill the slots, in slot order.
        self.filled = tuple(filled)
        self.text = "[" + ", ".join(
            f"({_escaped(repr(name))}, %s)" if name in names else _escaped(f"({name!r}, {op!r})")
            for name in order) + "]"
        fragments, text = [], "["
        for i, name in enumerate(order):
            text += ", " if i else ""
            if name in names:
                fragments.append(f"{text}({name!r}, ")
                text = ")"
            else:
                text += f"({name!r}, {op!r})"
        self.fragments = (*fragments, text + "]")
        self.values: Callable[[Mapping[str, str | None]], Sequence[str | None]]
        if not filled:
            self.values = lambda image: ()
        elif len(filled) == 1:
            only = filled[0]
            self.values = lambda image: (image[only],)
        else:
            self.values = operator.itemgetter(*filled)


def _escaped(text: str) -> str:
    return text.replace("%", "%%")


class ChangeRecords:
    """:func:`change_record` for one table and column set, with the per-column work done once.

    Row images get every column of the set (absent ones null) under its Avro name; an image
    that already has exactly those columns, all valid Avro names, is used as it is.
    """

    def __init__(self, columns: Sequence[str], *, department: str, engine: str, database: str,
                 table: str) -> None:
        self.columns = tuple(columns)
        self._pairs = tuple((column, avro_name(column)) for column in self.columns)
        #: Images with exactly these keys are used as they are (no avro_name differs).
        self._as_is: frozenset[str] = (frozenset(self.columns)
                                       if all(c == n for c, n in self._pairs) else frozenset())
        self._source = {"department": department, "engine": engine, "database": database,
                        "table": table}

    def image(self, row: Mapping[str, str | None] | None) -> Mapping[str, str | None] | None:
        if row is None:
            return None
        if row.keys() == self._as_is and self._as_is:
            return row
        return {name: row.get(column) for column, name in self._pairs}

    def record(self, op: str, before: Mapping[str, str | None] | None,
               after: Mapping[str, str | None] | None, *, position: str, snapshot: bool,
               ts_ms: int, captured_ms: int) -> dict[str, Any]:
        if op not in OPS:
            raise ValueError(f"unknown change operation {op!r}")
        return {
            "op": op, "before": self.image(before), "after": self.image(after),
            "source": {**self._source, "position": position, "snapshot": snapshot,
                       "ts_ms": ts_ms},
            "ts_ms": captured_ms,
        }
