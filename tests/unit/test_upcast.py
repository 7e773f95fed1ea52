"""Upcasters: events written with an old version of a schema decode in the newest shape."""

from __future__ import annotations

import io
import json
import struct
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest
from fastavro.validation import validate

from bus.registry.canonical import parse_avro
from bus.registry.compat import CompatibilityLevel, PastVersion, incompatibilities
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from bus.serde.upcast import (
    UpcastError,
    Upcasters,
    default_upcasters,
    fingerprint,
    history_schema,
)
from bus.serde.wire import WireFormatError
from schemas.avro_schemas import load_avro_schema

V1 = history_schema("quarantined_record", 1)
V2 = load_avro_schema("quarantined_record")


class SchemasById(RegistryClient):
    """A registry client that knows a fixed set of schemas by id and never connects."""

    def __init__(self, schemas: dict[int, dict[str, Any]]) -> None:
        super().__init__("http://registry.invalid")
        self._fixed = {i: json.dumps(s) for i, s in schemas.items()}

    async def schema_by_id(self, schema_id: int) -> str:
        return self._fixed[schema_id]


def framed(schema_id: int, schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    buffer.write(struct.pack(">bI", 0, schema_id))
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(schema), record)
    return buffer.getvalue()


def v1_event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "rule": "id.checksum",
        "column": "SFZH",
        "messages": {"zh": "身份证号校验位错误", "en": "identity number check digit is wrong"},
        "department": "gongan",
        "table": "hj_ryxx",
        "record_key": "R7",
        "op": "c",
        "row": {"SFZH": "110105194912310021", "XM": "王芳", "HJDZ": None},
        "source_event_id": "e-7",
        "source": "legacy.gongan.hj_ryxx:2:41",
        "quarantined_at": "2024-05-01T08:30:00.123456+08:00",
    }
    return event | changes


def test_the_v1_quarantine_schema_is_a_breaking_change_that_needs_an_upcaster() -> None:
    problems = incompatibilities(
        parse_avro(json.dumps(V2)), [PastVersion(1, parse_avro(json.dumps(V1)))], CompatibilityLevel.BACKWARD
    )
    assert problems
    assert default_upcasters().chain(V1) is not None
    assert default_upcasters().chain(V2) is None


async def test_v1_events_decode_as_v2_through_the_serde_every_consumer_uses() -> None:
    serde = AvroSerde(SchemasById({1: V1, 2: V2}))
    record = await serde.decode(framed(1, V1, v1_event()))
    assert record == {
        "rule_id": "id.checksum",
        "field": "SFZH",
        "message_zh": "身份证号校验位错误",
        "message_en": "identity number check digit is wrong",
        "department": "gongan",
        "table": "hj_ryxx",
        "record_key": "R7",
        "op": "c",
        "original": {"SFZH": "110105194912310021", "XM": "王芳", "HJDZ": None},
        "source_event_id": "e-7",
        "source_topic": "legacy.gongan.hj_ryxx",
        "source_partition": 2,
        "source_offset": 41,
        "quarantined_at": datetime(2024, 5, 1, 0, 30, 0, 123000, tzinfo=UTC),
    }
    assert validate(record, fastavro.parse_schema(V2), raise_errors=False)
    # Re-encoded as v2 and decoded again it is the same record: the shape v2 readers expect.
    assert await serde.decode(framed(2, V2, record)) == record


async def test_v2_events_are_not_touched() -> None:
    serde = AvroSerde(SchemasById({1: V1, 2: V2}))
    v2 = await serde.decode(framed(1, V1, v1_event()))
    assert await AvroSerde(SchemasById({2: V2}), Upcasters()).decode(framed(2, V2, v2)) == v2


async def test_without_upcasters_the_serde_returns_the_old_shape() -> None:
    serde = AvroSerde(SchemasById({1: V1}), Upcasters())
    assert (await serde.decode(framed(1, V1, v1_event())))["rule"] == "id.checksum"


def test_a_missing_language_falls_back_to_the_other_and_naive_times_are_utc() -> None:
    upcast = default_upcasters().chain(V1)
    assert upcast is not None
    record = upcast(v1_event(messages={"en": "bad"}, quarantined_at="2024-05-01T00:30:00"))
    assert (record["message_zh"], record["message_en"]) == ("bad", "bad")
    assert record["quarantined_at"] == datetime(2024, 5, 1, 0, 30, tzinfo=UTC)


async def test_an_old_record_the_upcaster_cannot_read_is_a_wire_format_error() -> None:
    serde = AvroSerde(SchemasById({1: V1}))
    with pytest.raises(UpcastError) as raised:
        await serde.decode(framed(1, V1, v1_event(source="no position")))
    assert isinstance(raised.value, WireFormatError)
    assert "QuarantinedRecord v1→v2" in str(raised.value)


def record(name: str, *fields: dict[str, Any], doc: str = "") -> dict[str, Any]:
    return {"type": "record", "name": name, "doc": doc, "fields": list(fields)}


def test_upcasters_chain_and_fill_defaults_of_the_newer_schema() -> None:
    v1 = record("E", {"name": "n", "type": "string"})
    v2 = record("E", {"name": "n", "type": "int"})
    v3 = record("E", {"name": "count", "type": "int"}, {"name": "unit", "type": "string", "default": "pcs"})
    upcasters = Upcasters()
    upcasters.add("E v1→v2", v1, v2, lambda r: {"n": int(r["n"])})
    upcasters.add("E v2→v3", v2, v3, lambda r: {"count": r["n"]})
    chain = upcasters.chain(v1)
    assert chain is not None and chain({"n": "4"}) == {"count": 4, "unit": "pcs"}
    assert upcasters.chain(v3) is None and len(upcasters) == 2
    with pytest.raises(ValueError, match="already has an upcaster"):
        upcasters.add("again", v1, v3, lambda r: r)


def test_fingerprints_ignore_docs_and_properties_but_not_the_shape() -> None:
    plain = record("E", {"name": "n", "type": "string"})
    documented = record("E", {"name": "n", "type": "string", "owner": "gongan"}, doc="An E.")
    assert fingerprint(plain) == fingerprint(json.dumps(documented))
    assert fingerprint(plain) != fingerprint(record("E", {"name": "n", "type": "int"}))
