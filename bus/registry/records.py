"""The records of the ``_schemas`` log and their Confluent-compatible key/value encoding.

Keys and values are JSON, as Confluent's registry writes them:
``{"keytype":"SCHEMA","subject":s,"version":v,"magic":1}`` →
``{"subject":s,"version":v,"id":n,"schema":"...","deleted":false}``, and
``{"keytype":"CONFIG","subject":s|null,"magic":0}`` → ``{"compatibilityLevel":"BACKWARD"}``.
A null value is a tombstone. Other key types (NOOP, MODE, DELETE_SUBJECT...) are ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bus.registry.compat import CompatibilityLevel

__all__ = [
    "ConfigRecord",
    "LogRecord",
    "SchemaRecord",
    "SchemaTombstone",
    "decode_record",
    "encode_record",
]


@dataclass(frozen=True, slots=True)
class SchemaRecord:
    """Version ``version`` of ``subject`` is schema ``schema_id`` (soft-deleted if ``deleted``)."""

    subject: str
    version: int
    schema_id: int
    schema: str
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class SchemaTombstone:
    """Version ``version`` of ``subject`` is gone for good (compaction tombstone)."""

    subject: str
    version: int


@dataclass(frozen=True, slots=True)
class ConfigRecord:
    """The compatibility level of ``subject`` (global when None); ``level`` None resets it."""

    subject: str | None
    level: CompatibilityLevel | None


LogRecord = SchemaRecord | SchemaTombstone | ConfigRecord


def _dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def encode_record(record: LogRecord) -> tuple[bytes, bytes | None]:
    """The Kafka key and value of ``record``."""
    match record:
        case SchemaRecord(subject, version, schema_id, schema, deleted):
            key = {"keytype": "SCHEMA", "subject": subject, "version": version, "magic": 1}
            value = {
                "subject": subject,
                "version": version,
                "id": schema_id,
                "schema": schema,
                "deleted": deleted,
            }
            return _dump(key), _dump(value)
        case SchemaTombstone(subject, version):
            key = {"keytype": "SCHEMA", "subject": subject, "version": version, "magic": 1}
            return _dump(key), None
        case ConfigRecord(subject, level):
            key = {"keytype": "CONFIG", "subject": subject, "magic": 0}
            return _dump(key), (
                None if level is None else _dump({"compatibilityLevel": level.value})
            )


def decode_record(key: bytes | None, value: bytes | None) -> LogRecord | None:
    """The record a Kafka message holds, or None for messages the registry does not use."""
    if key is None:
        return None
    try:
        k = json.loads(key)
        v = None if value is None else json.loads(value)
    except ValueError:
        return None
    if not isinstance(k, dict):
        return None
    keytype = k.get("keytype")
    if keytype == "SCHEMA":
        return _decode_schema(k, v)
    if keytype == "CONFIG":
        return _decode_config(k, v)
    return None


def _decode_schema(key: dict[str, Any], value: Any) -> LogRecord | None:
    subject, version = key.get("subject"), key.get("version")
    if not isinstance(subject, str) or not isinstance(version, int):
        return None
    if value is None:
        return SchemaTombstone(subject, version)
    if not isinstance(value, dict) or value.get("schemaType", "AVRO") != "AVRO":
        return None
    schema_id, schema = value.get("id"), value.get("schema")
    if not isinstance(schema_id, int) or not isinstance(schema, str):
        return None
    return SchemaRecord(subject, version, schema_id, schema, bool(value.get("deleted", False)))


def _decode_config(key: dict[str, Any], value: Any) -> LogRecord | None:
    subject = key.get("subject")
    if subject is not None and not isinstance(subject, str):
        return None
    if value is None:
        return ConfigRecord(subject, None)
    level = value.get("compatibilityLevel") if isinstance(value, dict) else None
    try:
        return ConfigRecord(subject, CompatibilityLevel(str(level)))
    except ValueError:
        return None
