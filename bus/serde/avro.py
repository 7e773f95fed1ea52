"""Avro serde for Kafka: fastavro bodies in the Confluent wire format, ids from the registry."""

from __future__ import annotations

import json
from typing import Any

import fastavro

from bus.serde.registry_client import RegistryClient
from bus.serde.upcast import Upcast, Upcasters, default_upcasters
from bus.serde.wire import frame, schema_id_of, unframe


def subject_for(topic: str, *, is_key: bool = False) -> str:
    """Confluent's TopicNameStrategy."""
    return f"{topic}-{'key' if is_key else 'value'}"


class AvroSerde:
    """Encodes records against a writer schema registered under a subject; decodes any id."""

    def __init__(self, registry: RegistryClient, upcasters: Upcasters | None = None) -> None:
        self.registry = registry
        self._parsed_by_id: dict[int, Any] = {}
        # Old shapes of an event are read in the newest one (bus/serde/upcast.py).
        self._upcasters = default_upcasters() if upcasters is None else upcasters
        self._upcast_by_id: dict[int, Upcast | None] = {}
        self._ids: dict[tuple[str, str], int] = {}
        self._parsed_by_text: dict[str, Any] = {}
        # Writer schemas are long-lived dicts owned by their producers: remembering them by
        # identity spares serializing the schema to JSON for every record.
        self._writers: dict[tuple[str, int], tuple[dict[str, Any], int, Any]] = {}

    async def encode(self, subject: str, schema: dict[str, Any], record: Any) -> bytes:
        writer = self._writers.get((subject, id(schema)))
        if writer is None or writer[0] is not schema:
            writer = await self._register(subject, schema)
        return frame(writer[1], writer[2], record)

    async def _register(self, subject: str, schema: dict[str, Any]) -> tuple[dict[str, Any], int, Any]:
        text = json.dumps(schema, ensure_ascii=False, sort_keys=True)
        schema_id = self._ids.get((subject, text))
        if schema_id is None:
            schema_id = await self.registry.register(subject, text)
            self._ids[(subject, text)] = schema_id
        parsed = self._parsed_by_text.get(text)
        if parsed is None:
            parsed = self._parsed_by_text[text] = fastavro.parse_schema(schema)
        writer = (schema, schema_id, parsed)
        self._writers[(subject, id(schema))] = writer
        return writer

    async def decode(self, data: bytes) -> Any:
        """The record, read with the writer schema the message names, then upcast to the
        newest shape when that schema is an old version of its event."""
        schema_id = schema_id_of(data)
        parsed = self._parsed_by_id.get(schema_id)
        if parsed is None:
            writer = json.loads(await self.registry.schema_by_id(schema_id))
            self._upcast_by_id[schema_id] = self._upcasters.chain(writer)
            parsed = self._parsed_by_id[schema_id] = fastavro.parse_schema(writer)
        record = unframe(data, parsed)
        upcast = self._upcast_by_id.get(schema_id)
        return record if upcast is None else upcast(record)
