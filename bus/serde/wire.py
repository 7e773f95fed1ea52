"""The Confluent wire format: magic byte 0, a 4-byte big-endian schema id, the Avro body."""

from __future__ import annotations

import io
import struct
from typing import Any

import fastavro

MAGIC_BYTE = 0
_HEADER = struct.Struct(">bI")


class WireFormatError(ValueError):
    """Bytes that are not a Confluent-framed Avro message."""


def header(schema_id: int) -> bytes:
    """The five bytes that precede the Avro body of every message of ``schema_id``."""
    return _HEADER.pack(MAGIC_BYTE, schema_id)


def frame(schema_id: int, parsed_schema: Any, record: Any) -> bytes:
    buffer = io.BytesIO()
    buffer.write(header(schema_id))
    fastavro.schemaless_writer(buffer, parsed_schema, record)
    return buffer.getvalue()


def schema_id_of(data: bytes) -> int:
    if len(data) < _HEADER.size:
        raise WireFormatError(f"message of {len(data)} bytes is shorter than the 5-byte header")
    magic, schema_id = _HEADER.unpack_from(data)
    if magic != MAGIC_BYTE:
        raise WireFormatError(f"unknown magic byte {magic}; expected {MAGIC_BYTE}")
    return int(schema_id)


def unframe(data: bytes, parsed_schema: Any) -> Any:
    schema_id_of(data)
    try:
        return fastavro.schemaless_reader(io.BytesIO(data[_HEADER.size:]), parsed_schema, None)
    except (EOFError, ValueError, IndexError, UnicodeDecodeError, TypeError) as exc:
        raise WireFormatError(f"Avro body does not match its schema: {exc}") from exc
