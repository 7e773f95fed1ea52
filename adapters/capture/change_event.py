"""The Debezium-like change envelope (op, before, after, source) as an Avro schema and record.

The row schema is derived from the legacy table's columns at run time — every column a
nullable string, as the legacy system stores it — so a column added to a legacy table yields
a new, backward-compatible schema version instead of a failure.
"""

from __future__ import annotations

import functools
import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

OPS = ("c", "u", "d", "r")
_EVENT_ID_NAMESPACE = uuid.UUID("8f7d1c1e-52e4-4c43-9b8b-7e0d5e1a2b11")


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
