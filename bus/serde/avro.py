"""Avro serde for Kafka: fastavro bodies in the Confluent wire format, ids from the registry."""

from __future__ import annotations

import functools
import json
from typing import Any

import fastavro

from bus.serde.encoder import Encoder, compile_encoder
from bus.serde.registry_client import RegistryClient
from bus.serde.upcast import Upcast, Upcasters, default_upcasters
from bus.serde.wire import frame, header, schema_id_of, unframe


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
        self._writers: dict[tuple[str, int], tuple[dict[str, Any], Encoder]] = {}

    async def encode(self, subject: str, schema: dict[str, Any], record: Any) -> bytes:
        """``record`` in the Confluent wire format, under the id ``schema`` has in ``subject``."""
        return (await self.encoder(subject, schema))(record)

    async def encoder(self, subject: str, schema: dict[str, Any]) -> Encoder:
        """The function :meth:`encode` applies for ``schema``: for callers encoding many records.

        The schema is registered (once) first; the encoder must be used for no other schema.
        """
        writer = self._writers.get((subject, id(schema)))
        if writer is None or writer[0] is not schema:
            writer = await self._register(subject, schema)
        return writer[1]

    async def _register(self, subject: str, schema: dict[str, Any]) -> tuple[dict[str, Any], Encoder]:
        text = json.dumps(schema, ensure_ascii=False, sort_keys=True)
        schema_id = self._ids.get((subject, text))
        if schema_id is None:
            schema_id = await self.registry.register(subject, text)
            self._ids[(subject, text)] = schema_id
        parsed = self._parsed_by_text.get(text)
        if parsed is None:
            parsed = self._parsed_by_text[text] = fastavro.parse_schema(schema)
        # Compiled once (same bytes as fastavro, no union validation per record); fastavro
        # for the schemas the compiler leaves to it (logical types, wider unions).
        encoder = compile_encoder(schema, header(schema_id))
        if encoder is None:
            encoder = functools.partial(frame, schema_id, parsed)
        writer = (schema, encoder)
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
