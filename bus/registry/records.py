"""The records of the ``_schemas`` log and their Confluent-compatible key/value encoding.

Keys and values are JSON, as Confluent's registry writes them:
``{"keytype":"SCHEMA","subject":s,"version":v,"magic":1}`` →
``{"subject":s,"version":v,"id":n,"schema":"...","deleted":false}``, and
``{"keytype":"CONFIG","subject":s|null,"magic":0}`` → ``{"compatibilityLevel":"BACKWARD"}``,
and ``{"keytype":"DELETE_SUBJECT","subject":s,"magic":0}`` → ``{"subject":s,"version":v}``
(a soft delete of every version of ``s`` up to ``v``). A null value is a tombstone: a hard
delete of a version, or a reset of a config. Other key types (NOOP, MODE...) are ignored.
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
    "SubjectDeleteRecord",
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
class SubjectDeleteRecord:
    """Every version of ``subject`` up to ``version`` is soft-deleted (Confluent's DELETE_SUBJECT)."""

    subject: str
    version: int


@dataclass(frozen=True, slots=True)
class ConfigRecord:
    """The compatibility level of ``subject`` (global when None); ``level`` None resets it."""

    subject: str | None
    level: CompatibilityLevel | None


LogRecord = SchemaRecord | SchemaTombstone | SubjectDeleteRecord | ConfigRecord


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
        case SubjectDeleteRecord(subject, version):
            key = {"keytype": "DELETE_SUBJECT", "subject": subject, "magic": 0}
            return _dump(key), _dump({"subject": subject, "version": version})
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
    if keytype == "DELETE_SUBJECT":
        return _decode_subject_delete(k, v)
    return None


def _decode_subject_delete(key: dict[str, Any], value: Any) -> LogRecord | None:
    subject = key.get("subject")
    version = value.get("version") if isinstance(value, dict) else None
    if not isinstance(subject, str) or not isinstance(version, int):
        return None
    return SubjectDeleteRecord(subject, version)


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
